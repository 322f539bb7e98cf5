/* Dense matmul over F32/F16/BF16 and block-quantized Q8_0/Q4_1 weights plus small SIMD vector
 * helpers (runtime-dispatched). */
#ifndef RL_MATMUL_H
#define RL_MATMUL_H
#include "format/dtype.h"
#include "backend/cpu/threadpool.h"
#include <stdint.h>

/* y[t*out + o] = bias[o] + sum_i x[t*in + i] * W[o*in + i] for t < T, o < out.
 * W: row-major [out][in] in wtype (RL_DT_F32, RL_DT_F16, RL_DT_BF16, or the block-quantized
 * RL_DT_Q8_0 / RL_DT_Q4_1 with in a multiple of their block, each row rl_dtype_row_bytes(wtype,
 * in) bytes), read in place (only cache-sized tiles are converted to f32). x [T][in], y [T][out], bias [out] are f32; bias may be
 * NULL; y must not alias x. Accumulates in f32. Threads over output rows (and token blocks) on p
 * (NULL: single-threaded). All buffers are owned by the caller. An unsupported wtype fills y
 * with NaN. With Q8_0 / Q4_1 weights the rows of x are first quantised per block of 32 to int8
 * (scale max|x|/127) and the dot products run on integers (qact.h) for decode (T < 4: the GEMV)
 * and, for Q4_1 always and for Q8_0 with RL_COMPUTE_BF16, for sweeps (T >= 4: the packed
 * integer GEMM of qgemm.h): the result differs from the f32-activation one by that rounding
 * (about 0.3 % of the dot product's magnitude at worst; if the scratch cannot be allocated a
 * sweep falls back to f32 activations). Q8_0 sweeps in the default RL_COMPUTE_F32 and F32 / F16
 * / BF16 weights use f32 activations. */
void rl_matmul(rl_pool *p, float *y, const float *x, const void *w, rl_dtype wtype, const float *bias,
               int T, int in, int out);

/* Precision of multi-token matmuls over BF16 and Q8_0 weights. RL_COMPUTE_F32 (default): f32
 * activations, f32 products. RL_COMPUTE_BF16: from 4 tokens on, the activations are rounded to
 * bf16 and the products run on VDPBF16PS (f32 sums) where the CPU has AVX512-BF16 (else f32,
 * unchanged) -- what a model run in bfloat16 does; about twice the f32 throughput; and Q8_0
 * weights run on the integer GEMM over int8-quantised activations (what llama.cpp does). Process-wide; the environment
 * variable RL_COMPUTE=bf16 sets the initial value. Decode (T < 4) always stays f32. */
typedef enum { RL_COMPUTE_F32 = 0, RL_COMPUTE_BF16 = 1 } rl_compute;
void rl_matmul_set_compute(rl_compute c);
rl_compute rl_matmul_get_compute(void);

/* sum_i a[i]*b[i] over n f32 values (f32 accumulation, SIMD). */
float rl_dot_f32(const float *a, const float *b, int n);

/* y[i] += a * x[i] for i < n (SIMD). */
void rl_axpy_f32(float *y, float a, const float *x, int n);

/* dst[i] = (float)src[i] for n elements of type t (F32, F16, BF16, F64, and Q8_0 / Q4_1 from a
 * block boundary: whole blocks dequantized, a partial last block gives 0; other types give 0).
 * Meant for small tensors (norm weights, biases); dst is caller-owned, n floats. */
void rl_convert_to_f32(float *dst, const void *src, rl_dtype t, int64_t n);

/* Name of the SIMD path in use: "avx512vnni", "avx512", "avxvnni", "avx2" or "scalar" (RL_SIMD env var forces one). */
const char *rl_simd_name(void);

#endif
