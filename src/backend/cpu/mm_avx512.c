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
#include "backend/cpu/mm_tmpl.h"
#else
const rl_simd_impl rl_simd_avx512 = {0};
#endif
