/* Attention over compact and ring KV caches on the CPU (rl_backend_ops.kv_store / attention_kv):
 * F16, BF16 and Q8_0 rows are converted per key row into registers-sized scratch as they are
 * read (never the whole cache), ring caches map position j to row j % ring. F32 linear caches go
 * to rl_attention. */
#ifndef RL_CPU_ATTENTION_KV_H
#define RL_CPU_ATTENTION_KV_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

#define RL_KV_MAX_HEAD_DIM 1024
#define RL_KV_MAX_TREE_DEPTH 256 /* a tree node's ancestors (the engine's sweeps are at most this deep) */

#define RL_KV_HEAD_BLOCK 8 /* heads of one KV head per work item (a score row each) */

void rl_kv_store_cpu(const rl_kv_view *kv, int pos0, const float *k, const float *v, int n);
/* scratch: rl_attention_kv_scratch_floats(rl_pool_size(p), max_ctx) floats. */
int64_t rl_attention_kv_scratch_floats(int n_threads, int max_ctx);
void rl_attention_kv_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head,
                         int n_kv, int head_dim, int v_dim, float scale, float softcap, int window, float *scratch,
                         int max_ctx);

/* The rows themselves (decode, compact caches, trees; parent NULL: causal): one work item per
 * (query, block of heads of a KV head), two passes per head (scores and an f32 softmax, then the
 * weighted value rows), the same sums whichever entry point calls them. */
void rl_attention_rows_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window, float *scratch, int max_ctx);

/* Tree verification (rl_backend_ops.attention_tree): node t of T, at position pos0 + its depth,
 * sees [0, pos0) and its ancestors' rows pos0 + a (parent host ints), within window (> 0). */
void rl_attention_tree_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window, float *scratch, int max_ctx);

#endif
