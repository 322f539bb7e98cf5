/* GGUF metadata -> model description: the `<arch>.*` keys become the config.json keys the family
 * normalizers read (so every family keeps one normalizer), then the tensor names become GGUF's
 * (blk.N.attn_q.weight, ...) and the GGUF-specific conventions are applied (llama.cpp's converter
 * permutes Q/K rows of llama-style models so rope pairs are interleaved; Gemma norms are stored
 * as 1 + w; Llama 3 rope scaling is a rope_freqs tensor of per-pair divisors). */
#ifndef RL_GGUF_CONFIG_H
#define RL_GGUF_CONFIG_H
#include "model/desc.h"

/* Fills *d from the GGUF file at path (the first part of a split set). 0, or -1 + rl_err. */
int rl_gguf_config(const char *path, rl_model_desc *d);

/* GGUF tensor name (printf format, %d = layer) of a layer weight role / whole-model role, or NULL
 * when GGUF has none (the GGUF writer, src/quant/gguf_export.c, uses the same names). */
const char *rl_gguf_role_name(int role);
const char *rl_gguf_global_name(int role);

#endif
