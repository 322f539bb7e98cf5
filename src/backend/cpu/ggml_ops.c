/* Elementwise ops in ggml-cpu's numerics (see ggml_ops.h). */
#include "backend/cpu/ggml_ops.h"
#include "backend/cpu/ggml_math.h"
#include <stddef.h>
#include <string.h>
#include "backend/cpu/simd.h"
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* the weighted expert output is rounded before it is added, as ggml_mul then ggml_add */
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include "backend/cpu/ggml_math_zmm.h"
#define ZTGT __attribute__((target("avx512f")))
/* The runs of 16 of rl_ggml_silu_mul on AVX-512 (the same values); returns the items done. */
ZTGT static int64_t silu_runs_zmm(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 15 < n; i += 16) {
        const __m512 x = _mm512_loadu_ps(gate + i);
        __m512 g = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), rl_ggml_v_expf_zmm(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        if (up) g = _mm512_mul_ps(g, _mm512_loadu_ps(up + i));
        _mm512_storeu_ps(gate + i, g);
    }
    return i;
}
#endif

void rl_ggml_silu_mul(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (!strncmp(rl_simd()->name, "avx512", 6)) i = silu_runs_zmm(gate, up, n);
#endif
    for (; i + 15 < n; i += 16)
        for (int64_t l = i; l < i + 16; l++) {
            float g = rl_ggml_v_silu(gate[l]);
            gate[l] = up ? g * up[l] : g;
        }
    for (; i < n; i++) {
        float x = gate[i], g = x / (1.0f + expf(-x));
        gate[i] = up ? g * up[i] : g;
    }
}

void rl_ggml_softmax(float *x, int n) {
    if (n <= 0) return;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    double sum = 0;
    int i = 0;
    for (; i + 15 < n; i += 16) {
        for (int l = 0; l < 16; l++) x[i + l] = rl_ggml_v_expf(x[i + l] - mx);
        sum += (double)rl_ggml_hsum16(x + i);
    }
    for (; i < n; i++) { x[i] = expf(x[i] - mx); sum += (double)x[i]; }
    float inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++) x[i] *= inv;
}

void rl_ggml_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n) {
    for (int r = 0; r < n_rows; r++) {
        float *d = dst + (size_t)rows[r] * n;
        const float *x = src + (size_t)r * n;
        for (int i = 0; i < n; i++) d[i] = d[i] + x[i] * w[r];
    }
}
