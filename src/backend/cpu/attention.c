/* Causal attention: one work item per (query token, head); scores in per-thread scratch, softmax
 * in f32 with max subtraction, then a weighted sum of value rows. */
#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#include <string.h>

#define SCRATCH_ALIGN 16 /* floats; keeps each thread's row on its own cache lines */

int64_t rl_attention_scratch_floats(int n_threads, int max_ctx) {
    if (n_threads < 1) n_threads = 1;
    if (max_ctx < 1) max_ctx = 1;
    int64_t row = ((int64_t)max_ctx + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
    return row * n_threads;
}

typedef struct {
    float *out;
    const float *q, *kc, *vc;
    int pos0, n_head, n_kv, head_dim, v_dim, window;
    float scale, softcap;
    float *scratch;
    int64_t row;
} att_job;

static void att_work(void *ctx, int64_t b, int64_t e, int tid) {
    const att_job *a = ctx;
    float *s = a->scratch + (int64_t)tid * a->row;
    int group = a->n_head / a->n_kv;
    for (int64_t it = b; it < e; it++) {
        int t = (int)(it / a->n_head), h = (int)(it % a->n_head), kvh = h / group;
        int i = a->pos0 + t;
        int j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
        int n = i - j0 + 1;
        const float *qv = a->q + ((int64_t)t * a->n_head + h) * a->head_dim;
        float mx = -INFINITY;
        for (int j = j0; j <= i; j++) {
            float sc = a->scale * rl_dot_f32(qv, a->kc + ((int64_t)j * a->n_kv + kvh) * a->head_dim, a->head_dim);
            if (a->softcap > 0) sc = a->softcap * tanhf(sc / a->softcap);
            s[j - j0] = sc;
            if (sc > mx) mx = sc;
        }
        double sum = 0;
        for (int k = 0; k < n; k++) { s[k] = expf(s[k] - mx); sum += s[k]; }
        float inv = (float)(1.0 / sum);
        float *o = a->out + ((int64_t)t * a->n_head + h) * a->v_dim;
        memset(o, 0, sizeof(float) * (size_t)a->v_dim);
        for (int j = j0; j <= i; j++)
            rl_axpy_f32(o, s[j - j0] * inv, a->vc + ((int64_t)j * a->n_kv + kvh) * a->v_dim, a->v_dim);
    }
}

void rl_attention(rl_pool *p, float *out, const float *q, const float *kc, const float *vc,
                  int T, int pos0, int n_head, int n_kv, int head_dim, int v_dim,
                  float scale, float softcap, int window, float *scratch) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    att_job a = {out, q, kc, vc, pos0, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch,
                 rl_attention_scratch_floats(1, pos0 + T)};
    int64_t ctx = window > 0 && window < pos0 + T ? window : pos0 + T;
    rl_pool_for_work(p, (int64_t)T * n_head, 1, (int64_t)T * n_head * ctx * (head_dim + v_dim), att_work, &a);
}
