/* The end of a 4 x 4 register tile of 512-bit f32 accumulators (the dot-product micro-kernels of
 * mm_tmpl.h's AVX-512 instance and mm_bf16.c): the 16 horizontal sums folded together by unpacks
 * and 128-bit shuffles (45 instructions instead of 16 separate reductions), stored as 4 rows of 4.
 * x86 only; include after <immintrin.h>. */
#ifndef RL_ZMM_RED_H
#define RL_ZMM_RED_H

#define ZMM_RED_TGT __attribute__((target("avx512f"), always_inline))

/* Lanes 4i..4i+3 of one 128-bit part of u: acc[i][0..3]'s partial sums over that part. */
static inline ZMM_RED_TGT __m512 zmm_red_row4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
}

/* y[i * ldy + j] = sum(acc[i][j]) + bias[j] (first; bias may be NULL) or += sum(acc[i][j]). */
static inline ZMM_RED_TGT void zmm_store4x4(__m512 acc[4][4], float *y, int64_t ldy, int first, const float *bias) {
    const __m512 u0 = zmm_red_row4(acc[0][0], acc[0][1], acc[0][2], acc[0][3]);
    const __m512 u1 = zmm_red_row4(acc[1][0], acc[1][1], acc[1][2], acc[1][3]);
    const __m512 u2 = zmm_red_row4(acc[2][0], acc[2][1], acc[2][2], acc[2][3]);
    const __m512 u3 = zmm_red_row4(acc[3][0], acc[3][1], acc[3][2], acc[3][3]);
    const __m512 v01 = _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 v23 = _mm512_add_ps(_mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m512 r = _mm512_add_ps(_mm512_shuffle_f32x4(v01, v23, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(v01, v23, _MM_SHUFFLE(3, 1, 3, 1))); /* part i: row i */
    const __m128 b = first ? (bias ? _mm_loadu_ps(bias) : _mm_setzero_ps()) : _mm_setzero_ps();
#define ZMM_ROW(i) { \
        float *d = y + (i) * ldy; \
        _mm_storeu_ps(d, _mm_add_ps(_mm512_extractf32x4_ps(r, i), first ? b : _mm_loadu_ps(d))); }
    ZMM_ROW(0) ZMM_ROW(1) ZMM_ROW(2) ZMM_ROW(3)
#undef ZMM_ROW
}

#endif
