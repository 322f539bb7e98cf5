/* DSA (GLM-5 lightning indexer) attention on the CPU: per query, the index scores over its
 * keys, the top-k selection (ties: the lowest positions), then softmax attention of every head
 * over the selected keys (see rl_dsa_args in backend.h). */
#ifndef RL_CPU_DSA_H
#define RL_CPU_DSA_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

/* Scratch floats per thread for contexts up to max_ctx. */
int64_t rl_dsa_scratch_floats(int max_ctx);

void rl_dsa_attention(rl_pool *p, float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                      int n_head, int head_dim, int v_dim, float scale, const rl_dsa_args *a, float *scratch,
                      int max_ctx);

#endif
