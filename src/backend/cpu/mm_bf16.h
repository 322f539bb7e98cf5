/* BF16-compute GEMM (AVX512-BF16 VDPBF16PS) for BF16 weights; internal to the CPU backend. */
#ifndef RL_MM_BF16_H
#define RL_MM_BF16_H
#include "backend/cpu/simd.h"
#include <stdint.h>

/* dst[i] = x rounded to bf16 (nearest even) for i < n; AVX512-BF16 where built for x86 (callers
 * check rl_simd_supported("avx512bf16") first). */
void rl_bf16_round_row(uint16_t *dst, const float *src, int64_t n);

/* Rows [o0,o1) x tokens [t0,t1) of the matmul a (a->wtype BF16) with the activations given as
 * bf16 rows xb [T][in]: products of bf16 values, f32 sums. */
void rl_gemm_bf16(const rl_mm_args *a, const uint16_t *xb, int t0, int t1, int o0, int o1);

#endif
