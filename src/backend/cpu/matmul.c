/* rl_matmul driver: splits the output into (token block x row block) work items for the thread
 * pool and runs the dispatched GEMV (few tokens) or tiled GEMM (many tokens) kernel on each;
 * also the dispatched vector helpers. */
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/ggml_quants.h"
#include <math.h>
#include <string.h>

#define GEMM_MIN_T 4   /* from this many tokens, convert weight tiles once and reuse them */
#define GEMV_ROWS 16   /* output rows per work item in GEMV mode */
#define GEMM_TB 64     /* tokens per work item in GEMM mode */
#define GEMM_ROWS 96   /* output rows per work item in GEMM mode (multiple of both tile heights) */

#define QACT_MAX_BYTES (96 * 1024) /* stack buffer for the quantised activation rows of a GEMV */

typedef struct {
    const rl_simd_impl *s;
    rl_mm_args a;
    int gemm, tb, rows, n_rb;
    const rl_qrow *xq; /* non-NULL: integer GEMV on these quantised rows (Q8_0 / Q4_1 weights) */
} mm_job;

static void mm_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mm_job *j = ctx;
    for (int64_t it = b; it < e; it++) {
        int tb = (int)(it / j->n_rb), rb = (int)(it % j->n_rb);
        int t0 = tb * j->tb, t1 = t0 + j->tb < j->a.T ? t0 + j->tb : j->a.T;
        int o0 = rb * j->rows, o1 = o0 + j->rows < j->a.out ? o0 + j->rows : j->a.out;
        if (j->xq) j->s->qgemv(j->a.wtype, j->a.w, j->a.in, j->a.out, j->xq, j->a.y, j->a.bias, t0, t1, o0, o1);
        else if (j->gemm) j->s->gemm(&j->a, t0, t1, o0, o1);
        else j->s->gemv(&j->a, t0, t1, o0, o1);
    }
}

void rl_matmul(rl_pool *p, float *y, const float *x, const void *w, rl_dtype wtype, const float *bias,
               int T, int in, int out) {
    if (T <= 0 || out <= 0) return;
    if (!rl_dtype_is_weight(wtype) || (rl_dtype_is_block(wtype) && in % RL_DTYPES[wtype].block)) {
        for (int64_t i = 0; i < (int64_t)T * out; i++) y[i] = NAN;
        return;
    }
    if (in <= 0) {
        for (int t = 0; t < T; t++)
            for (int o = 0; o < out; o++) y[(size_t)t * out + o] = bias ? bias[o] : 0.0f;
        return;
    }
    if (rl_dtype_is_ggml(wtype)) { rl_ggml_matmul(p, y, x, w, wtype, bias, T, in, out); return; } /* GGUF types */
    mm_job j = {.s = rl_simd(), .a = {y, x, w, wtype, bias, T, in, out}};
    j.gemm = T >= GEMM_MIN_T;
    if (j.gemm) {
        j.tb = GEMM_TB;
        j.rows = GEMM_ROWS;
        int n_tb = (T + j.tb - 1) / j.tb;
        /* keep enough items for the pool: halve the row block once if work is scarce */
        if ((int64_t)n_tb * ((out + j.rows - 1) / j.rows) < 2 * rl_pool_size(p)) j.rows /= 2;
    } else {
        j.tb = T;
        j.rows = GEMV_ROWS;
    }
    j.n_rb = (out + j.rows - 1) / j.rows;
    int64_t n_items = (int64_t)((T + j.tb - 1) / j.tb) * j.n_rb;
    if (!j.gemm && rl_dtype_is_block(wtype) && (size_t)T * rl_qrow_bytes(in) <= QACT_MAX_BYTES) {
        /* decode over 8/4-bit weights: quantise the activation rows once, integer dot products */
        _Alignas(64) unsigned char buf[QACT_MAX_BYTES];
        rl_qrow xq[GEMM_MIN_T];
        for (int t = 0; t < T; t++) xq[t] = rl_qrow_quantize(buf + (size_t)t * rl_qrow_bytes(in), x + (size_t)t * in, in);
        j.xq = xq;
        rl_pool_for_work(p, n_items, 1, (int64_t)T * in * out, mm_work, &j);
        return;
    }
    rl_pool_for_work(p, n_items, 1, (int64_t)T * in * out, mm_work, &j);
}

float rl_dot_f32(const float *a, const float *b, int n) { return rl_simd()->dot(a, b, n); }

void rl_axpy_f32(float *y, float a, const float *x, int n) { rl_simd()->axpy(y, a, x, n); }

void rl_convert_to_f32(float *dst, const void *src, rl_dtype t, int64_t n) {
    if (n <= 0) return;
    if (rl_dtype_is_ggml(t)) { rl_ggml_dequant(dst, src, t, n); return; }
    if (rl_dtype_is_weight(t)) { rl_simd()->cvt(dst, src, t, n); return; } /* blocks: whole ones */
    if (t == RL_DT_F64) {
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        return;
    }
    memset(dst, 0, (size_t)n * sizeof(float));
}
