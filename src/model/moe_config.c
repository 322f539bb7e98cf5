/* MoE / MLA config keys and name maps shared by the MoE families (see moe_config.h). */
#include "model/moe_config.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <stdio.h>
#include <string.h>

static int get_int(const cJSON *c, const char *key, long long def, long long *v, const char *file) {
    return rl_json_int(c, key, def, v, file);
}

int rl_moe_parse(rl_model_desc *d, const cJSON *cfg, const char *file, int norm_def, int sig_def) {
    long long E = 0, k, mi, g, tg, sh = 0, shi = 0;
    const char *keys[] = {"num_local_experts", "num_experts", "n_routed_experts"};
    for (int i = 0; i < 3 && E == 0; i++) if (get_int(cfg, keys[i], 0, &E, file)) return -1;
    if (E <= 0 || E > 4096) return rl_err("%s: MoE model needs num_experts / num_local_experts / n_routed_experts in 1..4096", file);
    if (get_int(cfg, "num_experts_per_tok", 0, &k, file)) return -1;
    if (k <= 0 || k > E) return rl_err("%s: num_experts_per_tok %lld must be in 1..%lld", file, k, E);
    if (get_int(cfg, "moe_intermediate_size", d->intermediate, &mi, file)) return -1;
    if (mi <= 0 || mi > (1ll << 24)) return rl_err("%s: moe_intermediate_size %lld is invalid", file, mi);
    int norm;
    double scale;
    if (rl_json_bool(cfg, "norm_topk_prob", norm_def, &norm, file) ||
        rl_json_num(cfg, "routed_scaling_factor", 1.0, &scale, file) ||
        get_int(cfg, "n_group", 1, &g, file) || get_int(cfg, "topk_group", 1, &tg, file)) return -1;
    if (g <= 0 || E % g) return rl_err("%s: n_group %lld must divide the %lld experts", file, g, E);
    if (tg <= 0 || tg > g) return rl_err("%s: topk_group %lld must be in 1..n_group %lld", file, tg, g);
    if (k > tg * (E / g)) return rl_err("%s: top-%lld experts do not fit in %lld groups of %lld", file, k, tg, E / g);
    if (g > 1 && E / g < 2) return rl_err("%s: group-limited routing needs at least 2 experts per group", file);
    const char *sf, *tm;
    if (rl_json_str(cfg, "scoring_func", sig_def ? "sigmoid" : "softmax", &sf, file) ||
        rl_json_str(cfg, "topk_method", sig_def ? "noaux_tc" : "greedy", &tm, file)) return -1;
    if (!strcmp(sf, "softmax")) d->moe_sigmoid = 0;
    else if (!strcmp(sf, "sigmoid")) d->moe_sigmoid = 1;
    else return rl_err("%s: unsupported scoring_func \"%s\" (supported: softmax, sigmoid)", file, sf);
    if (!strcmp(tm, "noaux_tc")) { d->moe_bias = 1; d->moe_group_top2 = 1; }
    else if (!strcmp(tm, "greedy") || !strcmp(tm, "group_limited_greedy")) { d->moe_bias = 0; d->moe_group_top2 = 0; }
    else return rl_err("%s: unsupported topk_method \"%s\" (supported: greedy, group_limited_greedy, noaux_tc)", file, tm);
    if (!strcmp(tm, "greedy")) g = tg = 1;
    if (get_int(cfg, "shared_expert_intermediate_size", 0, &shi, file)) return -1;
    if (shi > 0) d->moe_shared_gate = 1;
    else {
        if (get_int(cfg, "n_shared_experts", 0, &sh, file)) return -1;
        if (sh == 0 && get_int(cfg, "num_shared_experts", 0, &sh, file)) return -1;
        if (sh < 0 || sh > 64) return rl_err("%s: n_shared_experts %lld is invalid", file, sh);
        shi = sh * mi;
    }
    d->n_experts = (int)E;
    d->n_experts_used = (int)k;
    d->moe_inter = (int)mi;
    d->moe_shared_inter = (int)shi;
    d->moe_norm_topk = norm;
    d->moe_scale = (float)scale;
    d->moe_n_group = (int)g;
    d->moe_topk_group = (int)tg;
    return 0;
}

int rl_moe_mark_layers(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *a = rl_json_get(cfg, "mlp_layer_types"), *b = rl_json_get(cfg, "is_moe_layer");
    if (a || b) {
        const cJSON *arr = a ? a : b;
        const char *key = a ? "mlp_layer_types" : "is_moe_layer";
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != d->n_layers)
            return rl_err("%s: \"%s\" must be a list of %d entries", file, key, d->n_layers);
        for (int l = 0; l < d->n_layers; l++) {
            const cJSON *v = cJSON_GetArrayItem(arr, l);
            if (a && cJSON_IsString(v) && !strcmp(v->valuestring, "sparse")) d->layer_moe[l] = 1;
            else if (a && cJSON_IsString(v) && !strcmp(v->valuestring, "dense")) d->layer_moe[l] = 0;
            else if (!a && cJSON_IsBool(v)) d->layer_moe[l] = cJSON_IsTrue(v) ? 1 : 0;
            else return rl_err("%s: \"%s\"[%d] must be %s", file, key, l, a ? "\"dense\" or \"sparse\"" : "a boolean");
        }
        return 0;
    }
    long long k = 0, freq;
    if (get_int(cfg, "first_k_dense_replace", 0, &k, file)) return -1;
    if (k == 0 && get_int(cfg, "first_last_k_dense_replace", 0, &k, file)) return -1;
    if (get_int(cfg, "moe_layer_freq", 1, &freq, file)) return -1;
    if (k < 0 || freq <= 0) return rl_err("%s: first_k_dense_replace / moe_layer_freq out of range", file);
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = l >= k && l % freq == 0;
    return 0;
}

static void moe_names_only(rl_model_desc *d, int fused);

void rl_moe_names_llama(rl_model_desc *d, int fused) {
    rl_family_llama_names(d);
    moe_names_only(d, fused);
}

/* Router, correction bias, DeepSeek-style shared experts and routed experts names. */
static void moe_names_only(rl_model_desc *d, int fused) {
    d->wname[W_MOE_ROUTER] = "model.layers.%d.mlp.gate.weight";
    d->wname[W_MOE_ROUTER_BIAS] = "model.layers.%d.mlp.gate.e_score_correction_bias";
    d->wname[W_SHX_GATE] = "model.layers.%d.mlp.shared_experts.gate_proj.weight";
    d->wname[W_SHX_UP] = "model.layers.%d.mlp.shared_experts.up_proj.weight";
    d->wname[W_SHX_DOWN] = "model.layers.%d.mlp.shared_experts.down_proj.weight";
    d->moe_fused = fused;
    if (fused) {
        d->ename[0] = "model.layers.%d.mlp.experts.gate_up_proj";
        d->ename[1] = NULL;
        d->ename[2] = "model.layers.%d.mlp.experts.down_proj";
    } else {
        d->ename[0] = "model.layers.%d.mlp.experts.%d.gate_proj.weight";
        d->ename[1] = "model.layers.%d.mlp.experts.%d.up_proj.weight";
        d->ename[2] = "model.layers.%d.mlp.experts.%d.down_proj.weight";
    }
}

int rl_moe_setup_qwen(rl_model_desc *d, const cJSON *cfg, const char *file, int fused, int norm_def) {
    moe_names_only(d, fused);
    d->wname[W_SHX_GATE] = "model.layers.%d.mlp.shared_expert.gate_proj.weight";
    d->wname[W_SHX_UP] = "model.layers.%d.mlp.shared_expert.up_proj.weight";
    d->wname[W_SHX_DOWN] = "model.layers.%d.mlp.shared_expert.down_proj.weight";
    d->wname[W_SHX_GATE_W] = "model.layers.%d.mlp.shared_expert_gate.weight";
    if (rl_moe_parse(d, cfg, file, norm_def, 0)) return -1;
    long long step;
    if (rl_json_int(cfg, "decoder_sparse_step", 1, &step, file)) return -1;
    if (step <= 0) return rl_err("%s: decoder_sparse_step must be positive", file);
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = (l + 1) % step == 0;
    const cJSON *only = rl_json_get(cfg, "mlp_only_layers"), *v;
    if (only && !cJSON_IsArray(only)) return rl_err("%s: \"mlp_only_layers\" must be a list", file);
    cJSON_ArrayForEach(v, only) {
        if (!cJSON_IsNumber(v)) return rl_err("%s: \"mlp_only_layers\" holds a non-number", file);
        double x = v->valuedouble;   /* compared as a double: a huge value does not fit an int */
        if (x >= 0 && x < d->n_layers) d->layer_moe[(int)x] = 0;
    }
    return 0;
}

void rl_moe_describe(const rl_model_desc *d, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    if (d->mla) {
        int w = snprintf(buf, cap, "MLA kv_lora_rank %d, q_lora_rank %d, qk_nope %d + qk_rope %d, v_head %d%s",
                         d->kv_lora_rank, d->q_lora_rank, d->qk_nope_dim, d->qk_rope_dim, d->v_head_dim,
                         d->idx_heads ? "" : "; ");
        if (w < 0 || (size_t)w >= cap) return;
        n = (size_t)w;
        if (d->idx_heads) {
            w = snprintf(buf + n, cap - n, ", DSA indexer %d heads x %d, top-%d; ", d->idx_heads, d->idx_head_dim, d->idx_topk);
            if (w < 0 || (size_t)w >= cap - n) return;
            n += (size_t)w;
        }
    }
    if (d->n_experts <= 0) return;
    int moe_layers = 0;
    for (int l = 0; l < d->n_layers; l++) moe_layers += d->layer_moe[l] != 0;
    char lat[48] = "";
    if (d->moe_latent > 0) snprintf(lat, sizeof lat, ", experts in a latent width %d", d->moe_latent);
    snprintf(buf + n, cap - n, "experts %d, top-%d, %s%s%s%s%s%s, scale %g, groups %d/%d, expert inter %d, shared inter %d%s, %d of %d layers MoE%s%s%s",
             d->n_experts, d->n_experts_used, d->moe_sigmoid ? "sigmoid" : "softmax",
             d->moe_bias ? " + correction bias" : "", d->moe_norm_topk ? ", top-k renormalised" : "",
             d->moe_router_b ? ", router bias" : "", d->moe_input_scaled ? ", weight on the expert's input" : "", lat, (double)d->moe_scale, d->moe_topk_group, d->moe_n_group, d->moe_inter,
             d->moe_shared_inter, d->moe_shared_gate ? " (sigmoid gate)" : d->moe_shared_fused ? " (fused gate/up)" : "", moe_layers,
             d->n_layers, d->ename_b[0] || d->ename_b[2] ? "; expert biases" : "",
             d->moe_interleaved ? "; gate/up rows interleaved" : "", d->quant.method == RL_QM_MXFP4 ? "; experts in MXFP4" : "");
}
