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
#define ZTGT __attribute__((target("avx512f")))
/* rl_ggml_v_expf on 16 lanes, step for step (its fmas, then j x 2^e by VSCALEFPS; |e| > 192: 0 or
 * inf as the scalar form). */
ZTGT static inline __m512 v_expf_zmm(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r), r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_LE_OQ);
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_set1_ps(INFINITY),
                                            _mm512_setzero_ps());
    return _mm512_mask_blend_ps(ok, alt, _mm512_scalef_ps(j, n));
}
/* The runs of 16 of rl_ggml_silu_mul on AVX-512 (the same values); returns the items done. */
ZTGT static int64_t silu_runs_zmm(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 15 < n; i += 16) {
        const __m512 x = _mm512_loadu_ps(gate + i);
        __m512 g = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), v_expf_zmm(_mm512_sub_ps(_mm512_setzero_ps(), x))));
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
