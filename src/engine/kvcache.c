/* The KV cache (see kvcache.h). */
#include "engine/kvcache.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

void rl_kv_plan(rl_kvcache *kv, rl_plan *p, int n_layers, int n_seq, int ctx, int k_width, int v_width) {
    kv->n_layers = n_layers; kv->n_seq = n_seq; kv->ctx = ctx; kv->k_width = k_width; kv->v_width = v_width;
    size_t per = (size_t)n_layers * n_seq * ctx * sizeof(float);
    rl_plan_add(p, "kv cache: keys", RL_MEM_DEVICE, per * (size_t)k_width, (void **)&kv->k);
    rl_plan_add(p, "kv cache: values", RL_MEM_DEVICE, per * (size_t)v_width, (void **)&kv->v);
    rl_plan_add(p, "kv cache: token history", RL_MEM_HOST, (size_t)n_seq * ctx * sizeof(int32_t) + (size_t)n_seq * sizeof(int), NULL);
}

int rl_kv_init_host(rl_kvcache *kv) {
    kv->pos = calloc((size_t)kv->n_seq, sizeof(int));
    kv->hist = malloc((size_t)kv->n_seq * kv->ctx * sizeof(int32_t) + 1);
    if (!kv->pos || !kv->hist) return rl_err("out of memory for the token history");
    return 0;
}

void rl_kv_free_host(rl_kvcache *kv) {
    free(kv->pos); free(kv->hist);
    kv->pos = NULL; kv->hist = NULL;
}

void rl_kv_append(const rl_kvcache *kv, rl_backend *be, int slot, int seq, int pos0, const float *k, const float *v,
                  int n) {
    size_t kb = (size_t)kv->k_width * sizeof(float), vb = (size_t)kv->v_width * sizeof(float);
    be->ops->copy2d(be, rl_kv_k(kv, slot, seq) + (size_t)pos0 * kv->k_width, kb, k, kb, kb, n);
    be->ops->copy2d(be, rl_kv_v(kv, slot, seq) + (size_t)pos0 * kv->v_width, vb, v, vb, vb, n);
}

void rl_kv_record(rl_kvcache *kv, int seq, const int32_t *tok, int n) {
    int32_t *h = kv->hist + (size_t)seq * kv->ctx + kv->pos[seq];
    if (tok != h) memmove(h, tok, (size_t)n * sizeof(int32_t));
}

int rl_kv_truncate(rl_kvcache *kv, int seq, int pos) {
    if (seq < 0 || seq >= kv->n_seq) return rl_err("rewind: sequence %d out of range (0..%d)", seq, kv->n_seq - 1);
    if (pos < 0 || pos > kv->pos[seq]) return rl_err("rewind: position %d outside 0..%d", pos, kv->pos[seq]);
    kv->pos[seq] = pos;
    return 0;
}

int rl_kv_common_prefix(const rl_kvcache *kv, int seq, const int32_t *tok, int n) {
    const int32_t *h = kv->hist + (size_t)seq * kv->ctx;
    int i = 0;
    while (i < n && i < kv->pos[seq] && h[i] == tok[i]) i++;
    return i;
}
