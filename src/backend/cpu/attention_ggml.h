/* Attention in llama.cpp's CPU order (GGUF models; see attention_ggml.c) over an f32 KV cache
 * (linear or ring rows), one work item per (head, block of queries), per-thread score rows in scratch. */
#ifndef RL_CPU_ATTENTION_GGML_H
#define RL_CPU_ATTENTION_GGML_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

#define RL_GGML_ATT_MAX_DIM 1024

#define RL_GGML_ATT_QB 8 /* queries per work item, where the scratch has their rows */

/* 1 if the cache and dims suit rl_attention_ggml with score rows of `row` floats. */
int rl_attention_ggml_ok(const rl_kv_view *kv, int pos0, int T, int head_dim, int v_dim, int64_t row);
/* scratch: n_rows score rows of `row` floats (at least one per thread of p; up to RL_GGML_ATT_QB
 * per thread are used, a thread's work item being a block of that many queries of one head). */
void rl_attention_ggml(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head, int n_kv,
                       int head_dim, int v_dim, float scale, float softcap, int window, float *scratch, int64_t row, int n_rows);
/* Scratch floats for RL_GGML_ATT_QB rows per thread of contexts up to max_ctx. */
int64_t rl_attention_ggml_scratch_floats(int n_threads, int max_ctx);

#endif
