/* Instantiations of the integer Q8_0 / Q4_1 GEMM (qgemm_tmpl.h): AVX512-VNNI (dpbusd on 512-bit
 * vectors, 16-row panels), AVX-VNNI (dpbusd on 256-bit vectors), AVX2 (maddubs + madd; Q8_0
 * through |w| and sign(x, w)), and the scalar reference; selected at run time (simd.c). */
#include "backend/cpu/qgemm.h"
#include <stdint.h>

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
#define SB_ZMM (80 * 16) /* packed bytes per block of the 16-lane panel pair (qgemm_tmpl.h's SB) */
/* The panel pair (32 rows) packed with gathers: per block and panel one gather of the 16 rows'
 * headers (f16 d, Q4_1's f16 m) and one per 4 code bytes; rows past nrows masked off (zero).
 * Returns 0 (nothing done) where 16 rows' offsets do not fit the gathers' int32 indices. */
QGTGT static int pack_zmm(rl_dtype wt, const uint8_t *w, size_t rb, int nb, int nrows, uint8_t *pk) {
    if (rb > (size_t)INT32_MAX / 16) return 0;
    const size_t bb = RL_DTYPES[wt].block_bytes;
    const int q4 = wt == RL_DT_Q4_1;
    const __m512i ro = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)rb));
    const __m512i z = _mm512_setzero_si512(), m4 = _mm512_set1_epi32(0x0F0F0F0F), flip = _mm512_set1_epi32((int)0x80808080);
    for (int v = 0; v < 2; v++) {
        const int n = nrows - 16 * v;
        const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
        const uint8_t *base = w + (size_t)16 * v * rb;
        for (int b = 0; b < nb; b++) {
            const uint8_t *bp = base + (size_t)b * bb;
            uint8_t *cb = pk + (size_t)b * SB_ZMM + (size_t)v * 64;
            const __m512i hdr = _mm512_mask_i32gather_epi32(z, m, ro, bp, 1);
            _mm512_storeu_ps((float *)(void *)(cb + 1024), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(hdr)));
            _mm512_storeu_ps((float *)(void *)(cb + 1152), q4 ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(hdr, 16))) : _mm512_setzero_ps());
            if (q4) {
                for (int k = 0; k < 4; k++) {
                    const __m512i raw = _mm512_mask_i32gather_epi32(z, m, ro, bp + 4 + 4 * k, 1);
                    _mm512_storeu_si512(cb + (size_t)k * 128, _mm512_and_si512(raw, m4));
                    _mm512_storeu_si512(cb + (size_t)(k + 4) * 128, _mm512_and_si512(_mm512_srli_epi32(raw, 4), m4));
                }
            } else {
                for (int g = 0; g < 8; g++) /* codes + 128 (Q8_BIAS); masked rows stay 0, scale 0 */
                    _mm512_storeu_si512(cb + (size_t)g * 128,
                                        _mm512_mask_xor_epi32(z, m, _mm512_mask_i32gather_epi32(z, m, ro, bp + 2 + 4 * g, 1), flip));
            }
        }
    }
    return 1;
}
#define QG_PACK(wt, w, rb, nb, nrows, pk) pack_zmm((wt), (w), (rb), (nb), (nrows), (pk))
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
