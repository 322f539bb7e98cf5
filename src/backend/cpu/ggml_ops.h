/* Elementwise ops in ggml-cpu's numerics (GGUF models, rl_backend.numerics RL_NUMERICS_GGML). */
#ifndef RL_CPU_GGML_OPS_H
#define RL_CPU_GGML_OPS_H
#include <stdint.h>

/* gate = silu(gate) (* up) over one row of n: ggml_vec_silu_f32 / ggml_vec_swiglu_f32 (runs of 16
 * through ggml_v_silu, the tail through x / (1 + expf(-x))). */
void rl_ggml_silu_mul(float *gate, const float *up, int64_t n);
/* x = softmax(x) over n as ggml_soft_max computes it (runs of 16 through ggml_v_expf, each run's
 * sum reduced into a double, the tail through expf; x (float)(1 / sum)). */
void rl_ggml_softmax(float *x, int n);

/* dst[rows[r]] += src[r] x w[r] with the product rounded first (ggml_mul, then ggml_add of the
 * experts' weighted outputs), not fused. */
void rl_ggml_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n);

#endif
