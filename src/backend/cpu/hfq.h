/* CPU kernels for the HuggingFace pre-quantized weight formats (FP8 block-scaled, GPTQ, AWQ,
 * bitsandbytes 4-bit): each weight dequantised exactly in f32 (scale x code, no rounding to
 * f16 / bf16) one tile at a time inside the matmul, f32 activations and accumulation. The
 * operand is an rl_qweight descriptor (backend/backend.h). */
#ifndef RL_HFQ_H
#define RL_HFQ_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

/* W[o0 .. o0+no)[i0 .. i0+ni) of a composite weight as f32 into dst (no rows of ni floats).
 * Codes whose group index is out of range (a corrupt g_idx) give NaN. */
void rl_hfq_dequant(const rl_qweight *q, rl_dtype dt, int o0, int no, int i0, int ni, float *dst);

/* y[t][o] = bias[o] + sum_i x[t][i] W[o][i] for a composite weight (see matmul.h's rl_matmul). */
void rl_hfq_matmul(rl_pool *p, float *y, const float *x, const rl_qweight *q, rl_dtype dt, const float *bias,
                   int T, int in, int out);

#endif
