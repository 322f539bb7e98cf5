/* Block quantization of f32 rows into the Q8_0 / Q4_1 layouts of dtype.h (used by the layer
 * cache writer), and a plain scalar dequantizer (the reference the kernels are tested against). */
#ifndef RL_QUANTIZE_H
#define RL_QUANTIZE_H
#include "format/dtype.h"
#include <stdint.h>

/* Quantizes n floats (n a multiple of RL_QBLOCK) into dst (rl_dtype_row_bytes(t, n) bytes) of
 * type t (RL_DT_Q8_0 or RL_DT_Q4_1). Q8_0: d = max|x| / 127 (as f16), q = round(x / d).
 * Q4_1: m = min x, d = (max x - m) / 15 (both f16), q = round((x - m) / d) in 0..15.
 * Returns 0, or -1 with rl_err if a value is not finite, a scale does not fit f16, t is not a
 * block type or n is not a multiple of the block. */
int rl_quantize_row(rl_dtype t, const float *src, void *dst, int64_t n);

/* dst[i] = value of item i (scalar reference: d * q (+ m) in f32), n a multiple of RL_QBLOCK. */
void rl_dequantize_row_ref(rl_dtype t, const void *src, float *dst, int64_t n);

#endif
