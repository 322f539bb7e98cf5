/* Hunyuan dense (HunYuanDenseV1ForCausalLM, Tencent's Hunyuan 0.5B / 1.8B / 4B / 7B): a Llama decoder
 * whose per-head q / k RMSNorms (query_layernorm / key_layernorm) come after the rotary embedding,
 * and whose "dynamic" rope scaling with an alpha is a fixed base, theta * alpha^(head_dim /
 * (head_dim - 2)) (transformers' DynamicNTKAlphaRotary). Its MoE sibling (HunYuanMoEV1) drops tokens
 * over an expert capacity that depends on the batch, which is not followed: refused. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

int rl_norm_hunyuan_dense(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_Q_NORM] = "model.layers.%d.self_attn.query_layernorm.weight";
    d->wname[W_K_NORM] = "model.layers.%d.self_attn.key_layernorm.weight";
    int ab, mb, qkn;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "mlp_bias", 0, &mb, file) ||
        rl_json_bool(cfg, "use_qk_norm", 1, &qkn, file)) return -1;
    if (mb) return rl_err("%s: \"mlp_bias\" true is not supported", file);
    d->qkv_bias = d->o_bias = ab;
    d->qk_norm = qkn;
    d->qk_norm_after_rope = 1;
    const cJSON *sc = rl_json_get(cfg, "rope_parameters");
    if (!sc) sc = rl_json_get(cfg, "rope_scaling");
    const cJSON *alpha = sc && cJSON_IsObject(sc) ? rl_json_get(sc, "alpha") : NULL;
    if (alpha) {
        if (!cJSON_IsNumber(alpha) || !(alpha->valuedouble > 0)) return rl_err("%s: rope \"alpha\" must be a positive number", file);
        if (d->ropes[0].scaling != RL_RS_DYNAMIC) return rl_err("%s: rope \"alpha\" goes with the dynamic rope type only", file);
        int hd = d->head_dim;
        d->ropes[0].theta *= pow(alpha->valuedouble, (double)hd / (hd - 2));
        d->ropes[0].scaling = RL_RS_NONE; /* (a fixed base; attention_scaling 1) */
        d->ropes[0].factor = 0;
    }
    return 0;
}
