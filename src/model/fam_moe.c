/* MoE families on standard attention: Mixtral, Qwen2-MoE, Qwen3-MoE, GLM-4.5 (glm4_moe),
 * EXAONE-MoE. Each is the shared MoE parse (moe_config.c) plus its names and attention flags. */
#include "model/fam_moe.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "model/fam_qwen35.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

static void set_window_all(rl_model_desc *d, long long w, int from) {
    if (w > 0)
        for (int l = from; l < d->n_layers; l++) { d->layers[l].kind = RL_LAYER_SLIDING; d->layers[l].window = (int)w; }
}

/* Mixtral: block_sparse_moe with w1 (gate), w3 (up), w2 (down); softmax top-k, always renormalised. */
int rl_norm_mixtral(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->wname[W_MOE_ROUTER] = "model.layers.%d.block_sparse_moe.gate.weight";
    d->ename[0] = "model.layers.%d.block_sparse_moe.experts.%d.w1.weight";
    d->ename[1] = "model.layers.%d.block_sparse_moe.experts.%d.w3.weight";
    d->ename[2] = "model.layers.%d.block_sparse_moe.experts.%d.w2.weight";
    if (rl_moe_parse(d, cfg, file, 1, 0)) return -1;
    d->moe_norm_topk = 1;
    d->moe_shared_inter = 0;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = 1;
    long long w;
    if (rl_json_int(cfg, "sliding_window", 0, &w, file)) return -1;
    set_window_all(d, w, 0);
    return 0;
}

/* MiniMax-M2 (MiniMaxM2ForCausalLM, MiniMax-M2 / M2.1, 230B-A10B): Mixtral's block_sparse_moe names
 * with sigmoid scores, e_score_correction_bias steering the choice (use_routing_bias), the top-k
 * always renormalised and not scaled (transformers' MiniMaxM2TopKRouter); RMSNorm over the whole q
 * and k projections before the rotary embeddings (use_qk_norm, qk_norm_type per_layer), which
 * rotate NeoX pairs over the first rotary_dim of head_dim (or partial_rotary_factor); no sliding
 * window; the MTP modules are not run. */
int rl_norm_minimax_m2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->wname[W_MOE_ROUTER] = "model.layers.%d.block_sparse_moe.gate.weight";
    d->wname[W_MOE_ROUTER_BIAS] = "model.layers.%d.block_sparse_moe.e_score_correction_bias";
    d->ename[0] = "model.layers.%d.block_sparse_moe.experts.%d.w1.weight";
    d->ename[1] = "model.layers.%d.block_sparse_moe.experts.%d.w3.weight";
    d->ename[2] = "model.layers.%d.block_sparse_moe.experts.%d.w2.weight";
    int qkn, rb;
    const char *qt;
    long long rd = 0;
    if (rl_moe_parse(d, cfg, file, 1, 1) || rl_json_bool(cfg, "use_qk_norm", 1, &qkn, file) ||
        rl_json_str(cfg, "qk_norm_type", "per_layer", &qt, file) || rl_json_bool(cfg, "use_routing_bias", 1, &rb, file) ||
        rl_json_int(cfg, "rotary_dim", 0, &rd, file)) return -1;
    if (strcmp(qt, "per_layer")) return rl_err("%s: qk_norm_type \"%s\" is not supported (per_layer: over the whole projection)", file, qt);
    if (!d->moe_sigmoid) return rl_err("%s: MiniMax-M2 routes with sigmoid scores (scoring_func sigmoid)", file);
    const cJSON *atl = rl_json_get(cfg, "attn_type_list"), *v; /* (MiniMax-01's lightning attention: 0) */
    if (atl && !cJSON_IsArray(atl)) return rl_err("%s: \"attn_type_list\" must be a list", file);
    cJSON_ArrayForEach(v, atl)
        if (!cJSON_IsNumber(v) || v->valuedouble != 1) return rl_err("%s: \"attn_type_list\": only softmax attention layers (1) are supported", file);
    d->qk_norm = d->qk_norm_full = qkn;
    d->moe_bias = rb;
    d->moe_norm_topk = 1;
    d->moe_scale = 1.0f; /* (transformers: no routed scale) */
    d->moe_shared_inter = 0;
    d->moe_n_group = d->moe_topk_group = 1;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = 1;
    const cJSON *rp = rl_json_get(cfg, "rope_parameters");
    if (rd && !rl_json_get(cfg, "partial_rotary_factor") && !(rp && rl_json_get(rp, "partial_rotary_factor"))) { /* the original key */
        if (rd < 2 || rd > d->head_dim || rd % 2) return rl_err("%s: rotary_dim %lld must be even and at most head_dim %d", file, rd, d->head_dim);
        d->ropes[0].rot_dims = (int)rd;
        if (rl_rope_parse(cfg, NULL, &d->ropes[0], d->max_pos, file)) return -1; /* (its scaling over the new dims) */
    }
    return 0;
}

/* dots.llm1 (Dots1ForCausalLM, rednote-hilab): Qwen3's attention (per-head q / k RMSNorm,
 * attention_bias) with DeepSeek-V3's experts (sigmoid scores with mlp.gate.e_score_correction_bias
 * for the choice, group-limited top-k, norm_topk_prob (default false), routed_scaling_factor, ungated
 * shared experts, first_k_dense_replace dense layers); sliding layers from max_window_layers (default
 * 62) when sliding_window (default 4096, null: none) is set, or as layer_types says. */
int rl_norm_dots1(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    int ab;
    long long w = 4096, mwl;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cfg, "sliding_window"); /* (null: none; absent: 4096) */
    if (sw && cJSON_IsNull(sw)) w = 0;
    else if (rl_json_int(cfg, "sliding_window", 4096, &w, file)) return -1;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_int(cfg, "max_window_layers", 62, &mwl, file) ||
        rl_moe_parse(d, cfg, file, 0, 1) || rl_moe_mark_layers(d, cfg, file)) return -1;
    d->qk_norm = 1;
    d->qkv_bias = d->o_bias = ab;
    if (rl_json_get(cfg, "layer_types")) return rl_family_sliding_layers(d, cfg, file, w, 0);
    set_window_all(d, w, mwl < d->n_layers ? (int)mwl : d->n_layers);
    return 0;
}

/* Qwen2-MoE / Qwen3-MoE: llama names, the Qwen MoE block (moe_config.c), Qwen2's sliding rule. */
static int qwen_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    if (rl_moe_setup_qwen(d, cfg, file, 0, 0)) return -1;
    int use_sw;
    long long w, mwl;
    if (rl_json_bool(cfg, "use_sliding_window", 0, &use_sw, file) || rl_json_int(cfg, "sliding_window", 0, &w, file) ||
        rl_json_int(cfg, "max_window_layers", d->n_layers, &mwl, file)) return -1;
    if (use_sw) set_window_all(d, w, (int)mwl);
    return 0;
}

int rl_norm_qwen2_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (qwen_moe(d, cfg, file)) return -1;
    d->qkv_bias = 1;
    return 0;
}

int rl_norm_qwen3_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (qwen_moe(d, cfg, file)) return -1;
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    d->qkv_bias = d->o_bias = ab;
    d->qk_norm = 1;
    return 0;
}

/* Qwen3-VL-MoE's text model (the mm_text family runs it): Qwen3-MoE attention (q/k norm) with
 * fused experts stored as transformers' grouped-GEMM layout, gate_up_proj [E, hidden, 2I] (gate
 * columns, then up) and down_proj [E, I, hidden]; top-k always renormalised. */
int rl_norm_qwen3_vl_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 1);
    if (rl_moe_setup_qwen(d, cfg, file, 1, 1)) return -1;
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    d->qkv_bias = d->o_bias = ab;
    d->qk_norm = 1;
    d->moe_transposed = 1;
    return 0;
}

/* GLM-4.5 / 4.6 (glm4_moe): q/k/v bias (attention_bias), optional q/k norm, partial NeoX rope
 * (config.c), sigmoid noaux_tc routing, first_k_dense_replace dense layers. */
int rl_norm_glm4_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    if (rl_moe_parse(d, cfg, file, 1, 1) || rl_moe_mark_layers(d, cfg, file)) return -1;
    int ab, qkn;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "use_qk_norm", 0, &qkn, file)) return -1;
    d->qkv_bias = ab;
    d->qk_norm = qkn;
    return 0;
}

/* EXAONE-MoE (K-EXAONE): q/k RMSNorm, sliding layers with RoPE and global layers without
 * (NoPE) when a sliding window is set (fam_exaone.c), DeepSeek-V3 style routing with the
 * correction bias at mlp.e_score_correction_bias. */
int rl_norm_exaone_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->wname[W_MOE_ROUTER_BIAS] = "model.layers.%d.mlp.e_score_correction_bias";
    if (rl_moe_parse(d, cfg, file, 1, 1) || rl_moe_mark_layers(d, cfg, file)) return -1;
    d->qk_norm = 1;
    return rl_exaone_layers(d, cfg, file, 1);
}

/* Qwen3.5-MoE (text): the Qwen3.5 hybrid stack (fam_qwen35.c) with the Qwen MoE block in every
 * layer: fused experts, top-k renormalised by default, sigmoid-gated shared expert. */
int rl_norm_qwen35_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (rl_norm_qwen35(d, cfg, file)) return -1;
    return rl_moe_setup_qwen(d, cfg, file, 1, 1);
}

/* Qwen3-Next: the same hybrid stack with in_proj_qkvz / in_proj_ba fused per key-head group
 * (split by the Gated DeltaNet, deltanet.c) and the Qwen2-MoE block of per-expert tensors
 * (decoder_sparse_step, mlp_only_layers; top-k renormalised by default). */
int rl_norm_qwen3_next(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (rl_norm_qwen35(d, cfg, file)) return -1;
    rl_qwen3_next_names(d);
    return rl_moe_setup_qwen(d, cfg, file, 0, 1);
}
