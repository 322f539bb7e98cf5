/* CPU kernels for the GGUF weight types (RL_DT_GF16 ... RL_DT_IQ4_NL, see format/dtype.h) with
 * ggml-cpu's numerics: the activation row is converted once per op to the weight type's dot
 * product form (f16 / bf16 rounding, Q8_0, Q8_1 or Q8_K blocks, rounded as ggml's x86 code rounds)
 * and each block is multiplied in integers, then scaled in f32. */
#ifndef RL_GGML_QUANTS_H
#define RL_GGML_QUANTS_H
#include "format/dtype.h"
#include "backend/cpu/threadpool.h"
#include <stdint.h>

/* y[t*out + o] = bias[o] + W[o] . x[t] for a GGUF weight type t (in a multiple of its block).
 * Same contract as rl_matmul. */
void rl_ggml_matmul(rl_pool *p, float *y, const float *x, const void *w, rl_dtype t, const float *bias,
                    int T, int in, int out);

/* dst[i] = the exact f32 value of item i (n items from a block boundary; a partial last block
 * gives 0), as ggml's dequantize_row / get_rows. */
void rl_ggml_dequant(float *dst, const void *src, rl_dtype t, int64_t n);

/* Activation conversion (exposed for tests): quantizes n floats (a multiple of 32 / 256) into
 * ggml's Q8_0 (34-byte blocks), Q8_1 (36-byte blocks: f16 d, f16 d*sum, 32 x int8) or Q8_K
 * (292-byte blocks: f32 d, 256 x int8, 16 x int16 sums) form. */
void rl_ggml_quantize_q8_0(const float *x, void *dst, int64_t n);
void rl_ggml_quantize_q8_1(const float *x, void *dst, int64_t n);
void rl_ggml_quantize_q8_K(const float *x, void *dst, int64_t n);

/* One row's dot product with an activation row already in the type's dot-product form
 * (scalar reference; the matmul uses the same arithmetic). */
float rl_ggml_vec_dot(rl_dtype t, const void *wrow, const void *act, int n);

#endif
