/* Qwen3.5 family normalizer (Qwen3_5ForCausalLM / qwen3_5_text): a hybrid stack of Gated
 * DeltaNet linear-attention layers and gated full-attention layers (layer_types or
 * full_attention_interval), (1+w) RMSNorms including q/k norm, partial rotary (NeoX pairs), and
 * the tensor-name map. The interleaved MRoPE sections of the config reduce to plain RoPE for text
 * (all three position components equal), so one rope config serves every full-attention layer.
 * mtp.* tensors (multi-token prediction) are never named, hence never loaded. Qwen3-Next (the
 * generation before, fam_moe.c) is the same stack with fused linear-attention projections. */
#include "model/fam_qwen35.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

static void qwen35_names(rl_model_desc *d) {
    rl_family_llama_names(d);
    d->wname[W_LIN_QKV] = "model.layers.%d.linear_attn.in_proj_qkv.weight";
    d->wname[W_LIN_Z] = "model.layers.%d.linear_attn.in_proj_z.weight";
    d->wname[W_LIN_B] = "model.layers.%d.linear_attn.in_proj_b.weight";
    d->wname[W_LIN_A] = "model.layers.%d.linear_attn.in_proj_a.weight";
    d->wname[W_LIN_CONV] = "model.layers.%d.linear_attn.conv1d.weight";
    d->wname[W_LIN_A_LOG] = "model.layers.%d.linear_attn.A_log";
    d->wname[W_LIN_DT_BIAS] = "model.layers.%d.linear_attn.dt_bias";
    d->wname[W_LIN_NORM] = "model.layers.%d.linear_attn.norm.weight";
    d->wname[W_LIN_OUT] = "model.layers.%d.linear_attn.out_proj.weight";
    d->gname[G_EMBED] = "model.embed_tokens.weight";
    d->gname[G_FINAL_NORM] = "model.norm.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
}

void rl_qwen3_next_names(rl_model_desc *d) {
    d->wname[W_LIN_QKV] = "model.layers.%d.linear_attn.in_proj_qkvz.weight";
    d->wname[W_LIN_B] = "model.layers.%d.linear_attn.in_proj_ba.weight";
    d->wname[W_LIN_Z] = d->wname[W_LIN_A] = NULL;
    d->lin_fused = 1;
}

static int req_pos(const cJSON *cfg, const char *key, long long def, int *out, const char *file) {
    long long v;
    if (rl_json_int(cfg, key, def, &v, file)) return -1;
    if (v <= 0 || v > 65536) return rl_err("%s: \"%s\" = %lld is missing or out of range", file, key, v);
    *out = (int)v;
    return 0;
}

int rl_norm_qwen35(rl_model_desc *d, const cJSON *cfg, const char *file) {
    qwen35_names(d);
    /* the multimodal checkpoints (Qwen3_5ForConditionalGeneration; config in text_config) name the
     * text stack model.language_model.*; the vision tower (model.visual.*) is never read */
    if (strstr(d->arch, "ForConditionalGeneration")) { d->name_alt[0] = "model."; d->name_alt[1] = "model.language_model."; }
    d->norm_one_plus = 1; /* Qwen3_5RMSNorm: x * (1 + w), incl. q/k norm (the gated norm is plain w) */
    d->qk_norm = 1;
    int ab, gate;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "attn_output_gate", 1, &gate, file)) return -1;
    if (ab) return rl_err("%s: qwen3_5: \"attention_bias\" true is not supported", file);
    d->attn_out_gate = gate;
    if (d->act != RL_ACT_SILU) return rl_err("%s: qwen3_5: the Gated DeltaNet needs hidden_act silu", file);

    /* layer kinds: explicit layer_types, else every full_attention_interval-th layer is full */
    const cJSON *lt = rl_json_get(cfg, "layer_types");
    if (lt) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers)
            return rl_err("%s: \"layer_types\" must be a list of %d strings", file, d->n_layers);
        for (int l = 0; l < d->n_layers; l++) {
            const cJSON *v = cJSON_GetArrayItem(lt, l);
            if (!cJSON_IsString(v)) return rl_err("%s: \"layer_types\"[%d] is not a string", file, l);
            if (!strcmp(v->valuestring, "linear_attention")) d->layers[l].kind = RL_LAYER_LINEAR;
            else if (!strcmp(v->valuestring, "full_attention")) d->layers[l].kind = RL_LAYER_FULL;
            else return rl_err("%s: \"layer_types\"[%d] = \"%s\" is not supported (linear_attention, full_attention)",
                               file, l, v->valuestring);
        }
    } else {
        int every = 4;
        if (req_pos(cfg, "full_attention_interval", 4, &every, file)) return -1;
        for (int l = 0; l < d->n_layers; l++) d->layers[l].kind = (l + 1) % every ? RL_LAYER_LINEAR : RL_LAYER_FULL;
    }

    if (req_pos(cfg, "linear_num_key_heads", 0, &d->lin_k_heads, file) ||
        req_pos(cfg, "linear_num_value_heads", 0, &d->lin_v_heads, file) ||
        req_pos(cfg, "linear_key_head_dim", 0, &d->lin_k_dim, file) ||
        req_pos(cfg, "linear_value_head_dim", 0, &d->lin_v_dim, file) ||
        req_pos(cfg, "linear_conv_kernel_dim", 4, &d->lin_conv_k, file)) return -1;
    if (d->lin_v_heads % d->lin_k_heads)
        return rl_err("%s: linear_num_value_heads %d must be a multiple of linear_num_key_heads %d", file,
                      d->lin_v_heads, d->lin_k_heads);
    const char *ssm;
    if (rl_json_str(cfg, "mamba_ssm_dtype", "float32", &ssm, file)) return -1;
    if (strcmp(ssm, "float32")) return rl_err("%s: \"mamba_ssm_dtype\" \"%s\" is not supported (float32)", file, ssm);
    return 0;
}
