/* AVX-512 (BW, VL) instantiation of the GGUF-type kernel template (gq_tmpl.h): int8 dot products with
 * maddubs (|a| times sign-adjusted q, exact: |a| <= 128, |q| <= 127); selected at run time. */
#include "format/dtype.h"
#include "backend/cpu/gq_internal.h"
#include <stdint.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#define SFX(n) n##_avx512
#define GQ_ZMM 1 /* 512-bit forms of some one-token kernels */
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

static TGT inline __m256i gq_dot8x4(const int8_t *a, const int8_t *q) { /* 8 lanes of 4-item sums */
    __m256i x = _mm256_loadu_si256((const __m256i *)a), y = _mm256_loadu_si256((const __m256i *)q);
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
static TGT inline int gq_hsum128(__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}
static TGT inline int gq_idot32(const int8_t *a, const int8_t *q) {
    __m256i s = gq_dot8x4(a, q);
    return gq_hsum128(_mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
}
static TGT inline void gq_idot16x2(const int8_t *a, const int8_t *q, int *s0, int *s1) {
    __m256i s = gq_dot8x4(a, q);
    *s0 = gq_hsum128(_mm256_castsi256_si128(s));
    *s1 = gq_hsum128(_mm256_extracti128_si256(s, 1));
}
#define GQ_IDOT32(a, q) gq_idot32((a), (q))
#define GQ_LANES8(a, q, p) _mm256_storeu_si256((__m256i *)(p), gq_dot8x4((a), (q)))
#define GQ_VEC_LANES(a, q) gq_dot8x4((a), (q))
#define GQ_LANE_FMA(c, d, wa, xa) \
    _mm256_storeu_ps((c), _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(gq_dot8x4((wa), (xa))), _mm256_loadu_ps(c)))
#define GQ_H2F(h) _cvtsh_ss(h)

static TGT inline void gq_nib16(const uint8_t *p, int8_t *a, int off) {
    __m128i v = _mm_loadu_si128((const __m128i *)p), m = _mm_set1_epi8(0x0F), o = _mm_set1_epi8((char)off);
    __m256i w = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m)); /* one store: */
    _mm256_storeu_si256((__m256i *)a, _mm256_sub_epi8(w, _mm256_set_m128i(o, o)));           /* the dot reloads it whole */
}
static TGT inline void gq_nib16_lut(const uint8_t *p, int8_t *a, const int8_t *lut) {
    __m128i v = _mm_loadu_si128((const __m128i *)p), m = _mm_set1_epi8(0x0F), t = _mm_loadu_si128((const __m128i *)lut);
    _mm256_storeu_si256((__m256i *)a, _mm256_set_m128i(_mm_shuffle_epi8(t, _mm_and_si128(_mm_srli_epi16(v, 4), m)),
                                                       _mm_shuffle_epi8(t, _mm_and_si128(v, m))));
}
static TGT inline void gq_nib32(const uint8_t *p, int8_t *a) {
    __m256i v = _mm256_loadu_si256((const __m256i *)p), m = _mm256_set1_epi8(0x0F);
    _mm256_storeu_si256((__m256i *)a, _mm256_and_si256(v, m));
    _mm256_storeu_si256((__m256i *)(a + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m));
}
#define GQ_NIB16(p, a, off) gq_nib16((p), (a), (off))
#define GQ_NIB16_LUT(p, a, lut) gq_nib16_lut((p), (a), (lut))
#define GQ_NIB32(p, a) gq_nib32((p), (a))
#define GQ_IDOT16X2(a, q, s0, s1) gq_idot16x2((a), (q), (s0), (s1))

#include "backend/cpu/gq_tmpl.h"
#else
/* not x86: the dispatcher never selects this path */
void rl_gq_decode_avx512(rl_dtype t, const uint8_t *b, gq_blk *o) { rl_gq_decode_scalar(t, b, o); }
float rl_gq_block_dot_avx512(gq_info ti, const gq_blk *b, const uint8_t *act) { return rl_gq_block_dot_scalar(ti, b, act); }
void rl_gq_half_rows_avx512(float *y, const float *xr, const void *w, rl_dtype t, const float *bias, int T, int in, int out) {
    rl_gq_half_rows_scalar(y, xr, w, t, bias, T, in, out);
}
void rl_gq_rows_avx512(const gq_job *j, int64_t o0, int64_t o1) { rl_gq_rows_scalar(j, o0, o1); }
#endif
