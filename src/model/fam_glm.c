/* GLM family normalizers: GLM-4 (Glm4ForCausalLM: four RMSNorms per block), GLM (GlmForCausalLM,
 * GLM-4-9B in HF form), both with q/k/v bias, fused gate_up_proj and partial rotary with
 * interleaved (GPT-J) pairs on the first rotary dims of each head; and ChatGLM 2/3 / GLM-4 in
 * THUDM's original form (ChatGLMModel: transformer.encoder.* names, fused query_key_value with
 * bias, multi_query_group_num kv heads, rotary on half of each head with interleaved pairs,
 * fused SwiGLU dense_h_to_4h, padded_vocab_size; the stored rotary_pos_emb.inv_freq buffer is
 * never read, as HF's forward recomputes it). Also the generic-key alias table config.c uses. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

const char *rl_family_key_alias(const char *family, const char *key) {
    static const char *const T[][3] = {
        {"chatglm", "num_hidden_layers", "num_layers"},
        {"chatglm", "intermediate_size", "ffn_hidden_size"},
        {"chatglm", "vocab_size", "padded_vocab_size"},
        {"qwen3_5_moe", "intermediate_size", "moe_intermediate_size"}, /* every layer MoE (fam_moe.c) */
        {"mamba2", "num_attention_heads", "num_heads"}, /* no attention, no MLP (fam_nemotron_h.c): placeholders */
        {"mamba2", "intermediate_size", "hidden_size"},
        {"mamba", "intermediate_size", "hidden_size"}, /* Mamba-1: no MLP (fam_mamba.c): a placeholder */
        {"falcon_mamba", "intermediate_size", "hidden_size"},
        {"lfm2", "intermediate_size", "block_ff_dim"}, /* LFM2's original key (fam_lfm2.c) */
        {"exaone", "num_hidden_layers", "num_layers"}, /* EXAONE 3.x (fam_exaone.c) */
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (!strcmp(T[i][0], family) && !strcmp(T[i][1], key)) return T[i][2];
    return NULL;
}

static void glm_names(rl_model_desc *d) {
    rl_family_llama_names(d);
    d->wname[W_GATE_UP] = "model.layers.%d.mlp.gate_up_proj.weight";
}

/* GLM (HF): attention_bias on q/k/v only; partial rotary (config.c read partial_rotary_factor)
 * with interleaved pairs. */
int rl_norm_glm(rl_model_desc *d, const cJSON *cfg, const char *file) {
    glm_names(d);
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    d->qkv_bias = ab;
    d->ropes[0].pairing = RL_ROPE_GPTJ;
    return 0;
}

/* GLM-4: as GLM, plus post_self_attn_layernorm and post_mlp_layernorm around the residual adds. */
int rl_norm_glm4(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (rl_norm_glm(d, cfg, file)) return -1;
    d->post_norms = 1;
    d->wname[W_POST_ATTN_NORM] = "model.layers.%d.post_self_attn_layernorm.weight";
    d->wname[W_POST_MLP_NORM] = "model.layers.%d.post_mlp_layernorm.weight";
    return 0;
}

static int cfg_flag(const cJSON *cfg, const char *key, int def, int want, const char *what, const char *file) {
    int v;
    if (rl_json_bool(cfg, key, def, &v, file)) return -1;
    if (v != want) return rl_err("%s: \"%s\": %s is not supported", file, key, what);
    return 0;
}

int rl_norm_chatglm(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "transformer.encoder.layers.%d.input_layernorm.weight";
    d->wname[W_QKV] = "transformer.encoder.layers.%d.self_attention.query_key_value.weight";
    d->wname[W_QKV_B] = "transformer.encoder.layers.%d.self_attention.query_key_value.bias";
    d->wname[W_O] = "transformer.encoder.layers.%d.self_attention.dense.weight";
    d->wname[W_MLP_NORM] = "transformer.encoder.layers.%d.post_attention_layernorm.weight";
    d->wname[W_GATE_UP] = "transformer.encoder.layers.%d.mlp.dense_h_to_4h.weight";
    d->wname[W_DOWN] = "transformer.encoder.layers.%d.mlp.dense_4h_to_h.weight";
    d->gname[G_EMBED] = "transformer.embedding.word_embeddings.weight";
    d->gname[G_FINAL_NORM] = "transformer.encoder.final_layernorm.weight";
    d->gname[G_LM_HEAD] = "transformer.output_layer.weight";

    if (cfg_flag(cfg, "rmsnorm", 1, 1, "false (LayerNorm ChatGLM) ", file) ||
        cfg_flag(cfg, "post_layer_norm", 1, 1, "false (no final norm)", file) ||
        cfg_flag(cfg, "apply_residual_connection_post_layernorm", 0, 0, "true (residual from the normed input)", file) ||
        cfg_flag(cfg, "add_bias_linear", 0, 0, "true (biases on dense / MLP projections)", file)) return -1;
    int qb, mqa;
    long long v;
    double eps, ratio;
    if (rl_json_bool(cfg, "add_qkv_bias", 0, &qb, file) || rl_json_bool(cfg, "multi_query_attention", 0, &mqa, file) ||
        rl_json_num(cfg, "layernorm_epsilon", 1e-5, &eps, file) || rl_json_num(cfg, "rope_ratio", 1.0, &ratio, file)) return -1;
    d->qkv_bias = qb;
    d->norm_eps = (float)eps;
    if (mqa) {
        if (rl_json_int(cfg, "multi_query_group_num", 1, &v, file)) return -1;
        if (v <= 0 || d->n_heads % v) return rl_err("%s: multi_query_group_num %lld must divide num_attention_heads %d", file, v, d->n_heads);
        d->n_kv_heads = (int)v;
    } else {
        d->n_kv_heads = d->n_heads;
    }
    if (rl_json_int(cfg, "kv_channels", d->hidden / d->n_heads, &v, file)) return -1;
    if (v <= 0 || v > 4096 || v % 4) return rl_err("%s: kv_channels %lld is invalid", file, v);
    d->head_dim = (int)v;
    d->attn_scale = 1.0f / sqrtf((float)d->head_dim);
    if (rl_json_int(cfg, "padded_vocab_size", d->vocab, &v, file)) return -1;
    if (v <= 0 || v > (1ll << 31) - 1) return rl_err("%s: padded_vocab_size %lld is invalid", file, v);
    d->vocab = (int)v;
    if (rl_json_int(cfg, "seq_length", d->max_pos, &v, file)) return -1;
    if (v > 0 && v < (1ll << 30)) d->max_pos = (int)v;
    /* RotaryEmbedding(kv_channels // 2): base 10000 * rope_ratio, inverse frequencies over
     * head_dim/2 dims, applied to the first head_dim/2 dims of each head as interleaved pairs */
    rl_rope *r = &d->ropes[0];
    memset(r, 0, sizeof *r);
    r->theta = 10000.0 * ratio;
    r->rot_dims = d->head_dim / 2;
    r->pairing = RL_ROPE_GPTJ;
    r->scaling = RL_RS_NONE;
    r->factor = 1.0;
    r->max_pos = d->max_pos;
    return 0;
}
