/* Attention over compact / ring KV caches on the CPU (see attention_kv.h). One work item per
 * (query, block of heads of one KV head): scores over its keys in per-thread scratch rows, f32
 * softmax with max subtraction, then the weighted sum of value rows, each key and value row
 * converted from the cache's dtype once for the item's heads. */
#include "backend/cpu/attention_kv.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "quant/quantize.h"
#include <math.h>
#include <string.h>

static size_t row_bytes(rl_dtype dt, int width) { return rl_dtype_row_bytes(dt, width); }

/* n values of a cache row (starting at item `at`, a block boundary for Q8_0) as f32 in dst */
static const float *load(const uint8_t *row, rl_dtype dt, int at, int n, float *dst) {
    if (dt == RL_DT_F32) return (const float *)row + at;
    rl_convert_to_f32(dst, row + rl_dtype_row_bytes(dt, at), dt, n);
    return dst;
}

static void store_row(void *dst, rl_dtype dt, const float *src, int n) {
    switch (dt) {
    case RL_DT_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    /* rows need not be 2-byte aligned (a cache view may start at any byte): stores by memcpy */
    case RL_DT_F16: for (int i = 0; i < n; i++) { uint16_t h = rl_f32_to_f16(src[i]); memcpy((uint8_t *)dst + 2 * i, &h, 2); } break;
    case RL_DT_BF16: for (int i = 0; i < n; i++) { uint16_t h = rl_f32_to_bf16(src[i]); memcpy((uint8_t *)dst + 2 * i, &h, 2); } break;
    default: rl_quantize_row(dt, src, dst, n); break;
    }
}

void rl_kv_store_cpu(const rl_kv_view *kv, int pos0, const float *k, const float *v, int n) {
    size_t kb = row_bytes(kv->dt, kv->k_width), vb = row_bytes(kv->dt, kv->v_width);
    for (int t = 0; t < n; t++) {
        int p = pos0 + t, r = kv->ring ? p % kv->ring : p;
        store_row((uint8_t *)kv->k + (size_t)r * kb, kv->dt, k + (size_t)t * kv->k_width, kv->k_width);
        store_row((uint8_t *)kv->v + (size_t)r * vb, kv->dt, v + (size_t)t * kv->v_width, kv->v_width);
    }
}

typedef struct {
    float *out;
    const float *q;
    const rl_kv_view *kv;
    const int32_t *parent;   /* tree mode: node parents (NULL: causal) */
    int pos0, n_head, n_kv, hd, vd, window;
    float scale, softcap;
    float *scratch;
    int64_t row;
    int hb;                  /* heads of one KV head per work item (score rows per thread) */
} job;

/* One work item: query t, heads [h0, h0 + nh) of KV head kvh. Each key and value row is
 * converted once for the item and used by every head of it (each head's sums as before). */
static void item(const job *a, int t, int kvh, int h0, int nh, float *S) {
    const rl_kv_view *kv = a->kv;
    float tmp[RL_KV_MAX_HEAD_DIM];
    size_t kb = row_bytes(kv->dt, kv->k_width), vb = row_bytes(kv->dt, kv->v_width);
    int i = a->pos0 + t;
    int j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0, n = i - j0 + 1;
    int rows[RL_KV_MAX_TREE_DEPTH + 1], na = 0;
    if (a->parent) { /* keys: the prefix, then the node's ancestors from the root down, then itself */
        int d = 0;
        for (int u = t; u >= 0 && d <= RL_KV_MAX_TREE_DEPTH; u = a->parent[u]) rows[d++] = a->pos0 + u;
        for (int x = 0; x < d / 2; x++) { int tmp = rows[x]; rows[x] = rows[d - 1 - x]; rows[d - 1 - x] = tmp; }
        /* the node is at position pos0 + d - 1; ancestor x at pos0 + x: within the window
         * when d - 1 - x < window, so the first d - window of them drop out */
        i = a->pos0 + d - 1;
        int skip = a->window > 0 && d > a->window ? d - a->window : 0;
        j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
        if (j0 > a->pos0) j0 = a->pos0;
        na = d - skip;
        memmove(rows, rows + skip, (size_t)na * sizeof *rows);
        n = a->pos0 - j0 + na;
    }
    float mx[RL_KV_HEAD_BLOCK], inv[RL_KV_HEAD_BLOCK];
    for (int u = 0; u < nh; u++) mx[u] = -INFINITY;
    for (int x = 0; x < n; x++) {
        int j = a->parent && x >= a->pos0 - j0 ? rows[x - (a->pos0 - j0)] : j0 + x;
        int r = kv->ring ? j % kv->ring : j;
        const float *kr = load((const uint8_t *)kv->k + (size_t)r * kb, kv->dt, kvh * a->hd, a->hd, tmp);
        for (int u = 0; u < nh; u++) {
            const float *qv = a->q + ((int64_t)t * a->n_head + h0 + u) * a->hd;
            float sc = a->scale * rl_dot_f32(qv, kr, a->hd);
            if (a->softcap > 0) sc = a->softcap * tanhf(sc / a->softcap);
            S[(int64_t)u * a->row + x] = sc;
            if (sc > mx[u]) mx[u] = sc;
        }
    }
    for (int u = 0; u < nh; u++) {
        float *s = S + (int64_t)u * a->row;
        double sum = 0;
        if (kv->sinks) { /* the sink: a key of value zero whose score is sinks[h] */
            float sk = kv->sinks[h0 + u];
            if (sk > mx[u]) mx[u] = sk;
            sum = expf(sk - mx[u]);
        }
        for (int x = 0; x < n; x++) { s[x] = expf(s[x] - mx[u]); sum += s[x]; }
        inv[u] = (float)(1.0 / sum);
        memset(a->out + ((int64_t)t * a->n_head + h0 + u) * a->vd, 0, sizeof(float) * (size_t)a->vd);
    }
    for (int x = 0; x < n; x++) {
        int j = a->parent && x >= a->pos0 - j0 ? rows[x - (a->pos0 - j0)] : j0 + x;
        int r = kv->ring ? j % kv->ring : j;
        const float *vr = load((const uint8_t *)kv->v + (size_t)r * vb, kv->dt, kvh * a->vd, a->vd, tmp);
        for (int u = 0; u < nh; u++)
            rl_axpy_f32(a->out + ((int64_t)t * a->n_head + h0 + u) * a->vd, S[(int64_t)u * a->row + x] * inv[u], vr, a->vd);
    }
}

static void work(void *ctx, int64_t b, int64_t e, int tid) {
    const job *a = ctx;
    float *S = a->scratch + (int64_t)tid * a->hb * a->row;
    int group = a->n_head / a->n_kv, nhb = (group + a->hb - 1) / a->hb;
    for (int64_t it = b; it < e; it++) {
        int t = (int)(it / ((int64_t)a->n_kv * nhb)), rest = (int)(it % ((int64_t)a->n_kv * nhb));
        int kvh = rest / nhb, h0 = kvh * group + (rest % nhb) * a->hb;
        item(a, t, kvh, h0, kvh * group + group - h0 < a->hb ? kvh * group + group - h0 : a->hb, S);
    }
}

void rl_attention_rows_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window, float *scratch, int max_ctx) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    job a = {out, q, kv, parent, pos0, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch,
             rl_attention_scratch_floats(1, max_ctx), 1};
    /* heads of a KV head in blocks of up to RL_KV_HEAD_BLOCK, as many as leave an item per thread */
    int group = n_head / n_kv, nt = rl_pool_size(p), hb = group < RL_KV_HEAD_BLOCK ? group : RL_KV_HEAD_BLOCK;
    while (hb > 1 && (int64_t)T * n_kv * ((group + hb - 1) / hb) < nt) hb = (hb + 1) / 2;
    a.hb = hb;
    int64_t ctx = window > 0 && window < pos0 + T ? window : pos0 + T;
    rl_pool_for_work(p, (int64_t)T * n_kv * ((group + hb - 1) / hb), 1, (int64_t)T * n_head * ctx * (head_dim + v_dim), work, &a);
}

int64_t rl_attention_kv_scratch_floats(int n_threads, int max_ctx) {
    return rl_attention_scratch_floats((n_threads < 1 ? 1 : n_threads) * RL_KV_HEAD_BLOCK, max_ctx);
}

void rl_attention_kv_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head,
                         int n_kv, int head_dim, int v_dim, float scale, float softcap, int window, float *scratch,
                         int max_ctx) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    if (kv->dt == RL_DT_F32 && !kv->ring && kv->k_width == n_kv * head_dim && kv->v_width == n_kv * v_dim) {
        rl_attention_sinks(p, out, q, kv->k, kv->v, kv->sinks, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch);
        return; /* tiled for a prompt, else these rows */
    }
    rl_attention_rows_cpu(p, out, q, kv, NULL, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch, max_ctx);
}

void rl_attention_tree_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window, float *scratch, int max_ctx) {
    rl_attention_rows_cpu(p, out, q, kv, parent, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch,
                          max_ctx);
}
