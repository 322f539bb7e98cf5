/* Attention over compact / ring KV caches on the CPU (see attention_kv.h). One work item per
 * (query, head): scores over its keys in per-thread scratch, f32 softmax with max subtraction,
 * then the weighted sum of value rows, each row converted from the cache's dtype as it is read. */
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
} job;

static void work(void *ctx, int64_t b, int64_t e, int tid) {
    const job *a = ctx;
    const rl_kv_view *kv = a->kv;
    float *s = a->scratch + (int64_t)tid * a->row;
    float tmp[RL_KV_MAX_HEAD_DIM];
    size_t kb = row_bytes(kv->dt, kv->k_width), vb = row_bytes(kv->dt, kv->v_width);
    int group = a->n_head / a->n_kv;
    for (int64_t it = b; it < e; it++) {
        int t = (int)(it / a->n_head), h = (int)(it % a->n_head), kvh = h / group, i = a->pos0 + t;
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
        const float *qv = a->q + ((int64_t)t * a->n_head + h) * a->hd;
        float mx = -INFINITY;
        for (int x = 0; x < n; x++) {
            int j = a->parent && x >= a->pos0 - j0 ? rows[x - (a->pos0 - j0)] : j0 + x;
            int r = kv->ring ? j % kv->ring : j;
            const float *kr = load((const uint8_t *)kv->k + (size_t)r * kb, kv->dt, kvh * a->hd, a->hd, tmp);
            float sc = a->scale * rl_dot_f32(qv, kr, a->hd);
            if (a->softcap > 0) sc = a->softcap * tanhf(sc / a->softcap);
            s[x] = sc;
            if (sc > mx) mx = sc;
        }
        double sum = 0;
        for (int x = 0; x < n; x++) { s[x] = expf(s[x] - mx); sum += s[x]; }
        float inv = (float)(1.0 / sum);
        float *o = a->out + ((int64_t)t * a->n_head + h) * a->vd;
        memset(o, 0, sizeof(float) * (size_t)a->vd);
        for (int x = 0; x < n; x++) {
            int j = a->parent && x >= a->pos0 - j0 ? rows[x - (a->pos0 - j0)] : j0 + x;
            int r = kv->ring ? j % kv->ring : j;
            const float *vr = load((const uint8_t *)kv->v + (size_t)r * vb, kv->dt, kvh * a->vd, a->vd, tmp);
            rl_axpy_f32(o, s[x] * inv, vr, a->vd);
        }
    }
}

void rl_attention_kv_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head,
                         int n_kv, int head_dim, int v_dim, float scale, float softcap, int window, float *scratch,
                         int max_ctx) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    if (kv->dt == RL_DT_F32 && !kv->ring && kv->k_width == n_kv * head_dim && kv->v_width == n_kv * v_dim) {
        rl_attention(p, out, q, kv->k, kv->v, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch);
        return;
    }
    job a = {out, q, kv, NULL, pos0, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch,
             rl_attention_scratch_floats(1, max_ctx)};
    rl_pool_for(p, (int64_t)T * n_head, 1, work, &a);
}

void rl_attention_tree_cpu(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window, float *scratch, int max_ctx) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    job a = {out, q, kv, parent, pos0, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch,
             rl_attention_scratch_floats(1, max_ctx)};
    rl_pool_for(p, (int64_t)T * n_head, 1, work, &a);
}
