/* Instantiations of the integer Q8_0 / Q4_1 GEMM (qgemm_tmpl.h): AVX512-VNNI (dpbusd on 512-bit
 * vectors, 16-row panels), AVX-VNNI (dpbusd on 256-bit vectors), AVX2 (maddubs + madd; Q8_0
 * through |w| and sign(x, w)), and the scalar reference; selected at run time (simd.c). */
#include "backend/cpu/qgemm.h"

void rl_qgemm_scalar(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y,
                     const float *bias, int t0, int t1, int o0, int o1, void *pack) {
    (void)pack;
    rl_qgemv_scalar(wt, w, in, out, xa->rows, y, bias, t0, t1, o0, o1);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* ---- AVX2 and AVX-VNNI: 8 rows per panel ---- */
#define P 8
#define MR 4
#define VI __m256i
#define VF __m256
#define VI_ZERO() _mm256_setzero_si256()
#define VI_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VI_SET1(i) _mm256_set1_epi32(i)
#define VF_LOAD(p) _mm256_loadu_ps(p)
#define VF_STORE(p, v) _mm256_storeu_ps((p), (v))
#define VF_SET1(f) _mm256_set1_ps(f)
#define VF_MUL(a, b) _mm256_mul_ps((a), (b))
#define VF_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VF_CVT(v) _mm256_cvtepi32_ps(v)

#define QG(n) n##_avx2
#define QGTGT __attribute__((target("avx2,fma,f16c")))
#define Q8_BIAS 0
#define DOT_U(a, u, s) _mm256_add_epi32((a), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define DOT_S(a, w, x) DOT_U((a), _mm256_sign_epi8((w), (w)), _mm256_sign_epi8((x), (w)))
#include "backend/cpu/qgemm_tmpl.h"
#undef QG
#undef QGTGT
#undef Q8_BIAS
#undef DOT_U
#undef DOT_S

#define QG(n) n##_avxvnni
#define QGTGT __attribute__((target("avx2,fma,f16c,avxvnni")))
#define Q8_BIAS 1
#define DOT_U(a, u, s) _mm256_dpbusd_avx_epi32((a), (u), (s))
#define DOT_S(a, w, x) (a)
#include "backend/cpu/qgemm_tmpl.h"
#undef QG
#undef QGTGT
#undef Q8_BIAS
#undef DOT_U
#undef DOT_S

#undef P
#undef MR
#undef VI
#undef VF
#undef VI_ZERO
#undef VI_LOAD
#undef VI_SET1
#undef VF_LOAD
#undef VF_STORE
#undef VF_SET1
#undef VF_MUL
#undef VF_FMA
#undef VF_CVT

/* ---- AVX512-VNNI: 16 rows per panel ---- */
#define P 16
#define MR 4
#define VI __m512i
#define VF __m512
#define VI_ZERO() _mm512_setzero_si512()
#define VI_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define VI_SET1(i) _mm512_set1_epi32(i)
#define VF_LOAD(p) _mm512_loadu_ps(p)
#define VF_STORE(p, v) _mm512_storeu_ps((p), (v))
#define VF_SET1(f) _mm512_set1_ps(f)
#define VF_MUL(a, b) _mm512_mul_ps((a), (b))
#define VF_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VF_CVT(v) _mm512_cvtepi32_ps(v)
#define QG(n) n##_avx512vnni
#define QGTGT __attribute__((target("avx512f,avx512vnni,avx2,fma,f16c")))
#define Q8_BIAS 1
#define DOT_U(a, u, s) _mm512_dpbusd_epi32((a), (u), (s))
#define DOT_S(a, w, x) (a)
#include "backend/cpu/qgemm_tmpl.h"

#else
/* Not x86: never selected. */
#define QSTUB(n) void n(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y, \
                        const float *bias, int t0, int t1, int o0, int o1, void *pack) { \
    rl_qgemm_scalar(wt, w, in, out, xa, y, bias, t0, t1, o0, o1, pack); }
QSTUB(rl_qgemm_avx2)
QSTUB(rl_qgemm_avxvnni)
QSTUB(rl_qgemm_avx512vnni)
#endif
