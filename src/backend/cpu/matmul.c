/* rl_matmul driver: splits the output into (token block x row block) work items for the thread
 * pool and runs the dispatched GEMV (few tokens) or tiled GEMM (many tokens) kernel on each;
 * also the dispatched vector helpers. */
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/ggml_quants.h"
#include "backend/cpu/hfq.h"
#include "backend/cpu/mm_bf16.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#define GEMM_MIN_T 4   /* from this many tokens, convert weight tiles once and reuse them */
#define GEMV_ROWS 16   /* output rows per work item in GEMV mode */
#define GEMM_TB 64     /* tokens per work item in GEMM mode */
#define GEMM_ROWS 96   /* output rows per work item in GEMM mode (multiple of both tile heights) */
#define QGEMM_ROWS 64  /* output rows per work item of the integer GEMM (multiple of its panel pairs) */
#define QGEMM_TB 512   /* tokens per work item of the integer GEMM */
#define BGEMM_ROWS 48  /* output rows per work item of the bf16-compute GEMM (a multiple of its tile heights 6, 8, 12) */
#define BGEMM_TB 512   /* tokens per work item of the bf16-compute GEMM */
#define BGEMM_MIN_T 16 /* from this many tokens (one register of lanes) the outer-product bf16 GEMM */

#define QACT_MAX_BYTES (96 * 1024) /* stack buffer for the quantised activation rows of a GEMV */

typedef struct {
    const rl_simd_impl *s;
    rl_mm_args a;
    int gemm, tb, rows, n_rb;
    const rl_qrow *xq; /* non-NULL: integer GEMV on these quantised rows (Q8_0 / Q4_1 weights) */
    const uint32_t *xb; /* non-NULL: bf16-compute GEMM on these packed bf16 activations */
    const uint16_t *xr; /* non-NULL: few-token bf16-compute GEMM on these bf16 activation rows */
    const rl_qacts *xa; /* non-NULL: integer GEMM on these quantised rows (Q8_0 / Q4_1 weights) */
    unsigned char *pack; /* its per-thread packing (or bf16 GEMM) scratch, pack_bytes each */
    size_t pack_bytes;
} mm_job;

static atomic_int g_compute = -1; /* rl_compute, -1 until set or read from RL_COMPUTE */

void rl_matmul_set_compute(rl_compute c) { atomic_store(&g_compute, (int)c); }

rl_compute rl_matmul_get_compute(void) {
    int c = atomic_load(&g_compute);
    if (c < 0) {
        const char *e = getenv("RL_COMPUTE");
        c = e && !strcmp(e, "bf16") ? RL_COMPUTE_BF16 : RL_COMPUTE_F32;
        atomic_store(&g_compute, c);
    }
    return (rl_compute)c;
}

static void mm_work(void *ctx, int64_t b, int64_t e, int tid) {
    const mm_job *j = ctx;
    for (int64_t it = b; it < e; it++) {
        int tb = (int)(it / j->n_rb), rb = (int)(it % j->n_rb);
        int t0 = tb * j->tb, t1 = t0 + j->tb < j->a.T ? t0 + j->tb : j->a.T;
        int o0 = rb * j->rows, o1 = o0 + j->rows < j->a.out ? o0 + j->rows : j->a.out;
        if (j->xa) j->s->qgemm(j->a.wtype, j->a.w, j->a.in, j->a.out, j->xa, j->a.y, j->a.bias, t0, t1, o0, o1,
                               j->pack + (size_t)tid * j->pack_bytes);
        else if (j->xr) rl_gemm_bf16_dot(&j->a, j->xr, t0, t1, o0, o1);
        else if (j->xb) rl_gemm_bf16(&j->a, j->xb, (float *)(void *)(j->pack + (size_t)tid * j->pack_bytes), t0, t1, o0, o1);
        else if (j->xq) j->s->qgemv(j->a.wtype, j->a.w, j->a.in, j->a.out, j->xq, j->a.y, j->a.bias, t0, t1, o0, o1);
        else if (j->gemm) j->s->gemm(&j->a, t0, t1, o0, o1);
        else j->s->gemv(&j->a, t0, t1, o0, o1);
    }
}

/* Quantises activation rows [b, e) of a sweep (and their per-block code sums) on the pool. */
typedef struct {
    unsigned char *buf;
    size_t qb;
    const float *x;
    int in;
    rl_qrow *rows;
    int32_t *sums;
} qquant_job;

static void qquant_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const qquant_job *j = ctx;
    const int nb = j->in / RL_QBLOCK;
    for (int64_t t = b; t < e; t++) {
        j->rows[t] = rl_qrow_quantize(j->buf + (size_t)t * j->qb, j->x + (size_t)t * j->in, j->in);
        for (int k = 0; k < nb; k++) {
            int32_t s = 0;
            for (int i = 0; i < RL_QBLOCK; i++) s += j->rows[t].q[k * RL_QBLOCK + i];
            j->sums[(size_t)t * nb + k] = s;
        }
    }
}

/* Sweep over 8/4-bit weights: quantises the activation rows once, then the integer GEMM on the
 * pool. Returns 0 (nothing done: the f32 GEMM runs instead) if the scratch cannot be allocated. */
static int qgemm_run(rl_pool *p, mm_job *j, const float *x) {
    const int T = j->a.T, in = j->a.in, out = j->a.out, nb = in / RL_QBLOCK, nth = rl_pool_size(p);
    size_t qb = (rl_qrow_bytes(in) + 63) & ~(size_t)63, pb = (rl_qgemm_pack_bytes(in) + 63) & ~(size_t)63;
    size_t rows_off = (size_t)T * qb, sums_off = rows_off + (((size_t)T * sizeof(rl_qrow) + 63) & ~(size_t)63);
    size_t pack_off = sums_off + (((size_t)T * nb * sizeof(int32_t) + 63) & ~(size_t)63);
    unsigned char *buf = aligned_alloc(64, pack_off + (size_t)nth * pb);
    if (!buf) return 0;
    rl_qrow *rows = (rl_qrow *)(void *)(buf + rows_off);
    int32_t *sums = (int32_t *)(void *)(buf + sums_off);
    qquant_job qj = {buf, qb, x, in, rows, sums};
    rl_pool_for_work(p, T, 1, (int64_t)T * in * 8, qquant_work, &qj);
    rl_qacts xa = {rows, sums, nb};
    j->xa = &xa;
    j->pack = buf + pack_off;
    j->pack_bytes = pb;
    /* one item = a row block against up to QGEMM_TB tokens: each weight panel is packed once per
     * QGEMM_TB tokens (once per op at the default sweep sizes) */
    j->tb = T < QGEMM_TB ? T : QGEMM_TB;
    j->rows = QGEMM_ROWS;
    const int n_tb = (T + j->tb - 1) / j->tb;
    if ((int64_t)n_tb * ((out + j->rows - 1) / j->rows) < 4 * nth) j->rows /= 2;
    j->n_rb = (out + j->rows - 1) / j->rows;
    rl_pool_for_work(p, (int64_t)n_tb * j->n_rb, 1, (int64_t)T * in * out, mm_work, j);
    free(buf);
    return 1;
}

/* Rounds and packs activation tokens [b, e) (multiples of 16 but the last) for the bf16 GEMM. */
typedef struct {
    uint32_t *xp;
    const float *x;
    int T, in;
} bpack_job;

static void bpack_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const bpack_job *j = ctx;
    rl_bf16_pack_acts(j->xp, j->x, j->T, j->in, (int)b * 16, (int)(e * 16 < j->T ? e * 16 : j->T));
}

/* Sweep over BF16 weights with --compute bf16: packs the activations once (bf16, tokens across
 * the lanes), then the outer-product GEMM on the pool. Returns 0 (nothing done: the f32 GEMM runs
 * instead) if the scratch cannot be allocated. */
static int bgemm_run(rl_pool *p, mm_job *j, const float *x) {
    const int T = j->a.T, in = j->a.in, out = j->a.out, nth = rl_pool_size(p);
    /* one item = BGEMM_ROWS rows against up to BGEMM_TB tokens */
    j->tb = T < BGEMM_TB ? T : BGEMM_TB;
    j->rows = BGEMM_ROWS;
    j->n_rb = (out + j->rows - 1) / j->rows;
    size_t xb = (rl_bf16_acts_bytes(T, in) + 63) & ~(size_t)63, sb = (rl_bf16_scratch_bytes(j->rows, j->tb) + 63) & ~(size_t)63;
    unsigned char *buf = aligned_alloc(64, xb + (size_t)nth * sb);
    if (!buf) return 0;
    bpack_job pj = {(uint32_t *)(void *)buf, x, T, in};
    rl_pool_for_work(p, (T + 15) / 16, 1, (int64_t)T * in * 4, bpack_work, &pj);
    j->xb = pj.xp;
    j->pack = buf + xb;
    j->pack_bytes = sb;
    rl_pool_for_work(p, (int64_t)((T + j->tb - 1) / j->tb) * j->n_rb, 1, (int64_t)T * in * out, mm_work, j);
    free(buf);
    return 1;
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
    if (rl_dtype_is_composite(wtype)) { rl_hfq_matmul(p, y, x, w, wtype, bias, T, in, out); return; } /* HF formats */
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
    /* sweeps: Q4_1 always on the integer GEMM; Q8_0 there with --compute bf16 (else f32 activations) */
    if (j.gemm && (wtype == RL_DT_Q4_1 || (wtype == RL_DT_Q8_0 && rl_matmul_get_compute() == RL_COMPUTE_BF16)) &&
        qgemm_run(p, &j, x))
        return;
    if (j.gemm && wtype == RL_DT_BF16 && rl_matmul_get_compute() == RL_COMPUTE_BF16 &&
        !strncmp(j.s->name, "avx512", 6) && rl_simd_supported("avx512bf16")) {
        if (T >= BGEMM_MIN_T && bgemm_run(p, &j, x)) return;
        uint16_t *xr = T < BGEMM_MIN_T ? malloc((size_t)T * in * sizeof(uint16_t)) : NULL; /* NULL: f32 path */
        if (xr) {
            rl_bf16_round_row(xr, x, (int64_t)T * in);
            j.xr = xr;
            rl_pool_for_work(p, n_items, 1, (int64_t)T * in * out, mm_work, &j);
            free(xr);
            return;
        }
    }
    rl_pool_for_work(p, n_items, 1, (int64_t)T * in * out, mm_work, &j);
}

float rl_dot_f32(const float *a, const float *b, int n) { return rl_simd()->dot(a, b, n); }

void rl_axpy_f32(float *y, float a, const float *x, int n) { rl_simd()->axpy(y, a, x, n); }

void rl_convert_to_f32(float *dst, const void *src, rl_dtype t, int64_t n) {
    if (n <= 0) return;
    if (rl_dtype_is_ggml(t)) { rl_ggml_dequant(dst, src, t, n); return; }
    if (rl_dtype_is_composite(t) || t == RL_DT_F8_E4M3) { /* never small vectors: the engine refuses them */
        for (int64_t i = 0; i < n; i++) dst[i] = NAN;
        return;
    }
    if (rl_dtype_is_weight(t)) { rl_simd()->cvt(dst, src, t, n); return; } /* blocks: whole ones */
    if (t == RL_DT_F64) {
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        return;
    }
    memset(dst, 0, (size_t)n * sizeof(float));
}
