/* Activation rows quantised per block of 32 to int8 for the integer dot products of Q8_0 / Q4_1
 * weights (decode GEMV): layout, the quantiser and the exact scalar reference. Internal to the
 * CPU backend. */
#ifndef RL_QACT_H
#define RL_QACT_H
#include "format/dtype.h"
#include <stdint.h>

/* One activation row of n items (n a multiple of RL_QBLOCK), quantised per block b:
 * x[i] ~ d * q[i] with d = ds[2b] = max|x| / 127 over the block, q = round-to-nearest-even of
 * x / d (so |q| <= 127); s = ds[2b+1] is the f32 sum of the block's x (for Q4_1's min term: in
 * item order on the scalar path, as a tree on the avx512* paths; the codes are the same on all).
 * d and s sit side by side so one 8-byte load brings both. */
typedef struct {
    const int8_t *q;
    const float *ds;
} rl_qrow;

/* Bytes one quantised row of n items takes in a buffer (q, then the (d, s) pairs; 8-byte aligned
 * when the buffer is). */
static inline size_t rl_qrow_bytes(int64_t n) { return (size_t)n + 2 * sizeof(float) * (size_t)(n / RL_QBLOCK); }

/* Quantises x[0..n) into buf (rl_qrow_bytes(n) bytes, 8-byte aligned); returns the row view. */
rl_qrow rl_qrow_quantize(void *buf, const float *x, int64_t n);

/* Exact reference of what every integer kernel computes for one weight row w (Q8_0 or Q4_1, n
 * items) against a quantised row: sum over blocks of dw*d*(sum q_w*q_x) (+ mw*s for Q4_1), with
 * the per-block integer sum exact and the block terms added in block order in f32. The SIMD
 * kernels add the same per-block terms but in another order, so they agree to f32 rounding. */
float rl_qdot_ref(rl_dtype wt, const uint8_t *w, rl_qrow x, int64_t n);

/* y[t*out + o] = bias[o] + rl_qdot(W row o, xq[t]) for t in [t0,t1), o in [o0,o1): one
 * instruction-set implementation of the integer GEMV (W rows rl_dtype_row_bytes(wt, in) apart). */
typedef void (*rl_qgemv_fn)(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                            const float *bias, int t0, int t1, int o0, int o1);

void rl_qgemv_scalar(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                     const float *bias, int t0, int t1, int o0, int o1);
void rl_qgemv_avx2(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                   const float *bias, int t0, int t1, int o0, int o1);
void rl_qgemv_avxvnni(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                      const float *bias, int t0, int t1, int o0, int o1);
void rl_qgemv_avx512vnni(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                         const float *bias, int t0, int t1, int o0, int o1);
/* mm_qzmm.c: Q8_0 / Q4_1 rows 8 at a time in 512-bit registers (AVX512-VNNI + VBMI), the rest through
 * rl_qgemv_avx512vnni; the avx512vnni path's GEMV where rl_qzmm_usable(). */
void rl_qgemv_avx512vbmi(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                         const float *bias, int t0, int t1, int o0, int o1);
int rl_qzmm_usable(void);

#endif
