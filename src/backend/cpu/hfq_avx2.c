/* AVX2 paths of the HF quant matmul (hfq.c), same values as the scalar decoders:
 * - FP8: e4m3 -> f32 by rebasing the exponent (exact; subnormal codes as m 2^-9; the NaN codes
 *   0x7f / 0xff give NaN), times the block scale.
 * - GPTQ / AWQ: a block of 16 output rows decoded column by column into a column-major tile
 *   (16 consecutive outputs of one input are 16 fields of 2 words, or of 2 AWQ words in their
 *   interleaved nibble order), then y[o0..o0+16) += x[i] * column i with FMAs. */
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
