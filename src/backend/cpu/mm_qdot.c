/* Instantiations of the integer Q8_0 / Q4_1 GEMV (mm_qtmpl.h): AVX2 (maddubs), AVX-VNNI and
 * AVX512-VNNI (dpbusd on 256-bit vectors); selected at run time (simd.c). */
#include "backend/cpu/qact.h"
#if defined(__x86_64__) || defined(__i386__)

#define QSFX(n) n##_avx2
#define QTGT __attribute__((target("avx2,fma,f16c")))
#define I32DOT(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "backend/cpu/mm_qtmpl.h"
#undef QSFX
#undef QTGT
#undef I32DOT

#define QSFX(n) n##_avxvnni
#define QTGT __attribute__((target("avx2,fma,f16c,avxvnni")))
#define I32DOT(u, s) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (u), (s))
#include "backend/cpu/mm_qtmpl.h"
#undef QSFX
#undef QTGT
#undef I32DOT

#define QSFX(n) n##_avx512vnni
#define QTGT __attribute__((target("avx512f,avx512vl,avx512vnni,avx2,fma,f16c")))
#define I32DOT(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#include "backend/cpu/mm_qtmpl.h"

#else
/* Not x86: never selected. */
#define QSTUB(n) void n(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y, \
                        const float *bias, int t0, int t1, int o0, int o1) { \
    rl_qgemv_scalar(wt, w, in, out, xq, y, bias, t0, t1, o0, o1); }
QSTUB(rl_qgemv_avx2)
QSTUB(rl_qgemv_avxvnni)
QSTUB(rl_qgemv_avx512vnni)
#endif
