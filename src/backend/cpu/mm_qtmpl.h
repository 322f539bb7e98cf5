/* Integer GEMV template for Q8_0 / Q4_1 weights against int8-quantised activation rows (qact.h),
 * instantiated per instruction set (mm_qdot.c). The includer defines QSFX(name), QTGT (function
 * attributes) and I32DOT(u, s): the 8 x int32 sums of 4 adjacent products of 32 unsigned bytes u
 * and 32 signed bytes s (AVX2 maddubs + madd, or VNNI dpbusd). One 256-bit vector is one block of
 * 32 items. Per block and row: int32 lanes -> f32, times the two scales, accumulated in f32
 * lanes; Q4_1 adds min * (exact f32 block sum of x). Not a public header. */
#include <immintrin.h>
#include <string.h>

QTGT static inline float QSFX(h2f)(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

QTGT static inline float QSFX(hsum)(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* NR_ (<= 4) rows of W (rb bytes apart) against one quantised row; writes y[j] = bias + dot.
 * The per-row code is spelled out (QREP4) so the accumulators stay in registers. */
#define QREP4(M) M(0) M(1) M(2) M(3)
QTGT static inline __attribute__((always_inline)) void
QSFX(rows)(int NR_, rl_dtype wt, const uint8_t *w, size_t rb, int nb, rl_qrow x, float *y, const float *bias) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m128 m0 = _mm_setzero_ps(), m1 = m0, m2 = m0, m3 = m0; /* lane 1: sum of mw * s (Q4_1) */
    const __m128i m4 = _mm_set1_epi8(15);
    if (wt == RL_DT_Q8_0) {
        for (int b = 0; b < nb; b++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x.q + (size_t)b * 32));
            const float dx = x.ds[2 * b];
#define Q8ROW(j) if ((j) < NR_) { \
                const uint8_t *wb = w + (j) * rb + (size_t)b * 34; \
                __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(wb + 2)); \
                __m256i i = I32DOT(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)); \
                a##j = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(QSFX(h2f)(wb) * dx), a##j); }
            QREP4(Q8ROW)
#undef Q8ROW
        }
    } else {
        for (int b = 0; b < nb; b++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x.q + (size_t)b * 32));
            const __m128 xds = _mm_castpd_ps(_mm_load_sd((const double *)(const void *)(x.ds + 2 * b)));
#define Q4ROW(j) if ((j) < NR_) { \
                const uint8_t *wb = w + (j) * rb + (size_t)b * 20; \
                int32_t hdr; \
                memcpy(&hdr, wb, 4); \
                __m128 sc = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(hdr)), xds); /* dw*d, mw*s */ \
                m##j = _mm_add_ps(m##j, sc); \
                __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(wb + 4)); \
                __m256i qv = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4)); \
                __m256i i = I32DOT(qv, xv); \
                a##j = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_broadcastss_ps(sc), a##j); }
            QREP4(Q4ROW)
#undef Q4ROW
        }
    }
#define QSTORE(j) if ((j) < NR_) \
        y[j] = QSFX(hsum)(a##j) + _mm_cvtss_f32(_mm_shuffle_ps(m##j, m##j, 1)) + (bias ? bias[j] : 0.0f);
    QREP4(QSTORE)
#undef QSTORE
#undef QREP4
}

QTGT void QSFX(rl_qgemv)(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                         const float *bias, int t0, int t1, int o0, int o1) {
    const size_t rb = rl_dtype_row_bytes(wt, in);
    const int nb = in / RL_QBLOCK;
    float tmp[4];
    int o = o0;
    for (; o + 4 <= o1; o += 4)
        for (int t = t0; t < t1; t++) {
            if (wt == RL_DT_Q8_0) QSFX(rows)(4, RL_DT_Q8_0, w + (size_t)o * rb, rb, nb, xq[t], tmp, bias ? bias + o : NULL);
            else QSFX(rows)(4, RL_DT_Q4_1, w + (size_t)o * rb, rb, nb, xq[t], tmp, bias ? bias + o : NULL);
            memcpy(y + (size_t)t * out + o, tmp, sizeof tmp);
        }
    for (; o < o1; o++)
        for (int t = t0; t < t1; t++)
            QSFX(rows)(1, wt, w + (size_t)o * rb, rb, nb, xq[t], y + (size_t)t * out + o, bias ? bias + o : NULL);
}
