/* Qwen (v1) family normalizer (QWenLMHeadModel): transformer.h.* names, c_attn (q, k, v rows)
 * with bias, c_proj without, MLP of width intermediate_size / 2 computing c_proj(w1(x) *
 * silu(w2(x))) — w2 is the gate —, kv_channels head dim, rotary_emb_base / rotary_pct, RMSNorm
 * layer_norm_epsilon. use_dynamic_ntk / use_logn_attn only change the math past seq_length
 * positions; we do not implement them, so a context beyond seq_length is refused at open. */
#include "model/fam_dense.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

int rl_norm_qwen1(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "transformer.h.%d.ln_1.weight";
    d->wname[W_QKV] = "transformer.h.%d.attn.c_attn.weight";
    d->wname[W_QKV_B] = "transformer.h.%d.attn.c_attn.bias";
    d->wname[W_O] = "transformer.h.%d.attn.c_proj.weight";
    d->wname[W_MLP_NORM] = "transformer.h.%d.ln_2.weight";
    d->wname[W_GATE] = "transformer.h.%d.mlp.w2.weight";
    d->wname[W_UP] = "transformer.h.%d.mlp.w1.weight";
    d->wname[W_DOWN] = "transformer.h.%d.mlp.c_proj.weight";
    d->gname[G_EMBED] = "transformer.wte.weight";
    d->gname[G_FINAL_NORM] = "transformer.ln_f.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    d->qkv_bias = 1;

    if (d->intermediate % 2) return rl_err("%s: intermediate_size %d must be even (the MLP is intermediate_size/2 wide)", file, d->intermediate);
    d->intermediate /= 2;
    long long v;
    double eps, base, pct;
    if (rl_json_int(cfg, "kv_channels", d->hidden / d->n_heads, &v, file) ||
        rl_json_num(cfg, "layer_norm_epsilon", 1e-6, &eps, file) ||
        rl_json_num(cfg, "rotary_emb_base", 10000.0, &base, file) ||
        rl_json_num(cfg, "rotary_pct", 1.0, &pct, file)) return -1;
    if (v <= 0 || v > 4096 || v % 2 || v * d->n_heads != d->hidden)
        return rl_err("%s: kv_channels %lld times num_attention_heads %d must equal hidden_size %d", file, v, d->n_heads, d->hidden);
    d->head_dim = (int)v;
    d->n_kv_heads = d->n_heads;
    d->attn_scale = 1.0f / sqrtf((float)d->head_dim);
    d->norm_eps = (float)eps;
    if (pct <= 0 || pct > 1) return rl_err("%s: rotary_pct %g must be in (0, 1]", file, pct);
    d->ropes[0].theta = base;
    d->ropes[0].rot_dims = (int)(d->head_dim * pct);
    d->ropes[0].rot_dims -= d->ropes[0].rot_dims % 2;
    d->ropes[0].scaling = RL_RS_NONE;
    d->ropes[0].factor = 1.0;

    int nb;
    if (rl_json_bool(cfg, "no_bias", 1, &nb, file)) return -1;
    if (!nb) return rl_err("%s: \"no_bias\": false (biases on c_proj and the MLP) is not supported for Qwen", file);
    int ntk, logn;
    long long seq;
    if (rl_json_bool(cfg, "use_dynamic_ntk", 0, &ntk, file) || rl_json_bool(cfg, "use_logn_attn", 0, &logn, file) ||
        rl_json_int(cfg, "seq_length", 2048, &seq, file)) return -1;
    if ((ntk || logn) && seq > 0) {
        d->ctx_exact_max = (int)(seq < (1ll << 30) ? seq : (1ll << 30));
        snprintf(d->ctx_exact_why, sizeof d->ctx_exact_why, "Qwen's %s%s%s would apply",
                 ntk ? "use_dynamic_ntk" : "", ntk && logn ? " and " : "", logn ? "use_logn_attn" : "");
    }
    return 0;
}
