/* Attention in llama.cpp's CPU order (GGUF models; see attention_ggml.c) over an f32 KV cache
 * (linear or ring rows), one work item per (query, head), per-thread score rows in scratch. */
#ifndef RL_CPU_ATTENTION_GGML_H
#define RL_CPU_ATTENTION_GGML_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

#define RL_GGML_ATT_MAX_DIM 1024

/* 1 if the cache and dims suit rl_attention_ggml with per-thread scratch rows of `row` floats. */
int rl_attention_ggml_ok(const rl_kv_view *kv, int pos0, int T, int head_dim, int v_dim, int64_t row);
void rl_attention_ggml(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head, int n_kv,
                       int head_dim, int v_dim, float scale, float softcap, int window, float *scratch, int64_t row);

#endif
