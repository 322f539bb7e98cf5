/* Cohere Command R / R7B / A: CohereForCausalLM and Cohere2ForCausalLM. One LayerNorm without
 * bias (layer_norm_eps) feeds attention and the MLP side by side (x += attn(n(x)) + mlp(n(x))),
 * rotary pairs interleaved (2i, 2i+1), SiLU-gated MLP, tied embeddings, logits x logit_scale.
 * Cohere 2: sliding-window layers (layer_types, or every sliding_window_pattern-th layer full)
 * with rotary embeddings, the full layers without (NoPE). Command R+'s per-head q/k LayerNorms
 * (use_qk_norm) are refused. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_cohere(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_MLP_NORM] = NULL;
    int qkn, ab;
    double eps, ls;
    if (rl_json_bool(cfg, "use_qk_norm", 0, &qkn, file) || rl_json_bool(cfg, "attention_bias", 0, &ab, file) ||
        rl_json_num(cfg, "layer_norm_eps", 1e-5, &eps, file) || rl_json_num(cfg, "logit_scale", 0.0625, &ls, file)) return -1;
    if (qkn) return rl_err("%s: \"use_qk_norm\": true (Command R+'s per-head q/k LayerNorms) is not supported yet", file);
    if (!(ls > 0)) return rl_err("%s: logit_scale %g must be positive", file, ls);
    d->norm = RL_NORM_LAYER;
    d->norm_eps = (float)eps;
    d->wname[W_ATTN_NORM_B] = NULL; /* LayerNorms without bias */
    d->parallel_block = 1;
    d->qkv_bias = d->o_bias = ab;
    d->logit_div = (float)(1.0 / ls);
    d->ropes[0].pairing = RL_ROPE_GPTJ;
    return 0;
}

int rl_norm_cohere2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (rl_norm_cohere(d, cfg, file)) return -1;
    long long w, every;
    if (rl_json_int(cfg, "sliding_window", 4096, &w, file) || rl_json_int(cfg, "sliding_window_pattern", 4, &every, file)) return -1;
    if (!rl_json_get(cfg, "layer_types") && every <= 0) return rl_err("%s: sliding_window_pattern must be positive", file);
    if (rl_family_sliding_layers(d, cfg, file, w, every)) return -1;
    d->n_ropes = 2; /* full layers: no rotary embedding */
    d->ropes[1] = d->ropes[0];
    d->ropes[1].pairing = RL_ROPE_NONE;
    for (int l = 0; l < d->n_layers; l++) d->layers[l].rope = d->layers[l].kind == RL_LAYER_SLIDING ? 0 : 1;
    return 0;
}
