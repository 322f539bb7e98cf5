/* ggml's vector exponential on 16 lanes (x86, AVX-512; include after <immintrin.h>), shared by
 * the GGUF elementwise ops (SiLU) and the GGUF attention's softmax. */
#ifndef RL_GGML_MATH_ZMM_H
#define RL_GGML_MATH_ZMM_H
#include <immintrin.h>
#include <math.h>

/* rl_ggml_v_expf on 16 lanes, step for step (its fmas, then j x 2^e by VSCALEFPS; |e| > 192: 0 or
 * inf as the scalar form). */
static inline __attribute__((target("avx512f"))) __m512 rl_ggml_v_expf_zmm(__m512 x) {
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

#endif
