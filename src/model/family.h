/* Model families: each is a config normalizer plus a tensor-name map that fill the one model
 * description (desc.h). Adding a family = adding a table entry in families.c. */
#ifndef RL_FAMILY_H
#define RL_FAMILY_H
#include "model/desc.h"
#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct rl_family {
    const char *name;
    const char *archs[24];       /* HF architectures names this family covers (NULL-terminated) */
    int default_tied;            /* tie_word_embeddings default when the config omits it */
    /* Family-specific normalisation after the generic keys are read. 0 / -1 + rl_err. */
    int (*normalize)(rl_model_desc *d, const cJSON *cfg, const char *file);
} rl_family;

/* 1 for a family without attention layers (Mamba-1): a config without num_attention_heads gets
 * placeholder heads (1 of head_dim 2), which no layer reads. */
int rl_family_no_attention(const rl_family *f);

/* Sets the HF Llama-style tensor names (model.layers.%d.self_attn.q_proj.weight, ...), which
 * most families share; a family's normalizer then overrides what differs. */
void rl_family_llama_names(rl_model_desc *d);

/* The MLP names of Bamba, Jamba and Falcon-H1: pre_ff_layernorm, feed_forward.{gate,up,down}_proj,
 * no biases (over the Llama names). */
void rl_family_ff_names(rl_model_desc *d);

/* Sets layers[].kind and .window from the config's "layer_types" (a list of n_layers strings,
 * "sliding_attention" or "full_attention") or, without it, from a pattern: every `every`-th
 * layer full, the others sliding (every <= 0: all full). Sliding layers get `window`, which must
 * then be positive. Leaves .rope to the caller. 0 / -1 + rl_err naming `file`. */
int rl_family_sliding_layers(rl_model_desc *d, const cJSON *cfg, const char *file, long long window, long long every);

/* NoPE layers (SmolLM3, Llama 4): no_rope_layers[l] = 0 (default: every no_rope_layer_interval-th
 * layer, 4) runs without rotary embeddings — ropes[1], a copy of ropes[0] without rotation, and
 * layers[l].rope = 1; the others keep rope 0. 0 / -1 + rl_err naming `file`. */
int rl_family_nope_layers(rl_model_desc *d, const cJSON *cfg, const char *file);

/* Family for an architecture name (or model_type when arch is NULL/unknown); NULL if none. */
const rl_family *rl_family_find(const char *arch, const char *model_type);
/* Comma-separated list of supported architectures, for error messages. */
void rl_family_list(char *buf, size_t cap);

#endif
