/* The KV cache: per KV layer and sequence, keys (ctx, k_width) and values (ctx, v_width) in
 * backend memory, and per sequence the position and the token ids fed so far (host), which
 * serve prefix reuse and the replay of recurrent state. Appends go through the backend. */
#ifndef RL_ENGINE_KVCACHE_H
#define RL_ENGINE_KVCACHE_H
#include "backend/backend.h"
#include "engine/plan.h"
#include <stdint.h>

typedef struct {
    int n_layers;            /* layers with a KV cache */
    int n_seq, ctx;
    int k_width, v_width;    /* floats per position (all heads) */
    float *k, *v;            /* device: (n_layers, n_seq, ctx, k_width / v_width) */
    int *pos;                /* host: (n_seq) positions filled */
    int32_t *hist;           /* host: (n_seq, ctx) token ids at those positions */
} rl_kvcache;

/* Sets the shape and adds the cache to the plan (device k, v; host positions and history are
 * allocated by rl_kv_init_host). */
void rl_kv_plan(rl_kvcache *kv, rl_plan *p, int n_layers, int n_seq, int ctx, int k_width, int v_width);
int rl_kv_init_host(rl_kvcache *kv);
void rl_kv_free_host(rl_kvcache *kv);

/* Keys / values of KV layer `slot`, sequence seq (device). */
static inline float *rl_kv_k(const rl_kvcache *kv, int slot, int seq) {
    return kv->k + ((size_t)slot * kv->n_seq + seq) * kv->ctx * kv->k_width;
}
static inline float *rl_kv_v(const rl_kvcache *kv, int slot, int seq) {
    return kv->v + ((size_t)slot * kv->n_seq + seq) * kv->ctx * kv->v_width;
}

/* Writes n rows of keys and values (device, rows of k_width / v_width) at positions pos0.. of
 * layer slot / sequence seq. */
void rl_kv_append(const rl_kvcache *kv, rl_backend *be, int slot, int seq, int pos0, const float *k,
                  const float *v, int n);
/* Records tokens at the sequence's current position (before they run). */
void rl_kv_record(rl_kvcache *kv, int seq, const int32_t *tok, int n);
/* The sequence now holds n more positions. */
static inline void rl_kv_advance(rl_kvcache *kv, int seq, int n) { kv->pos[seq] += n; }
/* Drops positions >= pos (0 <= pos <= current). 0, or -1 + rl_err for a bad seq / pos. */
int rl_kv_truncate(rl_kvcache *kv, int seq, int pos);
/* Length of the common prefix of the sequence's tokens and tok[0..n). */
int rl_kv_common_prefix(const rl_kvcache *kv, int seq, const int32_t *tok, int n);

#endif
