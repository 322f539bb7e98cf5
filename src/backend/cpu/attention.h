/* Causal multi-head attention (GQA, sliding window, logit softcap) over an f32 KV cache. */
#ifndef RL_ATTENTION_H
#define RL_ATTENTION_H
#include "backend/cpu/threadpool.h"
#include <stdint.h>

/* Floats of n_threads score rows (rl_pool_size(p); 1 for NULL) for a context of up to max_ctx
 * positions (each row padded to its own cache lines). */
int64_t rl_attention_scratch_floats(int n_threads, int max_ctx);

/* out[t][h][:] = sum_j softmax_j(s_j) vc[j][h/g][:] for the query at position i = pos0 + t,
 * s_j = scale * q[t][h]·kc[j][h/g] (then softcap * tanh(s_j / softcap) if softcap > 0), over keys
 * j <= i with (window <= 0 or i - j < window); g = n_head / n_kv (GQA).
 * Shapes: q [T][n_head][head_dim], kc [>= pos0+T][n_kv][head_dim], vc [>= pos0+T][n_kv][v_dim],
 * out [T][n_head][v_dim] (must not alias q/kc/vc). scratch: caller-owned, at least
 * rl_attention_kv_scratch_floats(rl_pool_size(p), pos0 + T) floats (attention_kv.h: a few rows
 * per thread for the few-row path). A prompt (T >= 8) runs tiled, flash-style; fewer rows run
 * attention_kv.c's rows. */
void rl_attention(rl_pool *p, float *out, const float *q, const float *kc, const float *vc,
                  int T, int pos0, int n_head, int n_kv, int head_dim, int v_dim,
                  float scale, float softcap, int window, float *scratch);
/* The same with attention sinks (NULL: none): head h's softmax also counts exp(sinks[h]), a key
 * of value zero (gpt-oss). */
void rl_attention_sinks(rl_pool *p, float *out, const float *q, const float *kc, const float *vc, const float *sinks,
                        int T, int pos0, int n_head, int n_kv, int head_dim, int v_dim,
                        float scale, float softcap, int window, float *scratch);

#endif
