/* Mamba-1 families (deltanet.c runs their mixer as RL_LIN_MAMBA1): MambaForCausalLM (the
 * state-spaces Mamba models in transformers' form) and FalconMambaForCausalLM — every layer an
 * RMSNorm and a Mamba mixer under backbone.* (FalconMamba: dt, B and C RMS-normalised without a
 * weight, eps mixer_rms_eps) — and JambaForCausalLM (AI21's Jamba): attention without positional
 * embeddings on the layers l % attn_layer_period == attn_layer_offset, the Mamba mixer (its dt / B
 * / C RMSNorms with weights) elsewhere, then pre_ff_layernorm and a gated MLP or, on the layers
 * l % expert_layer_period == expert_layer_offset, softmax top-k experts without renormalisation
 * (or as the lists layers_block_type / layers_num_experts, JambaConfig's properties, say). */
#include "model/fam_mamba.h"
#include "model/family.h"
#include "model/mamba2_config.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

/* Config keys of the Mamba mixer (Mamba's own, or Jamba's mamba_* names). */
typedef struct { const char *state, *expand, *conv, *conv_bias, *proj_bias, *dt_rank; int proj_bias_def; } mamba_keys;

static int mamba1_setup(rl_model_desc *d, const cJSON *cfg, const char *file, const mamba_keys *k) {
    long long N, K, R = 0;
    double expand;
    int cb, pb;
    const cJSON *dr = rl_json_get(cfg, k->dt_rank);
    if (rl_json_int(cfg, k->state, 16, &N, file) || rl_json_num(cfg, k->expand, 2, &expand, file) ||
        rl_json_int(cfg, k->conv, 4, &K, file) || rl_json_bool(cfg, k->conv_bias, 1, &cb, file) ||
        rl_json_bool(cfg, k->proj_bias, k->proj_bias_def, &pb, file)) return -1;
    if (dr && !(cJSON_IsString(dr) && !strcmp(dr->valuestring, "auto")) && rl_json_int(cfg, k->dt_rank, 0, &R, file)) return -1;
    if (!dr || cJSON_IsString(dr)) R = (d->hidden + 15) / 16; /* "auto": ceil(hidden / 16) */
    long long I = (long long)(expand * d->hidden);
    if (N < 1 || N > 1024 || K < 1 || K > 64 || R < 1 || R > (1 << 20) || I < 1 || I > (1 << 20) || expand * d->hidden != (double)I)
        return rl_err("%s: Mamba dims out of range (%s %lld, %s %g, %s %lld, dt rank %lld)", file, k->state, N, k->expand, expand, k->conv, K, R);
    if (pb) return rl_err("%s: \"%s\" true (biases on in_proj / out_proj) is not supported", file, k->proj_bias);
    d->lin_kind = RL_LIN_MAMBA1;
    d->lin_k_heads = 1;
    d->lin_k_dim = (int)N;
    d->lin_v_heads = (int)I;
    d->lin_v_dim = 1;
    d->lin_conv_k = (int)K;
    d->lin_conv_bias = cb;
    d->lin_dt_rank = (int)R;
    d->lin_dt_min = 0;
    d->lin_dt_max = INFINITY;
    return 0;
}

/* The mixer's tensor names under prefix (%d: the layer). */
static void mixer_names(rl_model_desc *d, const char *const *n) {
    d->wname[W_LIN_QKV] = n[0];
    d->wname[W_LIN_CONV] = n[1];
    d->wname[W_LIN_CONV_B] = n[2];
    d->wname[W_LIN_B] = n[3];
    d->wname[W_LIN_A] = n[4];
    d->wname[W_LIN_DT_BIAS] = n[5];
    d->wname[W_LIN_A_LOG] = n[6];
    d->wname[W_LIN_D] = n[7];
    d->wname[W_LIN_OUT] = n[8];
}

static const mamba_keys MAMBA_KEYS = {"state_size", "expand", "conv_kernel", "use_conv_bias", "use_bias", "time_step_rank", 1};

int rl_norm_mamba(rl_model_desc *d, const cJSON *cfg, const char *file) {
    static const char *const N[9] = {
        "backbone.layers.%d.mixer.in_proj.weight", "backbone.layers.%d.mixer.conv1d.weight", "backbone.layers.%d.mixer.conv1d.bias",
        "backbone.layers.%d.mixer.x_proj.weight", "backbone.layers.%d.mixer.dt_proj.weight", "backbone.layers.%d.mixer.dt_proj.bias",
        "backbone.layers.%d.mixer.A_log", "backbone.layers.%d.mixer.D", "backbone.layers.%d.mixer.out_proj.weight"};
    d->wname[W_ATTN_NORM] = "backbone.layers.%d.norm.weight";
    mixer_names(d, N);
    d->gname[G_EMBED] = "backbone.embeddings.weight";
    d->gname[G_FINAL_NORM] = "backbone.norm_f.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    d->name_alt[0] = "backbone.embeddings."; /* older conversions: backbone.embedding.weight */
    d->name_alt[1] = "backbone.embedding.";
    int falcon = !strcmp(d->arch, "FalconMambaForCausalLM") || !strcmp(d->model_type, "falcon_mamba");
    mamba_keys k = MAMBA_KEYS;
    k.proj_bias_def = !falcon; /* MambaConfig: use_bias True; FalconMambaConfig: False */
    double eps, meps;
    const char *act;
    if (rl_json_num(cfg, "layer_norm_epsilon", 1e-5, &eps, file) || rl_json_num(cfg, "mixer_rms_eps", 1e-6, &meps, file) ||
        rl_json_str(cfg, "hidden_act", "silu", &act, file)) return -1;
    if (rl_mamba_only_layers(d, act, eps, file) || mamba1_setup(d, cfg, file, &k)) return -1;
    if (falcon) { d->lin_dtbc_norm = 2; d->lin_dtbc_eps = (float)meps; } /* rms_forward: no weight */
    return 0;
}

/* Per layer: the list `lk` (its entry equal to `on`, a string, or above 1, a number) when the
 * config has it, else l % period == offset (offset < period). */
static int periodic(const cJSON *cfg, const char *lk, const char *on, const char *pk, const char *ok, long long dp, long long dof, int n,
                    unsigned char *out, const char *file) {
    const cJSON *lt = rl_json_get(cfg, lk);
    if (lt) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != n) return rl_err("%s: \"%s\" must be a list of %d entries", file, lk, n);
        for (int l = 0; l < n; l++) {
            const cJSON *v = cJSON_GetArrayItem(lt, l);
            if (on ? !cJSON_IsString(v) : !cJSON_IsNumber(v)) return rl_err("%s: \"%s\"[%d] is not a %s", file, lk, l, on ? "string" : "number");
            out[l] = on ? !strcmp(v->valuestring, on) : v->valuedouble > 1;
        }
        return 0;
    }
    long long p, o;
    if (rl_json_int(cfg, pk, dp, &p, file) || rl_json_int(cfg, ok, dof, &o, file)) return -1;
    if (p < 1 || o < 0 || o >= p) return rl_err("%s: \"%s\" %lld must be below \"%s\" %lld (positive)", file, ok, o, pk, p);
    for (int l = 0; l < n; l++) out[l] = l % p == o;
    return 0;
}

int rl_norm_jamba(rl_model_desc *d, const cJSON *cfg, const char *file) {
    static const char *const N[9] = {
        "model.layers.%d.mamba.in_proj.weight", "model.layers.%d.mamba.conv1d.weight", "model.layers.%d.mamba.conv1d.bias",
        "model.layers.%d.mamba.x_proj.weight", "model.layers.%d.mamba.dt_proj.weight", "model.layers.%d.mamba.dt_proj.bias",
        "model.layers.%d.mamba.A_log", "model.layers.%d.mamba.D", "model.layers.%d.mamba.out_proj.weight"};
    rl_moe_names_llama(d, 0);
    rl_family_ff_names(d);
    d->wname[W_MOE_ROUTER] = "model.layers.%d.feed_forward.router.weight";
    d->ename[0] = "model.layers.%d.feed_forward.experts.%d.gate_proj.weight";
    d->ename[1] = "model.layers.%d.feed_forward.experts.%d.up_proj.weight";
    d->ename[2] = "model.layers.%d.feed_forward.experts.%d.down_proj.weight";
    mixer_names(d, N);
    d->wname[W_LIN_DT_NORM] = "model.layers.%d.mamba.dt_layernorm.weight";
    d->wname[W_LIN_B_NORM] = "model.layers.%d.mamba.b_layernorm.weight";
    d->wname[W_LIN_C_NORM] = "model.layers.%d.mamba.c_layernorm.weight";
    d->gname[G_FINAL_NORM] = "model.final_layernorm.weight";
    static const mamba_keys K = {"mamba_d_state", "mamba_expand", "mamba_d_conv", "mamba_conv_bias", "mamba_proj_bias", "mamba_dt_rank", 0};
    unsigned char attn[RL_MAX_LAYERS];
    long long E;
    if (mamba1_setup(d, cfg, file, &K) || rl_json_int(cfg, "num_experts", 16, &E, file) ||
        periodic(cfg, "layers_block_type", "attention", "attn_layer_period", "attn_layer_offset", 8, 4, d->n_layers, attn, file) ||
        periodic(cfg, "layers_num_experts", NULL, "expert_layer_period", "expert_layer_offset", 2, 1, d->n_layers, d->layer_moe, file))
        return -1;
    if (E > 1 && rl_moe_parse(d, cfg, file, 0, 0)) return -1; /* softmax over all experts, top-k kept as they are */
    if (E <= 1) memset(d->layer_moe, 0, sizeof d->layer_moe); /* one "expert": the dense MLP */
    d->moe_shared_inter = 0;
    d->ropes[0].pairing = RL_ROPE_NONE; /* no positional embeddings */
    for (int l = 0; l < d->n_layers; l++) d->layers[l].kind = attn[l] ? RL_LAYER_FULL : RL_LAYER_LINEAR;
    d->lin_dtbc_norm = 1;
    d->lin_dtbc_eps = d->norm_eps;
    return 0;
}
