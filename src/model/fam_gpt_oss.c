/* gpt-oss (GptOssForCausalLM, OpenAI's gpt-oss-20b / -120b): a Llama-style decoder with q/k/v/o
 * biases, attention sinks (self_attn.sinks: one logit per head joining its softmax), sliding
 * (layer_types, sliding_window) and full attention layers, YaRN rope with an unrounded
 * correction range ("truncate": false), and a MoE MLP in every layer: router Linear with bias
 * (softmax over the top-k logits), fused experts with biases whose gate_up rows interleave gate
 * and up (row 2j gate j, 2j+1 up j), the clamped SwiGLU (alpha 1.702, limit 7), stored as MXFP4
 * (<name>_blocks [E, rows, cols/32, 16] + <name>_scales [E, rows, cols/32]) in OpenAI's release,
 * or plain and transposed ([E, in, out]) in the dequantised BF16 re-uploads. */
#include "model/fam_gpt_oss.h"
#include "model/family.h"
#include "model/moe_config.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_gpt_oss(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_moe_names_llama(d, 1);
    d->wname[W_SINKS] = "model.layers.%d.self_attn.sinks";
    d->wname[W_MOE_ROUTER] = "model.layers.%d.mlp.router.weight";
    d->wname[W_MOE_ROUTER_B] = "model.layers.%d.mlp.router.bias";
    d->ename[0] = "model.layers.%d.mlp.experts.gate_up_proj";
    d->ename[2] = "model.layers.%d.mlp.experts.down_proj";
    d->ename_b[0] = "model.layers.%d.mlp.experts.gate_up_proj_bias";
    d->ename_b[2] = "model.layers.%d.mlp.experts.down_proj_bias";
    if (rl_moe_parse(d, cfg, file, 1, 0)) return -1;
    d->moe_norm_topk = 1; /* softmax over the top-k logits = softmax, then the top-k renormalised */
    d->moe_shared_inter = 0;
    d->moe_router_b = d->moe_interleaved = 1;
    d->moe_transposed = 1; /* plain (dequantised) experts are stored [E, in, out]; the MXFP4 ones [E, out, in] */
    for (int l = 0; l < d->n_layers; l++) d->layer_moe[l] = 1;
    int ab;
    double alpha, limit;
    if (rl_json_bool(cfg, "attention_bias", 1, &ab, file) || rl_json_num(cfg, "swiglu_alpha", 1.702, &alpha, file) ||
        rl_json_num(cfg, "swiglu_limit", 7.0, &limit, file)) return -1;
    if (alpha != 1.702 || limit != 7.0)
        return rl_err("%s: swiglu_alpha %g / swiglu_limit %g: only gpt-oss's 1.702 / 7 are supported", file, alpha, limit);
    d->qkv_bias = d->o_bias = ab;
    d->attn_sinks = 1;
    d->act = RL_ACT_SWIGLU_OAI;
    long long w;
    if (rl_json_int(cfg, "sliding_window", 128, &w, file)) return -1;
    return rl_family_sliding_layers(d, cfg, file, w, 2); /* transformers' default: even layers sliding */
}
