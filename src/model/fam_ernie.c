/* ERNIE 4.5 (Ernie4_5ForCausalLM, Baidu's ERNIE-4.5-0.3B) and ERNIE 4.5 MoE
 * (Ernie4_5_MoeForCausalLM, ERNIE-4.5-21B-A3B / 300B-A47B): a Llama decoder whose rotary
 * embeddings rotate interleaved pairs (GLM's rotate_half: pairs (2i, 2i+1), over the whole
 * head_dim), use_bias on every projection (refused: the released models have none). MoE: on the
 * layers l with (l + 1) % moe_layer_interval == 0 and moe_layer_start_index <= l <=
 * moe_layer_end_index (-1: the last), softmax scores with moe_statics.e_score_correction_bias
 * steering the choice only, the top-k weights renormalised (sum clamped to moe_norm_min), plus
 * moe_num_shared_experts ungated shared experts of moe_intermediate_size each. */
#include "model/fam_ernie.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

static int ernie_common(rl_model_desc *d, const cJSON *cfg, const char *file) {
    int ub;
    if (rl_json_bool(cfg, "use_bias", 0, &ub, file)) return -1;
    if (ub) return rl_err("%s: \"use_bias\" true (biases on every projection) is not supported", file);
    for (int i = 0; i < d->n_ropes; i++) d->ropes[i].pairing = RL_ROPE_GPTJ; /* interleaved pairs */
    return 0;
}

int rl_norm_ernie4_5(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    return ernie_common(d, cfg, file);
}

int rl_norm_ernie4_5_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 0);
    d->wname[W_MOE_ROUTER_BIAS] = "model.layers.%d.mlp.moe_statics.e_score_correction_bias"; /* [1, E] */
    long long E, k, mi, sh, start, end, step;
    double nmin;
    if (rl_json_int(cfg, "moe_num_experts", 64, &E, file) || rl_json_int(cfg, "moe_k", 6, &k, file) ||
        rl_json_int(cfg, "moe_intermediate_size", 1536, &mi, file) || rl_json_int(cfg, "moe_num_shared_experts", 2, &sh, file) ||
        rl_json_int(cfg, "moe_layer_start_index", 1, &start, file) || rl_json_int(cfg, "moe_layer_end_index", -1, &end, file) ||
        rl_json_int(cfg, "moe_layer_interval", 1, &step, file) || rl_json_num(cfg, "moe_norm_min", 1e-12, &nmin, file)) return -1;
    if (E < 1 || E > 4096) return rl_err("%s: moe_num_experts %lld is out of range (1..4096)", file, E);
    if (k < 1 || k > E) return rl_err("%s: moe_k %lld must be in 1..%lld", file, k, E);
    if (mi < 1 || mi > (1ll << 24)) return rl_err("%s: moe_intermediate_size %lld is invalid", file, mi);
    if (sh < 0 || sh > 64) return rl_err("%s: moe_num_shared_experts %lld is invalid", file, sh);
    if (step < 1) return rl_err("%s: moe_layer_interval %lld must be positive", file, step);
    if (!(nmin >= 0 && nmin <= 1e-6)) return rl_err("%s: moe_norm_min %g is not supported (at most 1e-6)", file, nmin);
    if (end == -1) end = d->n_layers - 1;
    d->n_experts = (int)E;
    d->n_experts_used = (int)k;
    d->moe_inter = (int)mi;
    d->moe_shared_inter = (int)(sh * mi); /* ungated, summed */
    d->moe_norm_topk = 1;
    d->moe_scale = 1.0f;
    d->moe_bias = 1; /* softmax scores + correction bias for the choice */
    d->moe_n_group = d->moe_topk_group = 1;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = (l + 1) % step == 0 && l >= start && l <= end;
    return ernie_common(d, cfg, file);
}
