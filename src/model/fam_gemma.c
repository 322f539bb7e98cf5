/* Gemma family normalizers (Gemma 1, Gemma 2, Gemma 3 text and the text stack of Gemma 3
 * multimodal checkpoints): (1+w) RMSNorms, embeddings x sqrt(hidden), GELU-tanh GeGLU,
 * query_pre_attn_scalar, attention / final logit softcaps, pre+post attention and MLP norms,
 * per-layer sliding windows (layer_types, sliding_window_pattern, or Gemma 2's even layers), and
 * Gemma 3's two rotary configs (global: rope_theta + rope_scaling; local: rope_local_base_freq,
 * unscaled), also in the transformers v5 per-layer-type rope_parameters form. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

/* Name maps: text-only checkpoints ("model.*") and multimodal ones ("model.language_model.*",
 * with the original "language_model.model.*" upload as the fallback prefix). */
#define GEMMA_NAMES(P) { \
    P "layers.%d.input_layernorm.weight", P "layers.%d.self_attn.q_proj.weight", \
    P "layers.%d.self_attn.k_proj.weight", P "layers.%d.self_attn.v_proj.weight", \
    P "layers.%d.self_attn.o_proj.weight", P "layers.%d.self_attn.q_norm.weight", \
    P "layers.%d.self_attn.k_norm.weight", P "layers.%d.post_attention_layernorm.weight", \
    P "layers.%d.pre_feedforward_layernorm.weight", P "layers.%d.post_feedforward_layernorm.weight", \
    P "layers.%d.mlp.gate_proj.weight", P "layers.%d.mlp.up_proj.weight", \
    P "layers.%d.mlp.down_proj.weight", P "embed_tokens.weight", P "norm.weight" }
static const char *const NAMES_TEXT[] = GEMMA_NAMES("model.");
static const char *const NAMES_MM[] = GEMMA_NAMES("model.language_model.");

static void gemma_names(rl_model_desc *d, int mm, int gemma1) {
    const char *const *n = mm ? NAMES_MM : NAMES_TEXT;
    d->wname[W_ATTN_NORM] = n[0];
    d->wname[W_Q] = n[1]; d->wname[W_K] = n[2]; d->wname[W_V] = n[3]; d->wname[W_O] = n[4];
    d->wname[W_Q_NORM] = n[5]; d->wname[W_K_NORM] = n[6];
    if (gemma1) d->wname[W_MLP_NORM] = n[7]; /* Gemma 1: post_attention_layernorm is the pre-MLP norm */
    else {
        d->wname[W_POST_ATTN_NORM] = n[7];
        d->wname[W_MLP_NORM] = n[8];
        d->wname[W_POST_MLP_NORM] = n[9];
    }
    d->wname[W_GATE] = n[10]; d->wname[W_UP] = n[11]; d->wname[W_DOWN] = n[12];
    d->gname[G_EMBED] = n[13];
    d->gname[G_FINAL_NORM] = n[14];
    d->gname[G_LM_HEAD] = "lm_head.weight"; /* Gemma ties it; only read when tie_word_embeddings is false */
    if (mm) { d->name_alt[0] = "model.language_model."; d->name_alt[1] = "language_model.model."; }
}

/* What every Gemma shares. */
static int gemma_common(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->norm_one_plus = 1;
    d->emb_scale = sqrtf((float)d->hidden); /* llama.cpp scales in f32 */
    d->mlp_gated = 1;
    /* HF Gemma reads hidden_activation (hidden_act is legacy and ignored); default GELU-tanh */
    const char *act;
    if (rl_json_str(cfg, "hidden_activation", "gelu_pytorch_tanh", &act, file)) return -1;
    if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_new") || !strcmp(act, "gelu_fast")) d->act = RL_ACT_GELU_TANH;
    else if (!strcmp(act, "gelu")) d->act = RL_ACT_GELU_ERF;
    else return rl_err("%s: unsupported hidden_activation \"%s\" for Gemma (supported: gelu_pytorch_tanh, gelu)", file, act);
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    if (ab) return rl_err("%s: attention_bias true is not supported for Gemma", file);
    return 0;
}

int rl_norm_gemma(rl_model_desc *d, const cJSON *cfg, const char *file) {
    gemma_names(d, 0, 1);
    return gemma_common(d, cfg, file);
}

/* Gemma 2/3 attention: query_pre_attn_scalar, softcaps, sliding windows per layer. */
static int gemma23(rl_model_desc *d, const cJSON *cfg, const char *file, int pattern_default) {
    if (gemma_common(d, cfg, file)) return -1;
    d->post_norms = 1;
    double qpas, asc, fsc;
    if (rl_json_num(cfg, "query_pre_attn_scalar", d->head_dim, &qpas, file) ||
        rl_json_num(cfg, "attn_logit_softcapping", 0, &asc, file) ||
        rl_json_num(cfg, "final_logit_softcapping", 0, &fsc, file)) return -1;
    if (qpas <= 0) return rl_err("%s: query_pre_attn_scalar must be positive", file);
    d->attn_scale = (float)(1.0 / sqrt(qpas));
    d->attn_softcap = asc > 0 ? (float)asc : 0;
    d->final_softcap = fsc > 0 ? (float)fsc : 0;
    long long w, pat;
    if (rl_json_int(cfg, "sliding_window", 0, &w, file) ||
        rl_json_int(cfg, "sliding_window_pattern", pattern_default, &pat, file)) return -1;
    return rl_family_sliding_layers(d, cfg, file, w, pat);
}

/* Gemma 2: sliding window on even layers unless layer_types says otherwise (pattern 2). */
int rl_norm_gemma2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    gemma_names(d, 0, 0);
    return gemma23(d, cfg, file, 2);
}

/* Gemma 3 (text, or the language model of Gemma3ForConditionalGeneration): q/k (1+w) norms and
 * a local rope for sliding layers. */
int rl_norm_gemma3(rl_model_desc *d, const cJSON *cfg, const char *file) {
    gemma_names(d, strstr(d->arch, "ConditionalGeneration") != NULL, 0);
    if (gemma23(d, cfg, file, 6)) return -1;
    d->qk_norm = 1;
    d->n_ropes = 2;
    d->ropes[1] = d->ropes[0];
    const cJSON *rp = rl_json_get(cfg, "rope_parameters");
    const cJSON *full = rp ? rl_json_get(rp, "full_attention") : NULL, *slide = rp ? rl_json_get(rp, "sliding_attention") : NULL;
    if (full || slide) { /* transformers v5: one rope_parameters object per layer type */
        if (!full || !slide || !cJSON_IsObject(full) || !cJSON_IsObject(slide))
            return rl_err("%s: \"rope_parameters\" needs \"full_attention\" and \"sliding_attention\" objects", file);
        if (rl_rope_parse(cfg, full, &d->ropes[0], d->max_pos, file) ||
            rl_rope_parse(cfg, slide, &d->ropes[1], d->max_pos, file)) return -1;
    } else { /* v4: rope_theta + rope_scaling are global; local layers use rope_local_base_freq, unscaled */
        double local;
        if (rl_json_num(cfg, "rope_local_base_freq", 10000.0, &local, file)) return -1;
        d->ropes[1].scaling = RL_RS_NONE;
        d->ropes[1].factor = 1.0;
        d->ropes[1].theta = local;
    }
    for (int l = 0; l < d->n_layers; l++) d->layers[l].rope = d->layers[l].kind == RL_LAYER_SLIDING ? 1 : 0;
    return 0;
}
