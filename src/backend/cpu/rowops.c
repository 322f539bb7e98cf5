/* Row and elementwise helpers of the CPU backend (see rowops.h). */
#include "backend/cpu/rowops.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_copy2d(void *dst, size_t dst_stride, const void *src, size_t src_stride, size_t row_bytes, int rows) {
    if (dst == src && dst_stride == src_stride) return;
    for (int r = 0; r < rows; r++)
        memmove((char *)dst + (size_t)r * dst_stride, (const char *)src + (size_t)r * src_stride, row_bytes);
}

void rl_softcap(float *x, float c, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = c * tanhf(x[i] / c);
}

void rl_clamp(float *x, float c, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] < -c ? -c : x[i] > c ? c : x[i];
}

void rl_sigmoid_mul(float *y, const float *g, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= 1.0f / (1.0f + expf(-g[i]));
}

typedef struct {
    float *out;
    const void *w;
    rl_dtype dt;
    int T, rows, cols;
} rnd_job;

static void rnd_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const rnd_job *j = ctx;
    size_t rb = rl_dtype_row_bytes(j->dt, j->cols);
    float tmp[256];
    for (int64_t r = b; r < e; r++) {
        const uint8_t *row = (const uint8_t *)j->w + (size_t)r * rb;
        double ss = 0;
        /* whole row in chunks of whole blocks (block formats convert from a block boundary) */
        int blk = RL_DTYPES[j->dt].block > 0 ? RL_DTYPES[j->dt].block : 1, step = 256 / blk * blk;
        for (int c0 = 0; c0 < j->cols; c0 += step) {
            int n = j->cols - c0 < step ? j->cols - c0 : step;
            rl_convert_to_f32(tmp, row + rl_dtype_row_bytes(j->dt, c0), j->dt, n);
            for (int i = 0; i < n; i++) ss += (double)tmp[i] * tmp[i];
        }
        double nrm = sqrt(ss);
        float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
        for (int t = 0; t < j->T; t++) j->out[(size_t)t * j->rows + r] *= inv;
    }
}

void rl_row_norm_div(rl_pool *p, float *out, int T, int rows, const void *w, rl_dtype dt, int cols) {
    rnd_job j = {out, w, dt, T, rows, cols};
    rl_pool_for(p, rows, 64, rnd_work, &j);
}

void rl_row_gate(float *out, const float *x, const float *g, int T, int n) {
    for (int t = 0; t < T; t++) {
        float z = rl_dot_f32(x + (size_t)t * n, g, n), sg = 1.0f / (1.0f + expf(-z));
        float *o = out + (size_t)t * n;
        for (int i = 0; i < n; i++) o[i] *= sg;
    }
}

void rl_scale_rows(float *y, const float *w, int T, int n) {
    for (int t = 0; t < T; t++) {
        float *o = y + (size_t)t * n, s = w[t];
        for (int i = 0; i < n; i++) o[i] *= s;
    }
}

void rl_gather_rows(float *dst, const float *src, const int32_t *rows, int n_rows, int n) {
    for (int r = 0; r < n_rows; r++) memcpy(dst + (size_t)r * n, src + (size_t)rows[r] * n, (size_t)n * sizeof(float));
}

void rl_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n) {
    for (int r = 0; r < n_rows; r++) rl_axpy_f32(dst + (size_t)rows[r] * n, w[r], src + (size_t)r * n, n);
}

typedef struct {
    float *y;
    const float *x;
    const void *w;
    rl_dtype dt;
    int T, in, out;
} mt_job;

#define MT_COLS 256 /* columns per work item: one converted W row chunk on the stack */

static void mt_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mt_job *j = ctx;
    size_t rb = rl_dtype_row_bytes(j->dt, j->out);
    float tmp[MT_COLS];
    for (int64_t c = b; c < e; c++) {
        int o0 = (int)c * MT_COLS, n = j->out - o0 < MT_COLS ? j->out - o0 : MT_COLS;
        for (int t = 0; t < j->T; t++) memset(j->y + (size_t)t * j->out + o0, 0, (size_t)n * sizeof(float));
        for (int i = 0; i < j->in; i++) {
            rl_convert_to_f32(tmp, (const uint8_t *)j->w + (size_t)i * rb + rl_dtype_row_bytes(j->dt, o0), j->dt, n);
            for (int t = 0; t < j->T; t++) rl_axpy_f32(j->y + (size_t)t * j->out + o0, j->x[(size_t)t * j->in + i], tmp, n);
        }
    }
}

void rl_matmul_t(rl_pool *p, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out) {
    mt_job j = {y, x, w, dt, T, in, out};
    rl_pool_for(p, (out + MT_COLS - 1) / MT_COLS, 1, mt_work, &j);
}
