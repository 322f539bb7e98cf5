/* DSA attention on the CPU (see dsa.h). Work item: one query token (selection, then its heads). */
#include "backend/cpu/dsa.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#include <string.h>

int64_t rl_dsa_scratch_floats(int max_ctx) { return 5 * (((int64_t)max_ctx + 15) / 16 * 16); }

typedef struct {
    float *out;
    const float *q, *kc, *vc;
    int pos0, nh, qk, vd, ctx;
    float scale;
    const rl_dsa_args *a;
    float *scratch;
} dsa_job;

/* k-th largest of a[0..n) (n >= k >= 1), by quickselect (a is scrambled) */
static float kth_largest(float *a, int n, int k) {
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float piv = a[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    return a[want];
}

static void dsa_work(void *ctx, int64_t b, int64_t e, int tid) {
    const dsa_job *J = ctx;
    const rl_dsa_args *A = J->a;
    int ih = A->idx_heads, ihd = A->idx_dim, K = A->topk;
    int64_t row = rl_dsa_scratch_floats(J->ctx) / 5;
    float *sc = J->scratch + (int64_t)tid * 5 * row, *cp = sc + row, *s = cp + row;
    int *sel = (int *)(s + row), *rows = sel + row;
    float qs = 1.0f / sqrtf((float)ihd);
    for (int64_t t = b; t < e; t++) {
        int i = J->pos0 + (int)t, n = i + 1, ns = 0;
        if (A->parent) { /* a tree node: the prefix, then its ancestors root first and itself */
            int d = 0;
            for (int u = (int)t; u >= 0; u = A->parent[u]) d++;
            n = J->pos0 + d;
            for (int u = (int)t, x = n - 1; u >= 0; u = A->parent[u]) rows[x--] = J->pos0 + u;
        }
#define ROW(x) (A->parent && (x) >= J->pos0 ? rows[x] : (x)) /* the cache row of the x-th key */
        if (n > K) { /* index scores, then the top K keys in ascending position order */
            const float *q = A->iq + (size_t)t * ih * ihd, *w = A->iw + (size_t)t * ih;
            for (int j = 0; j < n; j++) {
                const float *k = A->ik + (size_t)ROW(j) * ihd;
                float v = 0;
                for (int h = 0; h < ih; h++) {
                    float d = rl_dot_f32(q + (size_t)h * ihd, k, ihd) * qs;
                    if (d > 0) v += d * w[h];
                }
                sc[j] = v;
            }
            memcpy(cp, sc, (size_t)n * sizeof(float));
            float kth = kth_largest(cp, n, K);
            for (int j = 0; j < n && ns < K; j++) if (sc[j] > kth) sel[ns++] = j;
            for (int j = 0; j < n && ns < K; j++) if (sc[j] == kth) sel[ns++] = j; /* ties: lowest positions */
            for (int x = 1; x < ns; x++) { int v = sel[x], z = x - 1; while (z >= 0 && sel[z] > v) { sel[z + 1] = sel[z]; z--; } sel[z + 1] = v; }
        }
        int cnt = ns ? ns : n;
        int nkv = A->n_kv > 0 ? A->n_kv : J->nh, grp = J->nh / nkv;
        size_t ks = A->k_stride > 0 ? (size_t)A->k_stride : (size_t)nkv * J->qk;
        size_t vs = A->v_stride > 0 ? (size_t)A->v_stride : (size_t)nkv * J->vd;
        for (int h = 0; h < J->nh; h++) {
            int kvh = h / grp;
            const float *qv = J->q + ((size_t)t * J->nh + h) * J->qk;
            float mx = -INFINITY;
            for (int x = 0; x < cnt; x++) {
                int j = ROW(ns ? sel[x] : x);
                float v = J->scale * rl_dot_f32(qv, J->kc + (size_t)j * ks + (size_t)kvh * J->qk, J->qk);
                s[x] = v;
                if (v > mx) mx = v;
            }
            double sum = 0;
            for (int x = 0; x < cnt; x++) { s[x] = expf(s[x] - mx); sum += s[x]; }
            float inv = (float)(1.0 / sum);
            float *o = J->out + ((size_t)t * J->nh + h) * J->vd;
            memset(o, 0, (size_t)J->vd * sizeof(float));
            for (int x = 0; x < cnt; x++) {
                int j = ROW(ns ? sel[x] : x);
                rl_axpy_f32(o, s[x] * inv, J->vc + (size_t)j * vs + (size_t)kvh * J->vd, J->vd);
            }
        }
#undef ROW
    }
}

void rl_dsa_attention(rl_pool *p, float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                      int n_head, int head_dim, int v_dim, float scale, const rl_dsa_args *a, float *scratch,
                      int max_ctx) {
    dsa_job J = {out, q, kc, vc, pos0, n_head, head_dim, v_dim, max_ctx, scale, a, scratch};
    rl_pool_for(p, T, 1, dsa_work, &J);
}
