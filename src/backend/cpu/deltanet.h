/* Gated DeltaNet kernels of the CPU backend (Qwen3.5 linear attention): the depthwise causal
 * conv + SiLU and the token-by-token gated delta rule with its gated RMSNorm, in f32. */
#ifndef RL_CPU_DELTANET_H
#define RL_CPU_DELTANET_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

#define RL_DN_MAX_HD 1024 /* largest supported linear-attention head dim (stack scratch per head) */

void rl_dn_conv(float *out, const float *in, const float *conv_w, const float *conv_b, int T, int C, int K, int silu);
void rl_dn_recur(rl_pool *p, const rl_dn_dims *dd, float *state, const float *conv, const float *b, const float *a,
                 const float *z, const float *a_log, const float *dt_bias, const float *norm_w, float *core, int T);

#endif
