/* SIMD pieces of the HF quant matmul (hfq_avx2.c, hfq_avx512.c); hfq.c calls them when rl_simd() is not the
 * scalar path (every x86-64 path above scalar has AVX2 + FMA). */
#ifndef RL_HFQ_SIMD_H
#define RL_HFQ_SIMD_H
#include "backend/backend.h"
#include <stdint.h>

/* dst[j] = e4m3(codes[j]) * s, j < n. */
void rl_hfq_fp8_row_avx2(const uint8_t *codes, float s, int n, float *dst);
/* Column-major tile colt[j][r] = W[o0 + r][i0 + j], r < 16 (o0 + 16 <= rows), from the per-group
 * tables sf / zi (ngroups x 16) of hfq.c; awq: AWQ layout, else GPTQ. */
void rl_hfq_int_cols_avx2(const rl_qweight *q, int awq, int o0, int i0, int ni, const float *sf, const int *zi, float *colt);
/* y16[r] += sum_j x[j] colt[j][r]. */
void rl_hfq_cols_acc_avx2(const float *x, const float *colt, int ni, float *y16);
/* The same for 4 tokens at once: rows x + t xs, outputs y + t ys (t < 4); same sums, same order. */
void rl_hfq_cols_acc4_avx2(const float *x, size_t xs, const float *colt, int ni, float *y, size_t ys);
/* One MXFP4 row against T <= 4 tokens, as rl_hfq_mxfp4_row_avx512 below. */
void rl_hfq_mxfp4_row_avx2(const uint8_t *codes, const uint8_t *scales, const float *e8, int cols, const float *x,
                           int T, float *y, size_t ys, float bias);

/* AVX-512 F+BW decode kernels (hfq_avx512.c; hfq.c calls them where the CPU has them), T <= 4:
 * y[t*rows + o] = bias[o] + sum_i x[t*cols + i] W[o][i] for o in [o0, o1) (FP8) ... */
void rl_hfq_fp8_gemv_avx512(const rl_qweight *q, const float *x, int T, int o0, int o1, float *y, const float *bias);
/* ... one bitsandbytes 4-bit row: y[t*ys] = bias + sum_j x[t*cols + j] map[code j] amax[j / group]
 * (codes from an even index, group a multiple of 32 dividing cols) ... */
void rl_hfq_bnb4_row_avx512(const uint8_t *codes, const float *map, const float *amax, int group, int cols,
                            const float *x, int T, float *y, size_t ys, float bias);
/* ... one MXFP4 row (cols a multiple of 32): y[t*ys] = bias + sum_j x[t*cols + j] e2m1(code j) e8[scales[j / 32]]
 * (e8: the 256 powers 2^(s - 127)) ... */
void rl_hfq_mxfp4_row_avx512(const uint8_t *codes, const uint8_t *scales, const float *e8, int cols, const float *x,
                             int T, float *y, size_t ys, float bias);
/* ... and for o in [o0, o0 + 64 nsb), nsb <= INT_NSB (GPTQ / AWQ; awq: AWQ layout), from the
 * per-group tables sf (scales) and nsz (-scale * zero): per block of 64 outputs ngroups x 64
 * floats, the blocks one after the other. */
#define INT_NSB 4
void rl_hfq_int_gemv_avx512(const rl_qweight *q, int awq, int o0, int nsb, const float *sf, const float *nsz,
                            const float *x, int T, float *y, const float *bias);

#endif
