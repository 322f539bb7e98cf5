/* OLMo (OlmoForCausalLM, the first OLMo-1B / 7B in transformers' form): a Llama decoder whose
 * LayerNorms have neither weight nor bias (OlmoLayerNorm, eps 1e-5), q / k / v clamped to
 * [-clip_qkv, clip_qkv] where set (OLMo-7B-0424 / 0724, OLMo-1B-0724).
 * OLMo 2 (Olmo2ForCausalLM) and OLMo 3 (Olmo3ForCausalLM), AllenAI: a Llama decoder whose norms
 * come after the sublayers only (post_attention_layernorm, post_feedforward_layernorm on their
 * outputs, before the residual add) and whose q/k RMSNorm spans the whole projection
 * (n_heads * head_dim). OLMo 3 adds sliding-window layers (layer_types, default three of four;
 * sliding_window default 4096) that take the rotary embedding without rope scaling, the full
 * layers with it. OLMoE (OlmoeForCausalLM, OLMoE-1B-7B): a Llama decoder with pre-norms, the q/k
 * RMSNorm over the whole projection, and experts in every layer (mlp.gate, mlp.experts.%d.*,
 * softmax top-k, renormalised only with norm_topk_prob); clip_qkv is refused. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_olmo(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_ATTN_NORM] = d->wname[W_MLP_NORM] = NULL; /* (no weights to read) */
    d->gname[G_FINAL_NORM] = NULL;
    int ab;
    double clip;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_num(cfg, "clip_qkv", 0, &clip, file)) return -1;
    if (clip < 0) return rl_err("%s: clip_qkv %g must be positive (or null)", file, clip);
    d->clip_qkv = (float)clip;
    d->qkv_bias = d->o_bias = ab;
    d->norm = RL_NORM_LAYER;
    d->norm_eps = 1e-5f;
    d->norm_no_weight = 1;
    return 0;
}

int rl_norm_olmo2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_POST_ATTN_NORM] = "model.layers.%d.post_attention_layernorm.weight";
    d->wname[W_POST_MLP_NORM] = "model.layers.%d.post_feedforward_layernorm.weight";
    d->no_pre_norms = d->post_norms = 1;
    d->qk_norm = d->qk_norm_full = 1;
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    d->qkv_bias = d->o_bias = ab;
    return 0;
}

int rl_norm_olmoe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->qk_norm = d->qk_norm_full = 1;
    int ab;
    const cJSON *clip = rl_json_get(cfg, "clip_qkv");
    if (clip && !cJSON_IsNull(clip)) return rl_err("%s: \"clip_qkv\" (q / k / v clamped) is not supported", file);
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_moe_parse(d, cfg, file, 0, 0)) return -1;
    d->qkv_bias = d->o_bias = ab;
    d->moe_shared_inter = 0;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = 1;
    return 0;
}

int rl_norm_olmo3(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (rl_norm_olmo2(d, cfg, file)) return -1;
    long long w;
    if (rl_json_int(cfg, "sliding_window", 4096, &w, file)) return -1;
    if (rl_family_sliding_layers(d, cfg, file, w, 4)) return -1; /* default: every 4th layer full */
    /* sliding layers: the same rotary embedding without its scaling */
    d->n_ropes = 2;
    d->ropes[1] = d->ropes[0];
    d->ropes[1].scaling = RL_RS_NONE;
    d->ropes[1].factor = 0;
    d->ropes[1].attn_factor = 0;
    for (int l = 0; l < d->n_layers; l++) d->layers[l].rope = d->layers[l].kind == RL_LAYER_SLIDING ? 1 : 0;
    return 0;
}
