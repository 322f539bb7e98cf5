/* The KV cache: per KV layer and sequence, keys and values in backend memory, stored as f32,
 * f16, bf16 or q8_0 (--kv-type); full-attention layers keep ctx rows, sliding-window layers a
 * ring of window + max_T - 1 rows (all a sweep can read). Per sequence (host): the position and
 * the token ids fed so far, which serve prefix reuse and replays. Writes go through the backend. */
#ifndef RL_ENGINE_KVCACHE_H
#define RL_ENGINE_KVCACHE_H
#include "backend/backend.h"
#include "engine/plan.h"
#include <stdint.h>

typedef struct {
    int n_layers;            /* layers with a KV cache */
    int n_seq, ctx, max_T;
    int k_width, v_width;    /* floats per position (all heads) */
    int v_shared;            /* 1: values are the keys' rows (MLA's latent: no value block) */
    rl_dtype dt;             /* storage type */
    int *ring;               /* (n_layers) 0: linear (ctx rows), else ring rows */
    size_t *off;             /* (n_layers) byte offset of the layer in its kind's key / value block */
    uint8_t *kf, *vf;        /* device: full layers' keys / values */
    uint8_t *ks, *vs;        /* device: sliding (ring) layers' keys / values */
    int *pos;                /* host: (n_seq) positions filled */
    int32_t *hist;           /* host: (n_seq, ctx) token ids at those positions */
    char name_full[96], name_slid[96]; /* plan entry names */
} rl_kvcache;

/* Sets the shape and adds the cache to the plan: window[i] is KV layer i's sliding window (0 =
 * full attention); ring caches are used only when ring_ok (the backend has attention_kv).
 * Host positions and history come from rl_kv_init_host. 0 / -1 + rl_err (bad dtype). */
int rl_kv_plan(rl_kvcache *kv, rl_plan *p, int n_layers, const int *window, int n_seq, int ctx, int max_T,
               int k_width, int v_width, rl_dtype dt, int ring_ok);
/* MLA's latent cache: one row of `width` floats per position, read as keys and as values. */
int rl_kv_plan_shared(rl_kvcache *kv, rl_plan *p, int n_layers, int n_seq, int ctx, int max_T, int width, rl_dtype dt);
int rl_kv_init_host(rl_kvcache *kv);
void rl_kv_free(rl_kvcache *kv);
/* Bytes of keys + values of all KV layers (what the plan holds). */
uint64_t rl_kv_bytes(const rl_kvcache *kv);

/* KV layer `slot`, sequence seq. */
rl_kv_view rl_kv_layer(const rl_kvcache *kv, int slot, int seq);
/* f32 linear caches only (MLA): keys / values of a layer and sequence (device). */
float *rl_kv_k(const rl_kvcache *kv, int slot, int seq);
float *rl_kv_v(const rl_kvcache *kv, int slot, int seq);

/* Records tokens at the sequence's current position (before they run). */
void rl_kv_record(rl_kvcache *kv, int seq, const int32_t *tok, int n);
/* The sequence now holds n more positions. */
static inline void rl_kv_advance(rl_kvcache *kv, int seq, int n) { kv->pos[seq] += n; }
/* Drops positions >= pos (0 <= pos <= current). Returns 0, 1 when ring layers lost rows the kept
 * prefix needs (more than max_T positions dropped: the caller replays the prefix), or -1 +
 * rl_err for a bad seq / pos. */
int rl_kv_truncate(rl_kvcache *kv, int seq, int pos);
/* Length of the common prefix of the sequence's tokens and tok[0..n). */
int rl_kv_common_prefix(const rl_kvcache *kv, int seq, const int32_t *tok, int n);
/* "f32", "f16", "bf16", "q8_0" -> dtype; NULL/"" or "auto" -> -1; else -2. */
int rl_kv_type_parse(const char *s);

#endif
