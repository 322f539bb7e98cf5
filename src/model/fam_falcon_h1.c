/* Falcon-H1 (FalconH1ForCausalLM, TII's Falcon-H1 0.5B-34B): every layer runs a Mamba-2 mixer and
 * attention side by side on the one normed input and adds both to the residual (rl_layer_desc.ssm_too;
 * block.c), then pre_ff_layernorm and the gated SiLU MLP; NeoX rotary embeddings over head_dim. The
 * Mamba-2 mixer is Granite 4.0-H's with mamba_d_ssm channels (mamba_n_heads x mamba_d_head), its
 * gated RMSNorm per B / C group only with mamba_rms_norm (else out_proj(y * SiLU(z))). The muP
 * multipliers stay scalars applied where transformers applies them (rl_mup): the embeddings,
 * the logits (lm_head_multiplier), attention's input and keys and output, the mixer's input and
 * its in_proj slices z / x / B / C / dt (ssm_multipliers) and output, the MLP's gate pre-activation
 * and down output (mlp_multipliers). */
#include "model/fam_falcon_h1.h"
#include "model/family.h"
#include "model/mamba2_config.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

/* A list of n floats (default 1 each when absent). */
static int mults(const cJSON *cfg, const char *key, int n, float *out, const char *file) {
    const cJSON *a = rl_json_get(cfg, key);
    for (int i = 0; i < n; i++) out[i] = 1.0f;
    if (!a) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return rl_err("%s: \"%s\" must be a list of %d numbers", file, key, n);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v)) return rl_err("%s: \"%s\"[%d] is not a number", file, key, i);
        out[i] = (float)v->valuedouble;
    }
    return 0;
}

int rl_norm_falcon_h1(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    rl_family_ff_names(d);
    d->wname[W_LIN_QKV] = "model.layers.%d.mamba.in_proj.weight";
    d->wname[W_LIN_CONV] = "model.layers.%d.mamba.conv1d.weight";
    d->wname[W_LIN_CONV_B] = "model.layers.%d.mamba.conv1d.bias";
    d->wname[W_LIN_A_LOG] = "model.layers.%d.mamba.A_log";
    d->wname[W_LIN_DT_BIAS] = "model.layers.%d.mamba.dt_bias";
    d->wname[W_LIN_D] = "model.layers.%d.mamba.D";
    d->wname[W_LIN_NORM] = "model.layers.%d.mamba.norm.weight";
    d->wname[W_LIN_OUT] = "model.layers.%d.mamba.out_proj.weight";
    d->gname[G_FINAL_NORM] = "model.final_layernorm.weight";

    long long dssm = 0, heads, groups, state, conv;
    double expand, emb, lmh, ain, key, aout, sin, sout;
    int cb, pb, prb, rn, nbg, ab, mb;
    const cJSON *ds = rl_json_get(cfg, "mamba_d_ssm"), *dh = rl_json_get(cfg, "mamba_d_head");
    if (rl_json_int(cfg, "mamba_n_heads", 128, &heads, file) || rl_json_int(cfg, "mamba_n_groups", 1, &groups, file) ||
        rl_json_int(cfg, "mamba_d_state", 256, &state, file) || rl_json_int(cfg, "mamba_d_conv", 4, &conv, file) ||
        rl_json_num(cfg, "mamba_expand", 2, &expand, file) || rl_json_bool(cfg, "mamba_conv_bias", 1, &cb, file) ||
        rl_json_bool(cfg, "mamba_proj_bias", 0, &pb, file) || rl_json_bool(cfg, "projectors_bias", 0, &prb, file) ||
        rl_json_bool(cfg, "mamba_rms_norm", 0, &rn, file) || rl_json_bool(cfg, "mamba_norm_before_gate", 1, &nbg, file) ||
        rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "mlp_bias", 0, &mb, file) ||
        rl_json_num(cfg, "embedding_multiplier", 1, &emb, file) || rl_json_num(cfg, "lm_head_multiplier", 1, &lmh, file) ||
        rl_json_num(cfg, "attention_in_multiplier", 1, &ain, file) || rl_json_num(cfg, "key_multiplier", 1, &key, file) ||
        rl_json_num(cfg, "attention_out_multiplier", 1, &aout, file) || rl_json_num(cfg, "ssm_in_multiplier", 1, &sin, file) ||
        rl_json_num(cfg, "ssm_out_multiplier", 1, &sout, file) || mults(cfg, "ssm_multipliers", 5, d->mup.ssm, file))
        return -1;
    float mlp[2];
    if (mults(cfg, "mlp_multipliers", 2, mlp, file)) return -1;
    if (ds && rl_json_int(cfg, "mamba_d_ssm", 0, &dssm, file)) return -1;
    if (!ds) dssm = (long long)(expand * d->hidden);
    long long hd = 0;
    if (dh && !(cJSON_IsString(dh) && !strcmp(dh->valuestring, "auto")) && rl_json_int(cfg, "mamba_d_head", 0, &hd, file)) return -1;
    if (!dh || cJSON_IsString(dh)) hd = heads > 0 ? dssm / heads : 0;
    if (heads <= 0 || hd <= 0 || heads * hd != dssm)
        return rl_err("%s: mamba_n_heads %lld x mamba_d_head %lld must equal mamba_d_ssm %lld", file, heads, hd, dssm);
    if (pb || prb) return rl_err("%s: \"%s\" true (biases on the Mamba projections) is not supported", file, pb ? "mamba_proj_bias" : "projectors_bias");
    if (ab || mb) return rl_err("%s: \"%s\" true is not supported", file, ab ? "attention_bias" : "mlp_bias");
    if (rn && nbg) return rl_err("%s: \"mamba_norm_before_gate\" true (the norm before the gate) is not supported", file);
    if (!(lmh > 0)) return rl_err("%s: lm_head_multiplier %g must be positive", file, lmh);
    for (int l = 0; l < d->n_layers; l++) d->layers[l].ssm_too = 1; /* attention and Mamba-2 in every layer */
    d->emb_scale = (float)emb;
    d->logit_div = (float)(1.0 / lmh);
    d->mup.attn_in = (float)ain;
    d->mup.key = (float)key;
    d->mup.attn_out = (float)aout;
    d->mup.ssm_in = (float)sin;
    d->mup.ssm_out = (float)sout;
    d->mup.mlp_gate = mlp[0];
    d->mup.mlp_down = mlp[1];
    if (groups <= 0 || state <= 0 || conv <= 0 || heads > (1 << 20) || hd > (1 << 20)) return rl_err("%s: Mamba dims out of range", file);
    return rl_mamba2_setup(d, cfg, file, (int)heads, (int)hd, (int)state, (int)groups, (int)conv, cb, rn ? (int)groups : 0, NULL);
}
