/* Row and elementwise helpers of the CPU backend that the kernels of matmul.c / ops.c do not
 * cover: strided copies, soft-cap, sigmoid gates, NormHead row scaling, MoE gather/scatter. */
#ifndef RL_CPU_ROWOPS_H
#define RL_CPU_ROWOPS_H
#include "backend/cpu/threadpool.h"
#include "format/dtype.h"
#include <stddef.h>
#include <stdint.h>

/* rows of row_bytes from src (src_stride apart) to dst (dst_stride apart); memmove per row. */
void rl_copy2d(void *dst, size_t dst_stride, const void *src, size_t src_stride, size_t row_bytes, int rows);
/* x[i] = c * tanh(x[i] / c). */
void rl_softcap(float *x, float c, int64_t n);
void rl_clamp(float *x, float c, int64_t n); /* x = min(max(x, -c), c) */
/* y[i] *= sigmoid(g[i]). */
void rl_sigmoid_mul(float *y, const float *g, int64_t n);
/* out[t][r] /= max(||w[r]||, 1e-12) (w: rows x cols of dtype dt); T output rows of `rows`. */
void rl_row_norm_div(rl_pool *p, float *out, int T, int rows, const void *w, rl_dtype dt, int cols);
/* out[t] *= sigmoid(x[t] . g) for T rows of n. */
void rl_row_gate(float *out, const float *x, const float *g, int T, int n);
/* y[t][i] *= w[t] for T rows of n. */
void rl_scale_rows(float *y, const float *w, int T, int n);
/* dst[r] = src[rows[r]]; dst[rows[r]] += w[r] * src[r] (rows of n floats). */
void rl_gather_rows(float *dst, const float *src, const int32_t *rows, int n_rows, int n);
void rl_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n);

/* y[t][o] = sum_i x[t][i] W[i][o] (W: in rows of out values, dtype dt); threads over column
 * blocks of y. */
void rl_matmul_t(rl_pool *p, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out);

#endif
