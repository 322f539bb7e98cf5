/* IBM Granite: Granite 3.x dense (GraniteForCausalLM), Granite 3.x MoE (GraniteMoeForCausalLM),
 * with a shared MLP (GraniteMoeSharedForCausalLM) and Granite 4.0 (GraniteMoeHybridForCausalLM)
 * whose layers are all attention. A Llama decoder with four multipliers from config.json:
 * embeddings x embedding_multiplier, softmax scale attention_multiplier, each sublayer's output
 * x residual_multiplier before its residual add, logits / logits_scaling. Experts are fused:
 * block_sparse_moe.input_linear [E, 2*I, H] (gate rows, then up rows) and output_linear
 * [E, H, I], router.layer [E, H] with softmax over the top-k logits; the shared MLP is
 * shared_mlp.input_linear [2*S, H] (gate, up) and output_linear [H, S], added to the experts'
 * output (or the whole MLP when a Granite 4.0 model has no experts). */
#include "model/fam_granite.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
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

/* Granite 4.0: layer_types (default: every layer "mamba"); only attention layers are supported.
 * Experts when num_local_experts > 0 (default 8), else the shared MLP is the dense MLP. Rotary
 * embeddings only with position_embedding_type "rope" (else none: NoPE). */
int rl_norm_granitemoehybrid(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *lt = rl_json_get(cfg, "layer_types");
    if (!lt) lt = rl_json_get(cfg, "layers_block_type");
    if (lt && (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers))
        return rl_err("%s: \"layer_types\" must be a list of %d entries", file, d->n_layers);
    for (int l = 0; l < d->n_layers; l++) {
        const cJSON *v = lt ? cJSON_GetArrayItem(lt, l) : NULL;
        const char *k = v && cJSON_IsString(v) ? v->valuestring : lt ? "?" : "mamba";
        if (!strcmp(k, "mamba"))
            return rl_err("%s: layer %d is a Mamba-2 layer (Granite 4.0-H hybrid): not supported yet; Granite 4.0 models whose "
                          "layers are all \"attention\" are", file, l);
        if (strcmp(k, "attention")) return rl_err("%s: \"layer_types\"[%d] must be \"mamba\" or \"attention\"", file, l);
    }
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
