/* EXAONE 4.0 (Exaone4ForCausalLM) and the local / global layer rule EXAONE models share
 * (EXAONE-MoE in fam_moe.c). EXAONE 4.0: norms after the sublayers only (post_attention_layernorm,
 * post_feedforward_layernorm: "QK-Reorder-LN"), per-head q/k RMSNorm, sliding-window layers with
 * RoPE and, when a window is set, global layers without (NoPE). EXAONE 3.0 / 3.5 (ExaoneForCausalLM,
 * LG's remote-code models): a Llama decoder under GPT-2-like names (transformer.wte, h.%d.ln_1,
 * attn.attention.*_proj / out_proj, ln_2, mlp.c_fc_0 (gate) / c_fc_1 (up) / c_proj, ln_f),
 * num_layers, layer_norm_epsilon, activation_function silu. */
#include "model/fam_moe.h"
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_exaone(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "transformer.h.%d.ln_1.weight";
    d->wname[W_Q] = "transformer.h.%d.attn.attention.q_proj.weight";
    d->wname[W_K] = "transformer.h.%d.attn.attention.k_proj.weight";
    d->wname[W_V] = "transformer.h.%d.attn.attention.v_proj.weight";
    d->wname[W_O] = "transformer.h.%d.attn.attention.out_proj.weight";
    d->wname[W_MLP_NORM] = "transformer.h.%d.ln_2.weight";
    d->wname[W_GATE] = "transformer.h.%d.mlp.c_fc_0.weight";
    d->wname[W_UP] = "transformer.h.%d.mlp.c_fc_1.weight";
    d->wname[W_DOWN] = "transformer.h.%d.mlp.c_proj.weight";
    d->gname[G_EMBED] = "transformer.wte.weight";
    d->gname[G_FINAL_NORM] = "transformer.ln_f.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    double eps;
    const char *act;
    if (rl_json_num(cfg, "layer_norm_epsilon", rl_json_get(cfg, "rms_norm_eps") ? d->norm_eps : 1e-5, &eps, file) || /* (GGUF: rms_norm_eps) */
        rl_json_str(cfg, "activation_function", "silu", &act, file)) return -1;
    if (strcmp(act, "silu")) return rl_err("%s: activation_function \"%s\" is not supported (EXAONE: silu)", file, act);
    d->norm_eps = (float)eps;
    return 0;
}

int rl_exaone_layers(rl_model_desc *d, const cJSON *cfg, const char *file, int last_global) {
    long long w;
    if (rl_json_int(cfg, "sliding_window", 0, &w, file)) return -1;
    if (w <= 0) return 0;
    const cJSON *lt = rl_json_get(cfg, "layer_types"), *sp = rl_json_get(cfg, "sliding_window_pattern");
    const char *pat = sp && cJSON_IsString(sp) ? sp->valuestring : NULL;
    if (lt || !pat) {
        /* layer_types, else an integer pattern (default 4): every pat-th layer is global */
        long long every = 0;
        if (!lt && rl_json_int(cfg, "sliding_window_pattern", 4, &every, file)) return -1;
        if (!lt && every <= 0) return rl_err("%s: sliding_window_pattern must be positive", file);
        if (rl_family_sliding_layers(d, cfg, file, w, every)) return -1;
        if (!lt && last_global) d->layers[d->n_layers - 1].kind = RL_LAYER_FULL;
    } else {
        size_t n = pat ? strlen(pat) : 0;
        if (!n) return rl_err("%s: sliding_window_pattern is empty", file);
        for (int l = 0; l < d->n_layers; l++) {
            char c = pat[l % n];
            if (c != 'L' && c != 'G') return rl_err("%s: sliding_window_pattern \"%s\" must hold only L and G", file, pat);
            d->layers[l].kind = c == 'L' ? RL_LAYER_SLIDING : RL_LAYER_FULL;
        }
        if (last_global) d->layers[d->n_layers - 1].kind = RL_LAYER_FULL;
    }
    /* global layers: no RoPE (a second rope config with no rotation) */
    d->n_ropes = 2;
    d->ropes[1] = d->ropes[0];
    d->ropes[1].pairing = RL_ROPE_NONE;
    for (int l = 0; l < d->n_layers; l++) {
        if (d->layers[l].kind == RL_LAYER_SLIDING) { d->layers[l].window = (int)w; d->layers[l].rope = 0; }
        else d->layers[l].rope = 1;
    }
    return 0;
}

int rl_norm_exaone4(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_POST_ATTN_NORM] = "model.layers.%d.post_attention_layernorm.weight";
    d->wname[W_POST_MLP_NORM] = "model.layers.%d.post_feedforward_layernorm.weight";
    d->no_pre_norms = d->post_norms = 1;
    d->qk_norm = 1;
    return rl_exaone_layers(d, cfg, file, 0);
}
