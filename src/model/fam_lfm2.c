/* LFM2 (Lfm2ForCausalLM, Liquid AI's LFM2 350M-2.6B) and LFM2-MoE (Lfm2MoeForCausalLM, LFM2-8B-A1B):
 * attention layers (GQA, per-head q/k RMSNorm q_layernorm / k_layernorm, NeoX rotary embeddings)
 * and gated short-conv layers (RL_LIN_SHORTCONV, deltanet.c: out_proj(C * conv(B * x)) with
 * [B | C | x] = in_proj h and a depthwise causal conv of conv_L_cache taps, no activation), as
 * layer_types ("conv" / "full_attention") or full_attn_idxs say; operator_norm before the mixer,
 * ffn_norm before the SwiGLU feed_forward (w1 gate, w3 up, w2 down), the final norm is named
 * embedding_norm. LFM2's MLP width: block_ff_dim (or intermediate_size), with
 * block_auto_adjust_ff_dim int(2 I / 3), then times block_ffn_dim_multiplier rounded up to
 * block_multiple_of. LFM2-MoE: num_dense_layers dense layers (intermediate_size as is), then
 * sigmoid-routed experts (expert_bias steers the choice only; top-k renormalised with
 * norm_topk_prob, times routed_scaling_factor). */
#include "model/fam_lfm2.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

static void lfm2_names(rl_model_desc *d) {
    rl_family_llama_names(d);
    d->wname[W_ATTN_NORM] = "model.layers.%d.operator_norm.weight";
    d->wname[W_O] = "model.layers.%d.self_attn.out_proj.weight";
    d->wname[W_Q_NORM] = "model.layers.%d.self_attn.q_layernorm.weight";
    d->wname[W_K_NORM] = "model.layers.%d.self_attn.k_layernorm.weight";
    d->wname[W_MLP_NORM] = "model.layers.%d.ffn_norm.weight";
    d->wname[W_GATE] = "model.layers.%d.feed_forward.w1.weight";
    d->wname[W_UP] = "model.layers.%d.feed_forward.w3.weight";
    d->wname[W_DOWN] = "model.layers.%d.feed_forward.w2.weight";
    d->wname[W_LIN_QKV] = "model.layers.%d.conv.in_proj.weight";
    d->wname[W_LIN_CONV] = "model.layers.%d.conv.conv.weight";
    d->wname[W_LIN_CONV_B] = "model.layers.%d.conv.conv.bias";
    d->wname[W_LIN_OUT] = "model.layers.%d.conv.out_proj.weight";
    d->gname[G_FINAL_NORM] = "model.embedding_norm.weight";
}

/* The keys both share: eps, tied embeddings (tie_embedding, the original key, wins), rope theta
 * (theta, default 1e6), the layer kinds and the short conv. */
static int lfm2_common(rl_model_desc *d, const cJSON *cfg, const char *file, int attn_idxs) {
    double eps;
    int cb, tied;
    long long K;
    if (rl_json_num(cfg, "norm_eps", 1e-5, &eps, file) || rl_json_bool(cfg, "conv_bias", 0, &cb, file) ||
        rl_json_int(cfg, "conv_L_cache", 3, &K, file) || rl_json_bool(cfg, "tie_embedding", d->tied, &tied, file)) return -1;
    if (cb) return rl_err("%s: \"conv_bias\" true (biases on the short conv's projections) is not supported", file);
    if (K < 1 || K > 64) return rl_err("%s: conv_L_cache %lld is out of range (1..64)", file, K);
    d->norm_eps = (float)eps;
    d->tied = tied;
    d->qk_norm = 1;
    const cJSON *rp = rl_json_get(cfg, "rope_parameters");
    if (!rl_json_get(cfg, "rope_theta") && !(rp && rl_json_get(rp, "rope_theta"))) { /* LFM2's default, or its "theta" */
        double th;
        if (rl_json_num(cfg, "theta", 1e6, &th, file)) return -1;
        if (!(th > 0)) return rl_err("%s: theta %g must be positive", file, th);
        d->ropes[0].theta = th;
    }
    const cJSON *lt = rl_json_get(cfg, "layer_types"), *fi = attn_idxs ? rl_json_get(cfg, "full_attn_idxs") : NULL;
    if (lt && (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers))
        return rl_err("%s: \"layer_types\" must be a list of %d entries", file, d->n_layers);
    if (!lt && !attn_idxs) return rl_err("%s: missing \"layer_types\"", file);
    if (!lt && fi && !cJSON_IsArray(fi)) return rl_err("%s: \"full_attn_idxs\" must be a list of layer numbers", file);
    long long win;
    if (rl_json_int(cfg, "sliding_window", 0, &win, file)) return -1;
    for (int l = 0; l < d->n_layers; l++) {
        int attn, sliding = 0;
        if (lt) { /* ("sliding_attention": GGUF's lfm2 with attention.sliding_window; transformers' LFM2 has none) */
            const cJSON *v = cJSON_GetArrayItem(lt, l);
            if (!cJSON_IsString(v) || (strcmp(v->valuestring, "conv") && strcmp(v->valuestring, "full_attention") &&
                                       strcmp(v->valuestring, "sliding_attention")))
                return rl_err("%s: \"layer_types\"[%d] must be \"conv\" or \"full_attention\"", file, l);
            sliding = !strcmp(v->valuestring, "sliding_attention");
            attn = sliding || !strcmp(v->valuestring, "full_attention");
            if (sliding && win <= 0) return rl_err("%s: layer %d is a sliding_attention layer but sliding_window is %lld", file, l, win);
        } else if (fi) {
            attn = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, fi) {
                if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= d->n_layers || v->valuedouble != (int)v->valuedouble)
                    return rl_err("%s: \"full_attn_idxs\" holds %g, not a layer number below %d", file, cJSON_IsNumber(v) ? v->valuedouble : -1.0,
                                  d->n_layers);
                if ((int)v->valuedouble == l) attn = 1;
            }
        } else attn = 1; /* Lfm2Config: every layer attention without either */
        d->layers[l].kind = sliding ? RL_LAYER_SLIDING : attn ? RL_LAYER_FULL : RL_LAYER_LINEAR;
        d->layers[l].window = sliding ? (int)win : 0;
    }
    d->lin_kind = RL_LIN_SHORTCONV;
    d->lin_v_heads = d->hidden;
    d->lin_v_dim = 1;
    d->lin_conv_k = (int)K;
    return 0;
}

int rl_norm_lfm2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    lfm2_names(d);
    long long I = d->intermediate, mo;
    int adjust;
    if (rl_json_get(cfg, "block_ff_dim") && rl_json_int(cfg, "block_ff_dim", 0, &I, file)) return -1; /* the original key wins */
    if (rl_json_bool(cfg, "block_auto_adjust_ff_dim", 1, &adjust, file) || rl_json_int(cfg, "block_multiple_of", 256, &mo, file)) return -1;
    const cJSON *mult = cJSON_GetObjectItemCaseSensitive(cfg, "block_ffn_dim_multiplier"); /* (null: no multiplier, no rounding) */
    if (mult && !cJSON_IsNull(mult) && !cJSON_IsNumber(mult)) return rl_err("%s: \"block_ffn_dim_multiplier\" must be a number or null", file);
    if (adjust) { /* Lfm2MLP */
        I = (long long)(2.0 * (double)I / 3.0);
        double m = mult ? (cJSON_IsNull(mult) ? NAN : mult->valuedouble) : 1.0;
        if (!isnan(m)) {
            if (mo < 1) return rl_err("%s: block_multiple_of %lld must be positive", file, mo);
            I = (long long)(m * (double)I);
            I = mo * ((I + mo - 1) / mo);
        }
    }
    if (I < 1 || I > (1ll << 24)) return rl_err("%s: the feed-forward width %lld (from block_ff_dim / intermediate_size) is out of range", file, I);
    d->intermediate = (int)I;
    return lfm2_common(d, cfg, file, 1);
}

int rl_norm_lfm2_moe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    lfm2_names(d);
    d->wname[W_MOE_ROUTER] = "model.layers.%d.feed_forward.gate.weight";
    d->wname[W_MOE_ROUTER_BIAS] = "model.layers.%d.feed_forward.expert_bias";
    d->ename[0] = "model.layers.%d.feed_forward.experts.%d.w1.weight";
    d->ename[1] = "model.layers.%d.feed_forward.experts.%d.w3.weight";
    d->ename[2] = "model.layers.%d.feed_forward.experts.%d.w2.weight";
    long long nd;
    int eb;
    if (rl_moe_parse(d, cfg, file, 1, 1) || rl_json_int(cfg, "num_dense_layers", 2, &nd, file) ||
        rl_json_bool(cfg, "use_expert_bias", 1, &eb, file)) return -1;
    if (nd < 0) return rl_err("%s: num_dense_layers %lld is negative", file, nd);
    d->moe_bias = eb; /* sigmoid scores, the bias only for the choice */
    d->moe_shared_inter = 0;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = l >= nd;
    return lfm2_common(d, cfg, file, 0);
}
