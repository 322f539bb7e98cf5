/* AVX-512F instantiation of the kernel template (mm_tmpl.h); selected at run time. */
#include "format/dtype.h"
#include <stdint.h>
#include "backend/cpu/simd.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SFX(n) n##_avx512
#define QGEMV rl_qgemv_avx2
#define QGEMM rl_qgemm_avx2
#define SFX_NAME "avx512"
#define TGT __attribute__((target("avx512f,avx2,fma,f16c")))
#define V __m512
#define VW 16
#define MR 4
#define NR 4
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_SET1(s) _mm512_set1_ps(s)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_LOAD_BF16(p) _mm512_castsi512_ps(_mm512_slli_epi32( \
    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define V_LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define V_LOAD_I8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
#define V_LOAD_U8_(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_LOAD_U4LO(p) _mm512_cvtepi32_ps(_mm512_and_si512(V_LOAD_U8_(p), _mm512_set1_epi32(15)))
#define V_LOAD_U4HI(p) _mm512_cvtepi32_ps(_mm512_srli_epi32(V_LOAD_U8_(p), 4))
#define H2F(h) _cvtsh_ss(h)
#include "backend/cpu/zmm_red.h"
#define V_STORE_TILE(acc, y, ldy, first, bias) zmm_store4x4((acc), (y), (ldy), (first), (bias))
#include <math.h>
#include "backend/cpu/exp_cephes.h"

/* Cephes' expf on 16 lanes (x already clamped to [-88, 88]), 2^n by VSCALEFPS. */
TGT static inline __m512 exp_avx512(__m512 x) {
    const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = EXP_CEPHES_REDUCE(x, fx, _mm512_fnmadd_ps, _mm512_set1_ps);
    return _mm512_scalef_ps(EXP_CEPHES_POLY(r, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_set1_ps), fx);
}

/* exp_shift (simd.h): exp_avx512 of s - mx (below -88: exp(-88)), masked tail. */
TGT static float exp_shift_avx512(float *s, int n, float mx) {
    const __m512 vmx = _mm512_set1_ps(mx), ninf = _mm512_set1_ps(-INFINITY), lo = _mm512_set1_ps(-88.0f);
    __m512 acc = _mm512_setzero_ps();
    for (int c = 0; c < n; c += 16) {
        __mmask16 m = n - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - c)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(m, s + c);
        __mmask16 live = m & _mm512_cmp_ps_mask(x0, ninf, _CMP_NEQ_OQ);
        __m512 e = _mm512_maskz_mov_ps(live, exp_avx512(_mm512_max_ps(_mm512_sub_ps(x0, vmx), lo)));
        _mm512_mask_storeu_ps(s + c, m, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}

/* decay_exp_axpy_dot (simd.h): exp_avx512 of dt a clamped to [-88, 88], masked tail. */
TGT static float decay_exp_axpy_dot_avx512(float *s, const float *a, float dt, float b, const float *x, const float *c, int n) {
    const __m512 lo = _mm512_set1_ps(-88.0f), hi = _mm512_set1_ps(88.0f), vdt = _mm512_set1_ps(dt), vb = _mm512_set1_ps(b);
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 e = exp_avx512(_mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(vdt, _mm512_maskz_loadu_ps(m, a + i)), lo), hi));
        const __m512 u = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, x + i), _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + i), e));
        _mm512_mask_storeu_ps(s + i, m, u);
        acc = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(m, c + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* silu_mul (simd.h): g / (1 + exp(-g)) (times up), exp's argument clamped to [-88, 88]. */
TGT static void silu_mul_avx512(float *gate, const float *up, int64_t n) {
    const __m512 lo = _mm512_set1_ps(-88.0f), hi = _mm512_set1_ps(88.0f), one = _mm512_set1_ps(1.0f);
    for (int64_t c = 0; c < n; c += 16) {
        __mmask16 m = n - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - c)) - 1);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + c);
        const __m512 e = exp_avx512(_mm512_min_ps(_mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), g), lo), hi));
        __m512 r = _mm512_div_ps(g, _mm512_add_ps(one, e));
        if (up) r = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, up + c));
        _mm512_mask_storeu_ps(gate + c, m, r);
    }
}
#include "backend/cpu/mm_tmpl.h"
#else
const rl_simd_impl rl_simd_avx512 = {0};
#endif
