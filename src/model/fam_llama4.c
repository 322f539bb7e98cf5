/* Llama 4 (Llama4ForCausalLM; the text model of Llama4ForConditionalGeneration, Scout and
 * Maverick, run by mm_text): a Llama decoder whose rotary layers (interleaved pairs, llama3
 * scaling) attend within chunks of attention_chunk_size positions and normalise q / k per head
 * without a weight (use_qk_norm), whose NoPE layers (no_rope_layers, every 4th by default) attend
 * over everything with the attention temperature on their queries (attn_temperature_tuning), and
 * whose MoE layers (moe_layers, or every interleave_moe_layer_step-th) route each token to its
 * top-k experts by sigmoid(logit), that weight multiplying the expert's input, plus an always-on
 * shared expert; experts fused as feed_forward.experts.gate_up_proj [E, hidden, 2I] (gate, then
 * up) and down_proj [E, I, hidden], or, in the pre-quantized (FP8) releases, per expert
 * (experts.N.{gate,up,down}_proj: ename_split); dense layers use intermediate_size_mlp. */
#include "model/fam_moe.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

static int moe_layers(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *ml = rl_json_get(cfg, "moe_layers"), *v;
    long long step;
    if (rl_json_int(cfg, "interleave_moe_layer_step", 1, &step, file)) return -1;
    if (ml) {
        if (!cJSON_IsArray(ml)) return rl_err("%s: \"moe_layers\" must be a list of layer indices", file);
        cJSON_ArrayForEach(v, ml) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= d->n_layers || v->valuedouble != (int)v->valuedouble)
                return rl_err("%s: \"moe_layers\" holds %s, not a layer index below %d", file, cJSON_IsNumber(v) ? "a number out of range" : "a non-number", d->n_layers);
            d->layer_moe[(int)v->valuedouble] = 1;
        }
        return 0;
    }
    if (step <= 0) return rl_err("%s: interleave_moe_layer_step %lld must be positive", file, step);
    for (long long l = step - 1; l < d->n_layers; l += step) d->layer_moe[l] = 1;
    return 0;
}

/* layer_types ("chunked_attention" / "full_attention"), else the rotary layers are chunked. */
static int chunked_layers(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *lt = rl_json_get(cfg, "layer_types");
    if (lt && (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers))
        return rl_err("%s: \"layer_types\" must be a list of %d entries", file, d->n_layers);
    for (int l = 0; l < d->n_layers; l++) {
        const cJSON *v = lt ? cJSON_GetArrayItem(lt, l) : NULL;
        if (!lt) { d->layers[l].chunked = d->layers[l].rope == 0; continue; }
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "chunked_attention") && strcmp(v->valuestring, "full_attention")))
            return rl_err("%s: \"layer_types\"[%d] must be \"chunked_attention\" or \"full_attention\"", file, l);
        d->layers[l].chunked = !strcmp(v->valuestring, "chunked_attention");
    }
    return 0;
}

int rl_norm_llama4(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_GATE] = "model.layers.%d.feed_forward.gate_proj.weight";
    d->wname[W_UP] = "model.layers.%d.feed_forward.up_proj.weight";
    d->wname[W_DOWN] = "model.layers.%d.feed_forward.down_proj.weight";
    d->wname[W_UP_B] = d->wname[W_DOWN_B] = "";
    d->wname[W_MOE_ROUTER] = "model.layers.%d.feed_forward.router.weight";
    d->wname[W_SHX_GATE] = "model.layers.%d.feed_forward.shared_expert.gate_proj.weight";
    d->wname[W_SHX_UP] = "model.layers.%d.feed_forward.shared_expert.up_proj.weight";
    d->wname[W_SHX_DOWN] = "model.layers.%d.feed_forward.shared_expert.down_proj.weight";
    d->ename[0] = "model.layers.%d.feed_forward.experts.gate_up_proj";
    d->ename[2] = "model.layers.%d.feed_forward.experts.down_proj";
    d->ename_split[0] = "model.layers.%d.feed_forward.experts.%d.gate_proj.weight"; /* the FP8 releases: per expert */
    d->ename_split[1] = "model.layers.%d.feed_forward.experts.%d.up_proj.weight";
    d->ename_split[2] = "model.layers.%d.feed_forward.experts.%d.down_proj.weight";

    long long E, k, imlp, floor_scale, chunk = 0;
    int ab, qkn, temp;
    double ascale;
    if (rl_json_int(cfg, "num_local_experts", 16, &E, file) || rl_json_int(cfg, "num_experts_per_tok", 1, &k, file) ||
        rl_json_int(cfg, "intermediate_size_mlp", 16384, &imlp, file) || rl_json_bool(cfg, "attention_bias", 0, &ab, file) ||
        rl_json_bool(cfg, "use_qk_norm", 1, &qkn, file) || rl_json_bool(cfg, "attn_temperature_tuning", 1, &temp, file) ||
        rl_json_int(cfg, "floor_scale", 8192, &floor_scale, file) || rl_json_num(cfg, "attn_scale", 0.1, &ascale, file))
        return -1;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(cfg, "attention_chunk_size"); /* null: no chunks */
    if (!cs && rl_json_int(cfg, "attention_chunk_size", 8192, &chunk, file)) return -1;
    if (cs && !cJSON_IsNull(cs) && rl_json_int(cfg, "attention_chunk_size", 0, &chunk, file)) return -1;
    if (E <= 0 || E > 4096) return rl_err("%s: num_local_experts %lld must be in 1..4096", file, E);
    if (k <= 0 || k > E) return rl_err("%s: num_experts_per_tok %lld must be in 1..%lld", file, k, E);
    if (imlp <= 0 || imlp > (1ll << 24)) return rl_err("%s: intermediate_size_mlp %lld is invalid", file, imlp);
    if (chunk < 0 || chunk > (1ll << 30)) return rl_err("%s: attention_chunk_size %lld is invalid", file, chunk);
    if (temp && (floor_scale <= 0 || floor_scale > (1ll << 30))) return rl_err("%s: floor_scale %lld must be positive", file, floor_scale);
    d->qkv_bias = d->o_bias = ab;

    /* rotary layers: interleaved pairs (transformers' complex rotation); NoPE layers: rope 1 */
    d->ropes[0].pairing = RL_ROPE_GPTJ;
    if (rl_family_nope_layers(d, cfg, file) || chunked_layers(d, cfg, file) || moe_layers(d, cfg, file)) return -1;
    d->attn_chunk = (int)chunk;
    d->attn_temp_scale = temp ? (float)ascale : 0;
    d->attn_temp_floor = (int)floor_scale;
    int any_dense = 0;
    for (int l = 0; l < d->n_layers; l++) {
        int rope = d->layers[l].rope == 0;
        d->layers[l].qk_l2 = qkn && rope;
        d->layers[l].temp_tuned = temp && !rope;
        any_dense |= !d->layer_moe[l];
    }

    /* experts: intermediate_size each, the shared expert too; dense layers intermediate_size_mlp */
    d->n_experts = (int)E;
    d->n_experts_used = (int)k;
    d->moe_inter = d->moe_shared_inter = d->intermediate;
    d->moe_sigmoid = 1;
    d->moe_scale = 1;
    d->moe_n_group = d->moe_topk_group = 1;
    d->moe_fused = d->moe_transposed = 1;
    d->moe_input_scaled = 1;
    if (any_dense) d->intermediate = (int)imlp;
    return 0;
}
