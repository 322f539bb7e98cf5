/* Elementwise and per-row f32 operations (see ops.h); plain C the compiler vectorises, SiLU through
 * the dispatched SIMD kernel (simd.h). */
#include "backend/cpu/ops.h"
#include "backend/cpu/simd.h"
#include <math.h>

void rl_rmsnorm(float *out, const float *x, const float *w, int T, int n, float eps, int one_plus) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (int64_t)t * n;
        float *o = out + (int64_t)t * n;
        double ss = 0; /* as ggml: f32 squares summed in double, mean and scale in f32 */
        for (int i = 0; i < n; i++) ss += (double)(xr[i] * xr[i]);
        float mean = (float)(ss / n);
        float scale = 1.0f / sqrtf(mean + eps);
        if (!w) for (int i = 0; i < n; i++) o[i] = xr[i] * scale;
        else if (one_plus) for (int i = 0; i < n; i++) o[i] = xr[i] * scale * (1.0f + w[i]);
        else for (int i = 0; i < n; i++) o[i] = xr[i] * scale * w[i];
    }
}

void rl_layernorm(float *out, const float *x, const float *w, const float *b, int T, int n, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (int64_t)t * n;
        float *o = out + (int64_t)t * n;
        double s = 0;
        for (int i = 0; i < n; i++) s += xr[i];
        float mean = (float)(s / n);
        double v = 0;
        for (int i = 0; i < n; i++) { double d = xr[i] - mean; v += d * d; }
        float scale = (float)(1.0 / sqrt(v / n + eps));
        for (int i = 0; i < n; i++) {
            float y = (xr[i] - mean) * scale;
            if (w) y *= w[i];
            if (b) y += b[i];
            o[i] = y;
        }
    }
}

void rl_silu_mul(float *gate, const float *up, int64_t n) { rl_simd()->silu_mul(gate, up, n); }

void rl_gelu_tanh_mul(float *gate, const float *up, int64_t n) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i];
        float g = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
        gate[i] = up ? g * up[i] : g;
    }
}

void rl_gelu_erf_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i];
        float g = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        gate[i] = up ? g * up[i] : g;
    }
}

void rl_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; up && i < n; i++) gate[i] *= up[i];
}

void rl_relu2_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float r = gate[i] > 0.0f ? gate[i] : 0.0f, g = r * r;
        gate[i] = up ? g * up[i] : g;
    }
}

void rl_swiglu_oai_mul(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = fminf(gate[i], 7.0f), u = up ? fminf(fmaxf(up[i], -7.0f), 7.0f) : 0.0f;
        gate[i] = g / (1.0f + expf(-1.702f * g)) * (u + 1.0f);
    }
}

void rl_softmax(float *x, int n) {
    if (n <= 0) return;
    float mx = x[0];
    for (int i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    double s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - mx); s += x[i]; }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void rl_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void rl_scale(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}
