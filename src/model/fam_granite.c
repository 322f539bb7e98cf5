/* IBM Granite: Granite 3.x dense (GraniteForCausalLM), Granite 3.x MoE (GraniteMoeForCausalLM),
 * with a shared MLP (GraniteMoeSharedForCausalLM) and Granite 4.0 (GraniteMoeHybridForCausalLM)
 * whose layers are attention or Mamba-2 (the 4.0-H models; deltanet.c runs them as RL_LIN_MAMBA2
 * linear layers), and IBM's Bamba (BambaForCausalLM: Llama attention on attn_layer_indices with
 * rotary embeddings on half of each head, Mamba-2 elsewhere, a gated MLP after every layer).
 * Granite is a Llama decoder with four multipliers from config.json:
 * embeddings x embedding_multiplier, softmax scale attention_multiplier, each sublayer's output
 * x residual_multiplier before its residual add, logits / logits_scaling. Experts are fused:
 * block_sparse_moe.input_linear [E, 2*I, H] (gate rows, then up rows) and output_linear
 * [E, H, I], router.layer [E, H] with softmax over the top-k logits; the shared MLP is
 * shared_mlp.input_linear [2*S, H] (gate, up) and output_linear [H, S], added to the experts'
 * output (or the whole MLP when a Granite 4.0 model has no experts). */
#include "model/fam_granite.h"
#include "model/family.h"
#include "model/mamba2_config.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

/* The four multipliers (transformers' defaults 1) and Llama's attention_bias. */
static int multipliers(rl_model_desc *d, const cJSON *cfg, const char *file) {
    double em, am, rm, ls;
    int ab;
    if (rl_json_num(cfg, "embedding_multiplier", 1.0, &em, file) || rl_json_num(cfg, "attention_multiplier", 1.0, &am, file) ||
        rl_json_num(cfg, "residual_multiplier", 1.0, &rm, file) || rl_json_num(cfg, "logits_scaling", 1.0, &ls, file) ||
        rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    if (!(am > 0) || !(ls > 0) || !(em == em) || !(rm == rm))
        return rl_err("%s: attention_multiplier and logits_scaling must be positive (got %g, %g)", file, am, ls);
    d->emb_scale = (float)em;
    d->attn_scale = (float)am;
    d->resid_mult = (float)rm;
    d->logit_div = (float)ls;
    d->qkv_bias = d->o_bias = ab;
    return 0;
}

int rl_norm_granite(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    int mb;
    if (rl_json_bool(cfg, "mlp_bias", 0, &mb, file)) return -1;
    d->mlp_bias = mb;
    return multipliers(d, cfg, file);
}

/* Expert and router names; softmax over the top-k logits = softmax, then renormalised. */
static int experts(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 1);
    d->wname[W_MOE_ROUTER] = "model.layers.%d.block_sparse_moe.router.layer.weight";
    d->ename[0] = "model.layers.%d.block_sparse_moe.input_linear.weight";
    d->ename[2] = "model.layers.%d.block_sparse_moe.output_linear.weight";
    if (rl_moe_parse(d, cfg, file, 1, 0)) return -1;
    d->moe_norm_topk = 1;
    d->moe_shared_inter = 0;
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = 1;
    return 0;
}

/* The shared MLP beside the experts (shared_intermediate_size). */
static int shared_mlp(rl_model_desc *d, const cJSON *cfg, const char *file) {
    long long s;
    if (rl_json_int(cfg, "shared_intermediate_size", 0, &s, file)) return -1;
    if (s < 0 || s > (1ll << 24)) return rl_err("%s: shared_intermediate_size %lld is invalid", file, s);
    d->moe_shared_inter = (int)s;
    d->moe_shared_fused = 1;
    d->wname[W_SHX_GATE] = "model.layers.%d.shared_mlp.input_linear.weight";
    d->wname[W_SHX_UP] = NULL;
    d->wname[W_SHX_DOWN] = "model.layers.%d.shared_mlp.output_linear.weight";
    return 0;
}

int rl_norm_granitemoe(rl_model_desc *d, const cJSON *cfg, const char *file) {
    return experts(d, cfg, file) || multipliers(d, cfg, file) ? -1 : 0;
}

int rl_norm_granitemoeshared(rl_model_desc *d, const cJSON *cfg, const char *file) {
    return rl_norm_granitemoe(d, cfg, file) || shared_mlp(d, cfg, file) ? -1 : 0;
}

/* An integer key in [1, max] (default def). */
static int pos_int(const cJSON *cfg, const char *key, long long def, long long max, int *out, const char *file) {
    long long v;
    if (rl_json_int(cfg, key, def, &v, file)) return -1;
    if (v < 1 || v > max) return rl_err("%s: \"%s\" = %lld is out of range (1..%lld)", file, key, v, max);
    *out = (int)v;
    return 0;
}

/* The Mamba-2 mixer of Granite 4.0-H (transformers' GraniteMoeHybridMambaLayer): intermediate I =
 * mamba_expand * hidden in mamba_n_heads heads of mamba_d_head ("auto": I / heads), B / C in
 * mamba_n_groups groups of mamba_d_state, a depthwise conv of mamba_d_conv with a bias
 * (mamba_conv_bias) and the model's hidden_act (SiLU), the gated RMSNorm over all of I. */
static int mamba_mixer(rl_model_desc *d, const cJSON *cfg, const char *file) {
    int heads = 0, groups = 0, state = 0, conv = 0, expand = 0, head_dim = 0, cb = 0, pb = 0;
    if (pos_int(cfg, "mamba_n_heads", 128, 1 << 16, &heads, file) || pos_int(cfg, "mamba_n_groups", 1, 1 << 16, &groups, file) ||
        pos_int(cfg, "mamba_d_state", 256, 1024, &state, file) || pos_int(cfg, "mamba_d_conv", 4, 64, &conv, file) ||
        pos_int(cfg, "mamba_expand", 2, 64, &expand, file) || rl_json_bool(cfg, "mamba_conv_bias", 1, &cb, file) ||
        rl_json_bool(cfg, "mamba_proj_bias", 0, &pb, file)) return -1;
    long long I = (long long)expand * d->hidden;
    const cJSON *dh = rl_json_get(cfg, "mamba_d_head");
    if (!dh || (cJSON_IsString(dh) && !strcmp(dh->valuestring, "auto"))) {
        if (I % heads) return rl_err("%s: mamba_n_heads %d must divide mamba_expand * hidden_size = %lld", file, heads, I);
        head_dim = (int)(I / heads);
    } else if (pos_int(cfg, "mamba_d_head", 0, 1 << 16, &head_dim, file)) return -1;
    if ((long long)head_dim * heads != I)
        return rl_err("%s: mamba_n_heads %d x mamba_d_head %d must equal mamba_expand * hidden_size = %lld", file, heads, head_dim, I);
    if (heads % groups) return rl_err("%s: mamba_n_heads %d must be a multiple of mamba_n_groups %d", file, heads, groups);
    if (pb) return rl_err("%s: \"mamba_proj_bias\" true (biases on in_proj / out_proj) is not supported", file);
    if (d->act != RL_ACT_SILU) return rl_err("%s: the Mamba-2 layers need hidden_act silu (their conv activation)", file);
    /* GraniteMoeHybridRMSNormGated: one norm over all channels */
    if (rl_mamba2_setup(d, cfg, file, heads, head_dim, state, groups, conv, cb, 1, NULL)) return -1;
    d->wname[W_LIN_QKV] = "model.layers.%d.mamba.in_proj.weight";
    d->wname[W_LIN_CONV] = "model.layers.%d.mamba.conv1d.weight";
    d->wname[W_LIN_CONV_B] = "model.layers.%d.mamba.conv1d.bias";
    d->wname[W_LIN_A_LOG] = "model.layers.%d.mamba.A_log";
    d->wname[W_LIN_DT_BIAS] = "model.layers.%d.mamba.dt_bias";
    d->wname[W_LIN_D] = "model.layers.%d.mamba.D";
    d->wname[W_LIN_NORM] = "model.layers.%d.mamba.norm.weight";
    d->wname[W_LIN_OUT] = "model.layers.%d.mamba.out_proj.weight";
    return 0;
}

/* Granite 4.0: layer_types (default: every layer "mamba"): attention or Mamba-2 layers. Experts
 * when num_local_experts > 0 (default 8), else the shared MLP is the dense MLP. Rotary
 * embeddings only with position_embedding_type "rope" (else none: NoPE). */
int rl_norm_granitemoehybrid(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *lt = rl_json_get(cfg, "layer_types");
    if (!lt) lt = rl_json_get(cfg, "layers_block_type");
    if (lt && (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers))
        return rl_err("%s: \"layer_types\" must be a list of %d entries", file, d->n_layers);
    int n_mamba = 0;
    for (int l = 0; l < d->n_layers; l++) {
        const cJSON *v = lt ? cJSON_GetArrayItem(lt, l) : NULL;
        const char *k = v && cJSON_IsString(v) ? v->valuestring : lt ? "?" : "mamba";
        if (!strcmp(k, "mamba")) { d->layers[l].kind = RL_LAYER_LINEAR; n_mamba++; }
        else if (strcmp(k, "attention")) return rl_err("%s: \"layer_types\"[%d] must be \"mamba\" or \"attention\"", file, l);
    }
    if (n_mamba && mamba_mixer(d, cfg, file)) return -1;
    long long E;
    if (rl_json_int(cfg, "num_local_experts", 8, &E, file)) return -1;
    if (E > 0) {
        if (rl_norm_granitemoeshared(d, cfg, file)) return -1;
    } else {
        long long s;
        if (multipliers(d, cfg, file) || rl_json_int(cfg, "shared_intermediate_size", 1024, &s, file)) return -1;
        if (s <= 0 || s > (1ll << 24)) return rl_err("%s: shared_intermediate_size %lld is invalid", file, s);
        rl_family_llama_names(d);
        d->intermediate = (int)s;
        d->wname[W_GATE] = d->wname[W_UP] = NULL;
        d->wname[W_GATE_UP] = "model.layers.%d.shared_mlp.input_linear.weight";
        d->wname[W_DOWN] = "model.layers.%d.shared_mlp.output_linear.weight";
    }
    const char *pe;
    if (rl_json_str(cfg, "position_embedding_type", "", &pe, file)) return -1;
    if (strcmp(pe, "rope")) d->ropes[0].pairing = RL_ROPE_NONE;
    return 0;
}

/* Bamba (transformers' BambaForCausalLM): attention on the layers of attn_layer_indices, Mamba-2
 * (Granite 4.0-H's mixer; dt never clamped) on the others, then pre_ff_layernorm and the gated
 * MLP feed_forward.{gate,up,down}_proj after every layer; model.final_layernorm. BambaConfig
 * fixes rotary embeddings on half of each head (partial_rotary_factor 0.5, theta 10000 unless
 * config.json says otherwise), no attention or MLP biases. */
int rl_norm_bamba(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    rl_family_ff_names(d);
    d->gname[G_FINAL_NORM] = "model.final_layernorm.weight";
    const cJSON *ai = rl_json_get(cfg, "attn_layer_indices"), *v;
    if (ai && !cJSON_IsNull(ai) && !cJSON_IsArray(ai)) return rl_err("%s: \"attn_layer_indices\" must be a list of layer numbers", file);
    for (int l = 0; l < d->n_layers; l++) d->layers[l].kind = RL_LAYER_LINEAR;
    const cJSON *list = cJSON_IsArray(ai) ? ai : NULL;
    cJSON_ArrayForEach(v, list) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= d->n_layers || v->valuedouble != (int)v->valuedouble)
            return rl_err("%s: \"attn_layer_indices\" holds %g, not a layer of %d", file, cJSON_IsNumber(v) ? v->valuedouble : -1.0, d->n_layers);
        d->layers[(int)v->valuedouble].kind = RL_LAYER_FULL;
    }
    if (!rl_json_get(cfg, "partial_rotary_factor")) { /* BambaConfig's 0.5 */
        d->ropes[0].rot_dims = d->head_dim / 2;
        d->ropes[0].rot_dims -= d->ropes[0].rot_dims % 2;
    }
    int ab, mb;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "mlp_bias", 0, &mb, file)) return -1;
    if (ab || mb) return rl_err("%s: Bamba with attention / MLP biases is not supported", file);
    if (mamba_mixer(d, cfg, file)) return -1;
    d->lin_dt_min = 0.0f; /* BambaMixer's time_step_limit is fixed (0, inf) */
    d->lin_dt_max = INFINITY;
    return 0;
}
