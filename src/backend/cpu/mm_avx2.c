/* AVX2+FMA+F16C instantiation of the kernel template (mm_tmpl.h); selected at run time. */
#include "format/dtype.h"
#include <stdint.h>
#include "backend/cpu/simd.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SFX(n) n##_avx2
#define QGEMV rl_qgemv_avx2
#define QGEMM rl_qgemm_avx2
#define SFX_NAME "avx2"
#define TGT __attribute__((target("avx2,fma,f16c")))
#define V __m256
#define VW 8
#define MR 4
#define NR 3
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_SET1(s) _mm256_set1_ps(s)
#define V_HSUM(v) hsum_avx2(v)
#define V_LOAD_BF16(p) _mm256_castsi256_ps(_mm256_slli_epi32( \
    _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define V_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_LOAD_I8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define V_LOAD_U8_(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p)))
#define V_LOAD_U4LO(p) _mm256_cvtepi32_ps(_mm256_and_si256(V_LOAD_U8_(p), _mm256_set1_epi32(15)))
#define V_LOAD_U4HI(p) _mm256_cvtepi32_ps(_mm256_srli_epi32(V_LOAD_U8_(p), 4))
#define H2F(h) _cvtsh_ss(h)

TGT static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#include <math.h>
#include "backend/cpu/exp_cephes.h"

/* Cephes' expf on 8 lanes (x already clamped to [-87, 87]), 2^n through the exponent bits. */
TGT static inline __m256 exp_avx2(__m256 x) {
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = EXP_CEPHES_REDUCE(x, fx, _mm256_fnmadd_ps, _mm256_set1_ps);
    const __m256 y = EXP_CEPHES_POLY(r, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_set1_ps);
    const __m256i e2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e2));
}

/* exp_shift (simd.h): exp_avx2 of s - mx (below -87: exp(-87)); the tail scalar. */
TGT static float exp_shift_avx2(float *s, int n, float mx) {
    const __m256 vmx = _mm256_set1_ps(mx), ninf = _mm256_set1_ps(-INFINITY), lo = _mm256_set1_ps(-87.0f);
    __m256 acc = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= n; c += 8) {
        __m256 x0 = _mm256_loadu_ps(s + c);
        __m256 live = _mm256_cmp_ps(x0, ninf, _CMP_NEQ_OQ);
        __m256 e = _mm256_and_ps(live, exp_avx2(_mm256_max_ps(_mm256_sub_ps(x0, vmx), lo)));
        _mm256_storeu_ps(s + c, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum_avx2(acc);
    for (; c < n; c++) {
        float e = s[c] == -INFINITY ? 0.0f : expf(s[c] - mx);
        s[c] = e;
        sum += e;
    }
    return sum;
}

/* decay_exp_axpy_dot (simd.h): exp_avx2 of dt a clamped to [-87, 87]; the tail scalar. */
TGT static float decay_exp_axpy_dot_avx2(float *s, const float *a, float dt, float b, const float *x, const float *c, int n) {
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(87.0f), vdt = _mm256_set1_ps(dt), vb = _mm256_set1_ps(b);
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp_avx2(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(vdt, _mm256_loadu_ps(a + i)), lo), hi));
        const __m256 u = _mm256_fmadd_ps(vb, _mm256_loadu_ps(x + i), _mm256_mul_ps(_mm256_loadu_ps(s + i), e));
        _mm256_storeu_ps(s + i, u);
        acc = _mm256_fmadd_ps(u, _mm256_loadu_ps(c + i), acc);
    }
    float r = hsum_avx2(acc);
    for (; i < n; i++) {
        s[i] = s[i] * expf(dt * a[i]) + b * x[i];
        r += s[i] * c[i];
    }
    return r;
}

/* silu_mul (simd.h): g / (1 + exp(-g)) (times up), exp's argument clamped to [-87, 87]; the
 * tail scalar. */
TGT static void silu_mul_avx2(float *gate, const float *up, int64_t n) {
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(87.0f), one = _mm256_set1_ps(1.0f);
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        const __m256 g = _mm256_loadu_ps(gate + c);
        const __m256 e = exp_avx2(_mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), g), lo), hi));
        __m256 r = _mm256_div_ps(g, _mm256_add_ps(one, e));
        if (up) r = _mm256_mul_ps(r, _mm256_loadu_ps(up + c));
        _mm256_storeu_ps(gate + c, r);
    }
    for (; c < n; c++) {
        float g = gate[c] / (1.0f + expf(-gate[c]));
        gate[c] = up ? g * up[c] : g;
    }
}
#include "backend/cpu/mm_tmpl.h"
#else
/* Not x86: never selected (rl_simd_supported says no). */
const rl_simd_impl rl_simd_avx2 = {0};
#endif
