/* The end of a 4 x 4 register tile of 512-bit f32 accumulators (the dot-product micro-kernels of
 * mm_tmpl.h's AVX-512 instance and mm_bf16.c): the 16 horizontal sums taken together by 128-bit
 * shuffles and in-lane shuffles (4 levels, about 46 instructions for all 16) instead of 16
 * separate reductions, stored as 4 rows of 4. Each sum is bit for bit _mm512_reduce_add_ps's (lanes i + i+8,
 * then i + i+4, i + i+2, i + i+1; the order ggml's tinyBLAS sums in, which the GGUF F16 / BF16
 * fixtures need). x86 only; include after <immintrin.h>. */
#ifndef RL_ZMM_RED_H
#define RL_ZMM_RED_H

#define ZMM_RED_TGT __attribute__((target("avx512f"), always_inline))

/* Level 1 (x[i] + x[i+8]) of a and b: a's 8 partials in the low 256 bits, b's in the high. */
static inline ZMM_RED_TGT __m512 zmm_red_l1(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}
/* Level 2 (x[i] + x[i+4]) of two level-1 results: 128-bit part c = accumulator c's 4 partials. */
static inline ZMM_RED_TGT __m512 zmm_red_l2(__m512 p, __m512 q) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* y[i * ldy + j] = sum(acc[i][j]) + bias[j] (first; bias may be NULL) or += sum(acc[i][j]). */
static inline ZMM_RED_TGT void zmm_store4x4(__m512 acc[4][4], float *y, int64_t ldy, int first, const float *bias) {
    /* level 2 result n: part c = acc[n][c] */
    const __m512 r0 = zmm_red_l2(zmm_red_l1(acc[0][0], acc[0][1]), zmm_red_l1(acc[0][2], acc[0][3]));
    const __m512 r1 = zmm_red_l2(zmm_red_l1(acc[1][0], acc[1][1]), zmm_red_l1(acc[1][2], acc[1][3]));
    const __m512 r2 = zmm_red_l2(zmm_red_l1(acc[2][0], acc[2][1]), zmm_red_l1(acc[2][2], acc[2][3]));
    const __m512 r3 = zmm_red_l2(zmm_red_l1(acc[3][0], acc[3][1]), zmm_red_l1(acc[3][2], acc[3][3]));
    /* level 3 (x[i] + x[i+2]): part c = [rows 0/2's 2 partials, rows 1/3's] of column c */
    const __m512 s0 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(r0), _mm512_castps_pd(r1))),
                                    _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(r0), _mm512_castps_pd(r1))));
    const __m512 s1 = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(r2), _mm512_castps_pd(r3))),
                                    _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(r2), _mm512_castps_pd(r3))));
    /* level 4 (x[0] + x[1]): lane 4j + i = the sum of acc[i][j]; then rows to 128-bit parts */
    const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(s0, s1, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(s0, s1, _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 r = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), f);
    const __m128 b = first && bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
#define ZMM_ROW(i) { \
        float *d = y + (i) * ldy; \
        _mm_storeu_ps(d, _mm_add_ps(_mm512_extractf32x4_ps(r, i), first ? b : _mm_loadu_ps(d))); }
    ZMM_ROW(0) ZMM_ROW(1) ZMM_ROW(2) ZMM_ROW(3)
#undef ZMM_ROW
}

#endif
