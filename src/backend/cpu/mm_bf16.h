/* BF16-compute GEMM (AVX512-BF16 VDPBF16PS) for BF16 weights; internal to the CPU backend. */
#ifndef RL_MM_BF16_H
#define RL_MM_BF16_H
#include "backend/cpu/simd.h"
#include <stddef.h>
#include <stdint.h>

/* dst[i] = x rounded to bf16 (nearest even) for i < n; AVX512-BF16 where built for x86 (callers
 * check rl_simd_supported("avx512bf16") first). */
void rl_bf16_round_row(uint16_t *dst, const float *src, int64_t n);

/* Few tokens (mm_bf16_dot.c): rows [o0,o1) x tokens [t0,t1) with the activations given as bf16
 * rows xb [T][in]. */
void rl_gemm_bf16_dot(const rl_mm_args *a, const uint16_t *xb, int t0, int t1, int o0, int o1);

/* Bytes of the packed activations of T tokens x in items, and of a work item's scratch (rows x
 * up to T tokens). */
size_t rl_bf16_acts_bytes(int T, int in);
size_t rl_bf16_scratch_bytes(int rows, int T);

/* Rounds tokens [t0, t1) of x [T][in] to bf16 and packs them into xp (rl_bf16_acts_bytes;
 * t0 a multiple of 16; tokens t1..(t1 rounded up to 16) zero where t1 = T). */
void rl_bf16_pack_acts(uint32_t *xp, const float *x, int T, int in, int t0, int t1);

/* Rows [o0,o1) x tokens [t0,t1) (t0 a multiple of 64) of the matmul a (a->wtype BF16) on the
 * packed activations xp: products of bf16 values, f32 sums; yt: scratch of
 * rl_bf16_scratch_bytes(o1 - o0, t1 - t0). */
void rl_gemm_bf16(const rl_mm_args *a, const uint32_t *xp, float *yt, int t0, int t1, int o0, int o1);

#endif
