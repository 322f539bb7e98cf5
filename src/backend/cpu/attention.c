/* Causal attention. Few query rows (decode): attention_kv.c's rows -- one work item per (query
 * token, block of heads of a KV head); scores in per-thread scratch, softmax in f32 with max
 * subtraction, then a weighted sum of value rows.
 * Many rows (prefill): tiled, flash-style -- one work item per (KV head, block of QB queries); per
 * head of the group and block of KB keys, the score tile Q K^T and the update O += P V run on
 * the register-blocked f32 micro-kernels (V transposed per tile), with an online softmax (running
 * max and sum per query row, O rescaled when the max grows), so each key and value row is read
 * once per query block instead of once per query. Windows and soft-caps as in the plain path. */
#include "backend/cpu/attention.h"
#include "backend/cpu/attention_kv.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <string.h>

#define TILE_MIN_T 8  /* query rows from which the tiled path runs */
#define QB 16         /* query rows per tile */
#define KB 64         /* keys per tile */
#define TILE_DMAX 256 /* largest head_dim / v_dim of the tiled path (its tiles live on the stack) */

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
    int T; /* query rows (tiled path) */
    const float *sinks; /* NULL or n_head sink logits */
} att_job;

/* One (KV head, query block) item of the tiled path: every head of the group in turn. */
static void att_tile_item(const att_job *a, int g, int qb) {
    const rl_simd_impl *sd = rl_simd();
    const int group = a->n_head / a->n_kv, hd = a->head_dim, vd = a->v_dim, T = a->T;
    const int t0 = qb * QB, nq = T - t0 < QB ? T - t0 : QB;
    const int i_first = a->pos0 + t0, i_last = i_first + nq - 1;
    const int jlo = a->window > 0 && i_first - a->window + 1 > 0 ? i_first - a->window + 1 : 0;
    const int64_t ldq = (int64_t)a->n_head * hd, ldk = (int64_t)a->n_kv * hd, ldv = (int64_t)a->n_kv * vd;
    float S[QB * KB], O[QB * TILE_DMAX], m[QB], l[QB];
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        const float *q = a->q + (int64_t)t0 * ldq + (int64_t)h * hd;
        for (int r = 0; r < nq; r++) m[r] = -INFINITY, l[r] = 0;
        memset(O, 0, sizeof(float) * (size_t)nq * vd);
        for (int j0 = jlo; j0 <= i_last; j0 += KB) {
            const int nk = i_last + 1 - j0 < KB ? i_last + 1 - j0 : KB;
            sd->gemm_nt(q, ldq, a->kc + (int64_t)j0 * ldk + (int64_t)g * hd, ldk, S, KB, nq, nk, hd, 0);
            for (int r = 0; r < nq; r++) {
                const int i = i_first + r;
                float *sr = S + r * KB, mx = m[r];
                for (int c = 0; c < nk; c++) {
                    const int j = j0 + c;
                    if (j > i || (a->window > 0 && i - j >= a->window)) { sr[c] = -INFINITY; continue; }
                    float sc = a->scale * sr[c];
                    if (a->softcap > 0) sc = a->softcap * tanhf(sc / a->softcap);
                    sr[c] = sc;
                    if (sc > mx) mx = sc;
                }
                if (mx == -INFINITY) { memset(sr, 0, sizeof(float) * (size_t)nk); continue; } /* nothing visible yet */
                const float alpha = expf(m[r] - mx); /* 0 on the first visible block */
                l[r] = l[r] * alpha + sd->exp_shift(sr, nk, mx);
                m[r] = mx;
                if (alpha != 1.0f)
                    for (int c = 0; c < vd; c++) O[r * vd + c] *= alpha;
            }
            sd->gemm_nn_acc(S, KB, a->vc + (int64_t)j0 * ldv + (int64_t)g * vd, ldv, O, vd, nq, vd, nk); /* O += P V */
        }
        for (int r = 0; r < nq; r++) {
            float *o = a->out + ((int64_t)(t0 + r) * a->n_head + h) * vd, f = 1.0f;
            if (a->sinks) { /* the sink's exp(s) joins the sum: a key of value zero */
                float sk = a->sinks[h], mx = sk > m[r] ? sk : m[r];
                f = m[r] == -INFINITY ? 0.0f : expf(m[r] - mx);
                l[r] = l[r] * f + expf(sk - mx);
            }
            const float inv = l[r] > 0 ? f / l[r] : 0.0f;
            for (int c = 0; c < vd; c++) o[c] = O[r * vd + c] * inv;
        }
    }
}

static void att_tile_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const att_job *a = ctx;
    const int n_qb = (a->T + QB - 1) / QB;
    for (int64_t it = b; it < e; it++) att_tile_item(a, (int)(it / n_qb), (int)(it % n_qb));
}

void rl_attention(rl_pool *p, float *out, const float *q, const float *kc, const float *vc,
                  int T, int pos0, int n_head, int n_kv, int head_dim, int v_dim,
                  float scale, float softcap, int window, float *scratch) {
    rl_attention_sinks(p, out, q, kc, vc, NULL, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch);
}

void rl_attention_sinks(rl_pool *p, float *out, const float *q, const float *kc, const float *vc, const float *sinks,
                        int T, int pos0, int n_head, int n_kv, int head_dim, int v_dim,
                        float scale, float softcap, int window, float *scratch) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    att_job a = {out, q, kc, vc, pos0, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch,
                 rl_attention_scratch_floats(1, pos0 + T), T, sinks};
    int64_t ctx = window > 0 && window < pos0 + T ? window : pos0 + T;
    if (T >= TILE_MIN_T && head_dim <= TILE_DMAX && v_dim <= TILE_DMAX && n_head % n_kv == 0) {
        /* the tiled path needs no scratch: its tiles live on the stack */
        int64_t n_qb = (T + QB - 1) / QB;
        rl_pool_for_work(p, n_kv * n_qb, 1, (int64_t)T * n_head * ctx * (head_dim + v_dim), att_tile_work, &a);
        return;
    }
    /* few rows: the plain two-pass rows of attention_kv.c (grouped heads read each row once) --
       the same sums as its compact caches and token trees, so decode, trees and speculative
       verification agree to the bit */
    rl_kv_view kv = {(void *)kc, (void *)vc, RL_DT_F32, 0, n_kv * head_dim, n_kv * v_dim, sinks};
    rl_attention_rows_cpu(p, out, q, &kv, NULL, T, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window, scratch, pos0 + T);
}
