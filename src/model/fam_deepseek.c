/* MLA families: DeepSeek-V2 / V3 (multi-head latent attention, yarn with mscale on the softmax
 * scale, MoE with shared experts and dense first layers), DeepSeek-V3.2 and GLM-5 (glm_moe_dsa):
 * MLA with the DSA lightning indexer. The attention itself is src/engine/mla.c. */
#include "model/fam_moe.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

static int req_pos(const cJSON *cfg, const char *key, int def, int *out, const char *file) {
    long long v;
    if (rl_json_int(cfg, key, def, &v, file)) return -1;
    if (v <= 0 || v > 65536) return rl_err("%s: \"%s\" = %lld is missing or out of range", file, key, v);
    *out = (int)v;
    return 0;
}

static int mla_common(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->wname[W_MLA_Q_A] = "model.layers.%d.self_attn.q_a_proj.weight";
    d->wname[W_MLA_Q_A_NORM] = "model.layers.%d.self_attn.q_a_layernorm.weight";
    d->wname[W_MLA_Q_B] = "model.layers.%d.self_attn.q_b_proj.weight";
    d->wname[W_MLA_KV_A] = "model.layers.%d.self_attn.kv_a_proj_with_mqa.weight";
    d->wname[W_MLA_KV_A_NORM] = "model.layers.%d.self_attn.kv_a_layernorm.weight";
    d->wname[W_MLA_KV_B] = "model.layers.%d.self_attn.kv_b_proj.weight";
    d->mla = 1;
    long long ql;
    if (rl_json_int(cfg, "q_lora_rank", 0, &ql, file)) return -1;
    if (ql < 0 || ql > 65536) return rl_err("%s: q_lora_rank %lld is out of range", file, ql);
    d->q_lora_rank = (int)ql;
    if (req_pos(cfg, "kv_lora_rank", 0, &d->kv_lora_rank, file) || req_pos(cfg, "qk_nope_head_dim", 0, &d->qk_nope_dim, file) ||
        req_pos(cfg, "qk_rope_head_dim", 0, &d->qk_rope_dim, file) || req_pos(cfg, "v_head_dim", 0, &d->v_head_dim, file)) return -1;
    if (d->qk_rope_dim % 2) return rl_err("%s: qk_rope_head_dim must be even", file);
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    if (ab) return rl_err("%s: attention_bias true is not supported for MLA attention", file);
    /* the engine's cache holds expanded keys (heads x (nope+rope)) and values (heads x v_head) */
    d->head_dim = d->qk_nope_dim + d->qk_rope_dim;
    d->n_kv_heads = d->n_heads;
    if (d->v_head_dim > d->head_dim) return rl_err("%s: v_head_dim %d > qk head dim %d is not supported", file, d->v_head_dim, d->head_dim);
    int inter;
    if (rl_json_bool(cfg, "rope_interleave", 1, &inter, file)) return -1;
    d->ropes[0].rot_dims = d->qk_rope_dim;
    d->ropes[0].pairing = inter ? RL_ROPE_GPTJ : RL_ROPE_NEOX;
    if (d->ropes[0].scaling == RL_RS_LONGROPE) return rl_err("%s: longrope scaling is not supported with MLA", file);
    /* softmax scale: 1/sqrt(qk head dim), times mscale^2 under yarn with mscale_all_dim */
    double s = 1.0 / sqrt((double)d->head_dim);
    const rl_rope *r = &d->ropes[0];
    if (r->scaling == RL_RS_YARN && r->mscale_all_dim != 0 && r->factor > 1) {
        double m = 0.1 * r->mscale_all_dim * log(r->factor) + 1.0;
        s *= m * m;
    }
    d->attn_scale = (float)s;
    if (rl_json_get(cfg, "n_routed_experts") || rl_json_get(cfg, "num_experts")) {
        if (rl_moe_parse(d, cfg, file, 0, 0) || rl_moe_mark_layers(d, cfg, file)) return -1;
    }
    return 0;
}

int rl_norm_deepseek(rl_model_desc *d, const cJSON *cfg, const char *file) {
    return mla_common(d, cfg, file);
}

/* The DSA lightning indexer (index_n_heads x index_head_dim, top index_topk keys per query) of
 * DeepSeek-V3.2 and GLM-5: its rotary pairs half-split (inter 0: DeepSeek-V3.2, whose main
 * attention is interleaved) or interleaved (GLM-5's indexer_rope_interleave, by default as its
 * main attention). */
static int dsa_indexer(rl_model_desc *d, const cJSON *cfg, const char *file, int inter) {
    if (d->q_lora_rank <= 0) return rl_err("%s: the DSA indexer needs q_lora_rank", file);
    if (req_pos(cfg, "index_n_heads", 0, &d->idx_heads, file) || req_pos(cfg, "index_head_dim", 0, &d->idx_head_dim, file) ||
        req_pos(cfg, "index_topk", 0, &d->idx_topk, file)) return -1;
    if (d->idx_head_dim < d->qk_rope_dim) return rl_err("%s: index_head_dim < qk_rope_head_dim", file);
    d->idx_pairing = inter ? RL_ROPE_GPTJ : RL_ROPE_NEOX;
    d->wname[W_IDX_Q_B] = "model.layers.%d.self_attn.indexer.wq_b.weight";
    d->wname[W_IDX_K] = "model.layers.%d.self_attn.indexer.wk.weight";
    d->wname[W_IDX_K_NORM] = "model.layers.%d.self_attn.indexer.k_norm.weight";
    d->wname[W_IDX_K_NORM_B] = "model.layers.%d.self_attn.indexer.k_norm.bias";
    d->wname[W_IDX_W] = "model.layers.%d.self_attn.indexer.weights_proj.weight";
    return 0;
}

/* GLM-5: MLA + the DSA indexer (indexer_types "full" only: shared top-k is refused). */
int rl_norm_glm_moe_dsa(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (mla_common(d, cfg, file)) return -1;
    int inter;
    if (rl_json_bool(cfg, "indexer_rope_interleave", d->ropes[0].pairing == RL_ROPE_GPTJ, &inter, file)) return -1;
    const cJSON *it = rl_json_get(cfg, "indexer_types"), *v;
    cJSON_ArrayForEach(v, it)
        if (cJSON_IsString(v) && strcmp(v->valuestring, "full"))
            return rl_err("%s: indexer_types \"%s\" is not supported (only \"full\")", file, v->valuestring);
    return dsa_indexer(d, cfg, file, inter);
}

/* DeepSeek-V3.2 (DeepseekV32ForCausalLM): DeepSeek-V3 plus the DSA indexer, whose rotary part is
 * half-split (transformers' DeepseekV32Indexer) while the main attention is interleaved. */
int rl_norm_deepseek_v32(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (mla_common(d, cfg, file)) return -1;
    return dsa_indexer(d, cfg, file, 0);
}
