/* NVIDIA Nemotron-H (NemotronHForCausalLM: Nemotron-H 8B / 47B / 56B, Nemotron Nano 9B / 12B v2):
 * each layer is one RMSNorm then one sublayer, as hybrid_override_pattern spells them (or
 * layers_block_type lists them): "M" a Mamba-2 mixer, "*" attention without positional
 * embeddings, "-" an ungated squared-ReLU MLP, "E" experts (Nemotron 3: sigmoid router with a
 * correction bias, ungated squared-ReLU experts plus one shared expert). The Mamba-2
 * mixer is Granite 4.0-H's (deltanet.c) with mamba_num_heads x mamba_head_dim channels and its
 * gated RMSNorm taken per group of channels (n_groups, the B / C groups); dt is not clamped
 * (time_step_limit, default (0, inf)), as in transformers' CUDA path that NVIDIA's models were
 * made with. Tensors under backbone.*, the head in lm_head.weight. Mamba2ForCausalLM (Mamba-2
 * language models, e.g. Mamba-Codestral) has the same layout with every layer "M". */
#include "model/fam_nemotron_h.h"
#include "model/mamba2_config.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

static int pos_key(const cJSON *cfg, const char *key, const char *alt, long long def, long long max, int *out, const char *file) {
    long long v;
    if (alt && !rl_json_get(cfg, key) && rl_json_get(cfg, alt)) key = alt;
    if (rl_json_int(cfg, key, def, &v, file)) return -1;
    if (v < 1 || v > max) return rl_err("%s: \"%s\" = %lld is out of range (1..%lld)", file, key, v, max);
    *out = (int)v;
    return 0;
}

/* Layer l's sublayer from its pattern letter k (or its layers_block_type name). */
static int set_layer(rl_model_desc *d, int l, const char *k, const char *file) {
    rl_layer_desc *ld = &d->layers[l];
    if (!strcmp(k, "M") || !strcmp(k, "mamba") || !strcmp(k, "linear_attention")) { ld->kind = RL_LAYER_LINEAR; ld->no_mlp = 1; }
    else if (!strcmp(k, "*") || !strcmp(k, "attention") || !strcmp(k, "full_attention")) ld->no_mlp = 1;
    else if (!strcmp(k, "-") || !strcmp(k, "mlp")) ld->no_mixer = 1;
    else if (!strcmp(k, "E") || !strcmp(k, "moe")) { ld->no_mixer = 1; d->layer_moe[l] = 1; }
    else return rl_err("%s: layer %d has the unknown Nemotron-H block type \"%s\" (M, *, -, E)", file, l, k);
    return 0;
}

static int layer_types(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *lt = rl_json_get(cfg, "layers_block_type");
    if (lt) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers)
            return rl_err("%s: \"layers_block_type\" must be a list of %d names", file, d->n_layers);
        for (int l = 0; l < d->n_layers; l++) {
            const cJSON *v = cJSON_GetArrayItem(lt, l);
            if (!cJSON_IsString(v)) return rl_err("%s: \"layers_block_type\"[%d] is not a string", file, l);
            if (set_layer(d, l, v->valuestring, file)) return -1;
        }
        return 0;
    }
    const char *p;
    if (rl_json_str(cfg, "hybrid_override_pattern", NULL, &p, file)) return -1;
    if (!p) return rl_err("%s: Nemotron-H needs \"hybrid_override_pattern\" (or \"layers_block_type\")", file);
    if ((int)strlen(p) != d->n_layers)
        return rl_err("%s: \"hybrid_override_pattern\" has %zu layers, num_hidden_layers says %d", file, strlen(p), d->n_layers);
    for (int l = 0; l < d->n_layers; l++) {
        char k[2] = {p[l], 0};
        if (set_layer(d, l, k, file)) return -1;
    }
    return 0;
}

/* The Mamba-2 mixer's dims: heads x head_dim channels, B / C in n_groups groups of
 * ssm_state_size, a depthwise conv of conv_kernel (bias use_conv_bias), its norm per group. */
static int mamba(rl_model_desc *d, const cJSON *cfg, const char *file) {
    int heads = 0, hd = 0, state = 0, groups = 0, conv = 0, cb = 0, pb = 0;
    if (pos_key(cfg, "mamba_num_heads", NULL, 128, 1 << 16, &heads, file) || pos_key(cfg, "mamba_head_dim", NULL, 64, 1 << 16, &hd, file) ||
        pos_key(cfg, "ssm_state_size", NULL, 128, 1024, &state, file) || pos_key(cfg, "n_groups", "mamba_n_groups", 8, 1 << 16, &groups, file) ||
        pos_key(cfg, "conv_kernel", "mamba_d_conv", 4, 64, &conv, file) ||
        rl_json_bool(cfg, rl_json_get(cfg, "use_conv_bias") || !rl_json_get(cfg, "mamba_conv_bias") ? "use_conv_bias" : "mamba_conv_bias", 1, &cb,
                     file) ||
        rl_json_bool(cfg, "use_bias", 0, &pb, file)) return -1;
    if (heads % groups) return rl_err("%s: mamba_num_heads %d must be a multiple of n_groups %d", file, heads, groups);
    if (pb) return rl_err("%s: \"use_bias\" true (biases on the Mamba in_proj / out_proj) is not supported", file);
    const char *act;
    if (rl_json_str(cfg, "mamba_hidden_act", "silu", &act, file)) return -1;
    if (strcmp(act, "silu") && strcmp(act, "swish")) return rl_err("%s: mamba_hidden_act \"%s\" is not supported (silu)", file, act);
    /* the gated RMSNorm per group of I / n_groups channels (transformers' Zamba2RMSNormGated) */
    return rl_mamba2_setup(d, cfg, file, heads, hd, state, groups, conv, cb, groups, "mamba_dt_limit");
}

/* The "E" layers (Nemotron 3 Nano): DeepSeek-V3's routing (sigmoid scores, e_score_correction_bias
 * choosing, n_group / topk_group, norm_topk_prob, routed_scaling_factor), ungated squared-ReLU
 * experts of moe_intermediate_size, one shared expert of moe_shared_expert_intermediate_size;
 * Nemotron 3 Super: the routed experts in a latent width (moe_latent_size: fc1_latent_proj before
 * them, fc2_latent_proj on their weighted sum; router and shared expert on the full width). */
static int experts(rl_model_desc *d, const cJSON *cfg, const char *file) {
    long long shi;
    if (rl_moe_parse(d, cfg, file, 1, 1)) return -1;
    long long lat;
    if (rl_json_int(cfg, "moe_latent_size", 0, &lat, file)) return -1; /* (null: none) */
    if (lat < 0 || lat > (1ll << 20)) return rl_err("%s: moe_latent_size %lld is invalid", file, lat);
    if (lat > 0) { /* Nemotron 3 Super: the routed experts in a latent width */
        d->moe_latent = (int)lat;
        d->wname[W_MOE_LAT_IN] = "backbone.layers.%d.mixer.fc1_latent_proj.weight";
        d->wname[W_MOE_LAT_OUT] = "backbone.layers.%d.mixer.fc2_latent_proj.weight";
    }
    if (rl_json_int(cfg, "moe_shared_expert_intermediate_size", d->moe_inter, &shi, file)) return -1;
    if (shi < 0 || shi > (1ll << 24)) return rl_err("%s: moe_shared_expert_intermediate_size %lld is invalid", file, shi);
    d->moe_shared_inter = (int)shi;
    d->moe_shared_gate = 0;
    d->moe_ungated = 1;
    d->moe_fused = 0;
    d->wname[W_MOE_ROUTER] = "backbone.layers.%d.mixer.gate.weight";
    d->wname[W_MOE_ROUTER_BIAS] = "backbone.layers.%d.mixer.gate.e_score_correction_bias";
    d->wname[W_SHX_UP] = "backbone.layers.%d.mixer.shared_experts.up_proj.weight";
    d->wname[W_SHX_DOWN] = "backbone.layers.%d.mixer.shared_experts.down_proj.weight";
    d->ename[0] = NULL;
    d->ename[1] = "backbone.layers.%d.mixer.experts.%d.up_proj.weight";
    d->ename[2] = "backbone.layers.%d.mixer.experts.%d.down_proj.weight";
    return 0;
}

static void names(rl_model_desc *d) {
    d->wname[W_ATTN_NORM] = d->wname[W_MLP_NORM] = "backbone.layers.%d.norm.weight"; /* one norm per layer: the sublayer's */
    d->wname[W_Q] = "backbone.layers.%d.mixer.q_proj.weight";
    d->wname[W_K] = "backbone.layers.%d.mixer.k_proj.weight";
    d->wname[W_V] = "backbone.layers.%d.mixer.v_proj.weight";
    d->wname[W_O] = "backbone.layers.%d.mixer.o_proj.weight";
    d->wname[W_UP] = "backbone.layers.%d.mixer.up_proj.weight";
    d->wname[W_DOWN] = "backbone.layers.%d.mixer.down_proj.weight";
    d->wname[W_LIN_QKV] = "backbone.layers.%d.mixer.in_proj.weight";
    d->wname[W_LIN_CONV] = "backbone.layers.%d.mixer.conv1d.weight";
    d->wname[W_LIN_CONV_B] = "backbone.layers.%d.mixer.conv1d.bias";
    d->wname[W_LIN_A_LOG] = "backbone.layers.%d.mixer.A_log";
    d->wname[W_LIN_DT_BIAS] = "backbone.layers.%d.mixer.dt_bias";
    d->wname[W_LIN_D] = "backbone.layers.%d.mixer.D";
    d->wname[W_LIN_NORM] = "backbone.layers.%d.mixer.norm.weight";
    d->wname[W_LIN_OUT] = "backbone.layers.%d.mixer.out_proj.weight";
    d->gname[G_EMBED] = "backbone.embeddings.weight";
    d->gname[G_FINAL_NORM] = "backbone.norm_f.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    d->name_alt[0] = "backbone.embeddings."; /* a few early checkpoints: backbone.embedding.weight */
    d->name_alt[1] = "backbone.embedding.";
}

int rl_norm_nemotron_h(rl_model_desc *d, const cJSON *cfg, const char *file) {
    names(d);
    long long hd;
    double eps;
    if (rl_json_int(cfg, "head_dim", 0, &hd, file) || (!hd && rl_json_int(cfg, "attention_head_dim", 0, &hd, file)) ||
        rl_json_num(cfg, "layer_norm_epsilon", 1e-5, &eps, file)) return -1;
    if (hd) { /* explicit (not hidden / heads: 40 x 128 against 4480 in Nano 9B v2) */
        if (hd <= 0 || hd > 4096 || hd % 2) return rl_err("%s: head_dim %lld is invalid", file, hd);
        d->head_dim = (int)hd;
        d->attn_scale = 1.0f / sqrtf((float)hd);
    }
    d->norm_eps = (float)eps;
    const char *act;
    int mb;
    if (rl_json_str(cfg, "mlp_hidden_act", "relu2", &act, file) || rl_json_bool(cfg, "mlp_bias", 0, &mb, file)) return -1;
    if (strcmp(act, "relu2")) return rl_err("%s: mlp_hidden_act \"%s\" is not supported (relu2)", file, act);
    if (mb) return rl_err("%s: \"mlp_bias\" true is not supported", file);
    d->act = RL_ACT_RELU2;
    d->mlp_gated = 0;
    d->ropes[0].pairing = RL_ROPE_NONE; /* no positional embeddings: the Mamba layers carry position */
    if (layer_types(d, cfg, file)) return -1;
    int any_moe = 0;
    for (int l = 0; l < d->n_layers; l++) any_moe |= d->layer_moe[l];
    if (any_moe && experts(d, cfg, file)) return -1;
    for (int l = 0; l < d->n_layers; l++)
        if (d->layers[l].kind == RL_LAYER_LINEAR) return mamba(d, cfg, file);
    return 0;
}

/* Mamba2ForCausalLM: every layer a norm and a Mamba-2 mixer of num_heads x head_dim (= expand x
 * hidden) channels, state_size, n_groups, conv_kernel; the gated RMSNorm over all channels as
 * transformers' MambaRMSNormGated takes it. */
int rl_norm_mamba2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    names(d);
    int heads = 0, hd = 0, state = 0, groups = 0, conv = 0, cb = 0, pb = 0, rn = 0;
    double eps, expand;
    const char *act;
    if (pos_key(cfg, "num_heads", NULL, 128, 1 << 16, &heads, file) || pos_key(cfg, "head_dim", NULL, 64, 1 << 16, &hd, file) ||
        pos_key(cfg, "state_size", NULL, 128, 1024, &state, file) || pos_key(cfg, "n_groups", NULL, 8, 1 << 16, &groups, file) ||
        pos_key(cfg, "conv_kernel", NULL, 4, 64, &conv, file) || rl_json_bool(cfg, "use_conv_bias", 1, &cb, file) ||
        rl_json_bool(cfg, "use_bias", 0, &pb, file) || rl_json_bool(cfg, "rms_norm", 1, &rn, file) ||
        rl_json_num(cfg, "expand", 2, &expand, file) || rl_json_num(cfg, "layer_norm_epsilon", 1e-5, &eps, file) ||
        rl_json_str(cfg, "hidden_act", "silu", &act, file)) return -1;
    if ((long long)heads * hd != (long long)(expand * d->hidden))
        return rl_err("%s: num_heads %d x head_dim %d must equal expand x hidden_size = %g", file, heads, hd, expand * d->hidden);
    if (pb) return rl_err("%s: \"use_bias\" true (biases on in_proj / out_proj) is not supported", file);
    if (!rn) return rl_err("%s: \"rms_norm\" false (no gated norm) is not supported", file);
    if (rl_mamba_only_layers(d, act, eps, file)) return -1;
    return rl_mamba2_setup(d, cfg, file, heads, hd, state, groups, conv, cb, 1, NULL);
}
