/* AVX2 paths of the HF quant matmul (hfq.c), same values as the scalar decoders:
 * - FP8: e4m3 -> f32 by rebasing the exponent (exact; subnormal codes as m 2^-9; the NaN codes
 *   0x7f / 0xff give NaN), times the block scale.
 * - GPTQ / AWQ: a block of 16 output rows decoded column by column into a column-major tile
 *   (16 consecutive outputs of one input are 16 fields of 2 words, or of 2 AWQ words in their
 *   interleaved nibble order), then y[o0..o0+16) += x[i] * column i with FMAs.
 * - MXFP4 decode (1-4 tokens): the e2m1 magnitudes looked up by VPERMPS over 8 entries, the sign
 *   bit moved into place, times the block's power of two (exact), FMAs into the tokens' sums. */
#include "backend/cpu/hfq_simd.h"
#include <immintrin.h>
#include <math.h>

#define TGT __attribute__((target("avx2,fma")))

TGT void rl_hfq_fp8_row_avx2(const uint8_t *codes, float s, int n, float *dst) {
    /* normal codes: exponent and mantissa bits rebased by 120 into an f32 (no arithmetic);
     * subnormal codes (exponent 0): m * 2^-9; no denormal f32 ever appears */
    const __m256 vs = _mm256_set1_ps(s), nan = _mm256_set1_ps(NAN), k9 = _mm256_set1_ps(0x1p-9f);
    const __m256i m7f = _mm256_set1_epi32(0x7f), m78 = _mm256_set1_epi32(0x78), m80 = _mm256_set1_epi32(0x80);
    const __m256i m07 = _mm256_set1_epi32(7), bias = _mm256_set1_epi32(120 << 23), zero = _mm256_setzero_si256();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(codes + j)));
        __m256i mag = _mm256_and_si256(b, m7f);
        __m256 nrm = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(mag, 20), bias));
        __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(b, m07)), k9);
        __m256 v = _mm256_blendv_ps(nrm, sub, _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, m78), zero)));
        v = _mm256_or_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(b, m80), 24))); /* sign */
        v = _mm256_blendv_ps(_mm256_mul_ps(v, vs), nan, _mm256_castsi256_ps(_mm256_cmpeq_epi32(mag, m7f)));
        _mm256_storeu_ps(dst + j, v);
    }
    for (; j < n; j++) dst[j] = rl_f8e4m3_to_f32(codes[j]) * s;
}

TGT void rl_hfq_int_cols_avx2(const rl_qweight *q, int awq, int o0, int i0, int ni, const float *sf, const int *zi, float *colt) {
    const uint32_t *qw = q->data;
    const int32_t *gi = q->g_idx;
    int bits = q->bits, pf = 32 / bits, out = q->rows;
    const __m256i mask = _mm256_set1_epi32((1 << bits) - 1);
    const __m256i awq_sh = _mm256_setr_epi32(0, 16, 4, 20, 8, 24, 12, 28);
    for (int j = 0; j < ni; j++) {
        int i = i0 + j, g = awq ? i / q->group : gi[i];
        float *c = colt + (size_t)j * 16;
        if (g < 0 || g >= q->ngroups) {
            for (int r = 0; r < 16; r++) c[r] = NAN;
            continue;
        }
        __m256i q0, q1;
        if (awq) {
            const uint32_t *w = qw + (size_t)i * (out / 8) + o0 / 8;
            q0 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w[0]), awq_sh), mask);
            q1 = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w[1]), awq_sh), mask);
        } else {
            const uint32_t *w = qw + (size_t)(i / pf) * out + o0;
            __m128i sh = _mm_cvtsi32_si128(bits * (i % pf));
            q0 = _mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)w), sh), mask);
            q1 = _mm256_and_si256(_mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(w + 8)), sh), mask);
        }
        const float *s = sf + (size_t)g * 16;
        const int *z = zi + (size_t)g * 16;
        q0 = _mm256_sub_epi32(q0, _mm256_loadu_si256((const __m256i *)z));
        q1 = _mm256_sub_epi32(q1, _mm256_loadu_si256((const __m256i *)(z + 8)));
        _mm256_storeu_ps(c, _mm256_mul_ps(_mm256_loadu_ps(s), _mm256_cvtepi32_ps(q0)));
        _mm256_storeu_ps(c + 8, _mm256_mul_ps(_mm256_loadu_ps(s + 8), _mm256_cvtepi32_ps(q1)));
    }
}

TGT void rl_hfq_cols_acc_avx2(const float *x, const float *colt, int ni, float *y16) {
    __m256 a0 = _mm256_loadu_ps(y16), a1 = _mm256_loadu_ps(y16 + 8);
    for (int j = 0; j < ni; j++) {
        __m256 xv = _mm256_set1_ps(x[j]);
        a0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(colt + (size_t)j * 16), a0);
        a1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(colt + (size_t)j * 16 + 8), a1);
    }
    _mm256_storeu_ps(y16, a0);
    _mm256_storeu_ps(y16 + 8, a1);
}

TGT void rl_hfq_cols_acc4_avx2(const float *x, size_t xs, const float *colt, int ni, float *y, size_t ys) {
    __m256 a[8];
    for (int t = 0; t < 4; t++) { a[2 * t] = _mm256_loadu_ps(y + t * ys); a[2 * t + 1] = _mm256_loadu_ps(y + t * ys + 8); }
    for (int j = 0; j < ni; j++) {
        __m256 c0 = _mm256_loadu_ps(colt + (size_t)j * 16), c1 = _mm256_loadu_ps(colt + (size_t)j * 16 + 8);
        for (int t = 0; t < 4; t++) {
            __m256 xv = _mm256_set1_ps(x[t * xs + j]);
            a[2 * t] = _mm256_fmadd_ps(xv, c0, a[2 * t]);
            a[2 * t + 1] = _mm256_fmadd_ps(xv, c1, a[2 * t + 1]);
        }
    }
    for (int t = 0; t < 4; t++) { _mm256_storeu_ps(y + t * ys, a[2 * t]); _mm256_storeu_ps(y + t * ys + 8, a[2 * t + 1]); }
}

/* One MXFP4 row against NT tokens (see rl_hfq_mxfp4_row_avx512). */
TGT static inline __attribute__((always_inline)) void
mxfp4_row(int NT, const uint8_t *c, const uint8_t *sc, const float *e8, int cols, const float *x, size_t xs, float *y,
          size_t ys, float b) {
    const __m256 lut = _mm256_setr_ps(0, 0.5f, 1, 1.5f, 2, 3, 4, 6);
    const __m128i m4 = _mm_set1_epi8(15);
    const __m256i m7 = _mm256_set1_epi32(7), m8 = _mm256_set1_epi32(8);
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
    for (int j = 0; j < cols; j += 32) {
        const __m256 va = _mm256_set1_ps(e8[sc[j / 32]]);
        __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(c + j / 2));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4), lo = _mm_and_si128(raw, m4);
        __m128i e[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)}; /* codes in element order */
        __m256 w[4];
        for (int q = 0; q < 4; q++) {
            __m256i n = _mm256_cvtepu8_epi32(q & 1 ? _mm_srli_si128(e[q >> 1], 8) : e[q >> 1]);
            __m256 v = _mm256_permutevar8x32_ps(lut, _mm256_and_si256(n, m7));
            v = _mm256_xor_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(n, m8), 28))); /* sign */
            w[q] = _mm256_mul_ps(v, va);
        }
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const float *xt = x + t * xs + j;
            acc[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xt), w[0], acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xt + 8), w[1], acc[t][1]);
            acc[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xt + 16), w[2], acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xt + 24), w[3], acc[t][1]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        __m256 s = _mm256_add_ps(acc[t][0], acc[t][1]);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        y[t * ys] = _mm_cvtss_f32(h) + b;
    }
}

TGT void rl_hfq_mxfp4_row_avx2(const uint8_t *codes, const uint8_t *scales, const float *e8, int cols, const float *x,
                               int T, float *y, size_t ys, float bias) {
    switch (T) {
    case 1: mxfp4_row(1, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    case 2: mxfp4_row(2, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    case 3: mxfp4_row(3, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    default: mxfp4_row(4, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    }
}
