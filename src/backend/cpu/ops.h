/* Elementwise and per-row f32 operations of transformer blocks (norms, activations, softmax). */
#ifndef RL_OPS_H
#define RL_OPS_H
#include <stdint.h>

/* RMS norm over T contiguous rows of n: out = x / sqrt(mean(x^2) + eps) * g, g = w[i] or
 * (one_plus) 1 + w[i]; w f32 [n] (NULL: g = 1). Mean of squares is summed in double.
 * out may alias x. */
void rl_rmsnorm(float *out, const float *x, const float *w, int T, int n, float eps, int one_plus);

/* Layer norm over T rows of n: out = (x - mean) / sqrt(var + eps) * w + b (biased variance);
 * w may be NULL (=1), b may be NULL (=0). out may alias x. */
void rl_layernorm(float *out, const float *x, const float *w, const float *b, int T, int n, float eps);

/* gate[i] = silu(gate[i]) * up[i] = gate/(1+exp(-gate)) * up; up may be NULL (plain silu). */
void rl_silu_mul(float *gate, const float *up, int64_t n);

/* gate[i] = gelu_tanh(gate[i]) * up[i] (PyTorch "gelu_pytorch_tanh":
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))); up may be NULL (plain gelu). */
void rl_gelu_tanh_mul(float *gate, const float *up, int64_t n);

/* gate[i] = gelu_erf(gate[i]) * up[i] (exact: 0.5 x (1 + erf(x / sqrt 2))); up may be NULL. */
void rl_gelu_erf_mul(float *gate, const float *up, int64_t n);
/* gate = max(gate, 0)^2 (* up when up is not NULL). */
void rl_relu2_mul(float *gate, const float *up, int64_t n);
void rl_mul(float *gate, const float *up, int64_t n); /* gate *= up */
/* gpt-oss's clamped SwiGLU: g = min(gate, 7), u = clamp(up, -7, 7), gate = g sigmoid(1.702 g) (u + 1). */
void rl_swiglu_oai_mul(float *gate, const float *up, int64_t n);

/* In-place softmax of x[0..n): subtract max, exp, divide by the (double) sum. -inf entries give 0. */
void rl_softmax(float *x, int n);

/* y[i] += x[i]. */
void rl_add(float *y, const float *x, int64_t n);

/* y[i] *= s. */
void rl_scale(float *y, float s, int64_t n);

#endif
