/* MoE routing on the CPU: scores (softmax or sigmoid), group-limited choice with the correction
 * bias, top-k, renormalisation and scaling (see rl_backend_ops.moe_route). */
#ifndef RL_CPU_MOE_ROUTE_H
#define RL_CPU_MOE_ROUTE_H
#include "backend/backend.h"

/* ggml: llama.cpp's numerics (GGUF models): softmax as ggml_soft_max, top-k weights divided by
 * their f32 sum (clamped at 2^-14) as ggml_sum_rows + ggml_div. */
void rl_moe_route(float *logits, const float *bias, int T, const rl_route_params *p, int32_t *idx, float *w, int ggml);

#endif
