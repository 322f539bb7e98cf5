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
#include "backend/cpu/mm_tmpl.h"
#else
/* Not x86: never selected (rl_simd_supported says no). */
const rl_simd_impl rl_simd_avx2 = {0};
#endif
