/* AVX-512 (F + BW) decode kernels of the HF quant matmul (hfq.c): a few tokens against rows of
 * FP8 / GPTQ / AWQ weights, each weight dequantised exactly in f32 inside the registers (never
 * through a tile in memory), f32 activations and accumulation; only the summation order differs
 * from the scalar path.
 * - FP8: 32 e4m3 codes -> f16 bits by integer shifts (sign << 15 | magnitude << 7: the value
 *   times 2^-8, subnormal codes included, exact), VCVTPH2PS, times 256 * scale (one rounding:
 *   the f32 product e4m3 * s); the NaN codes 0x7f / 0xff become an f16 NaN.
 * - GPTQ / AWQ: 64 outputs of one input per step (4 vectors of 16), the code field shifted out of
 *   the packed words, w = s * q - s * z by one FMA (both products and their difference are exact:
 *   an f16 scale times a code below 256).
 * - bitsandbytes 4-bit: the quant map in one register, looked up by VPERMPS, times the absmax.
 * - MXFP4: the e2m1 values in one register, looked up by VPERMPS (low nibble first), times the
 *   block's power of two (exact). */
#include "backend/cpu/hfq_simd.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* 32 codes (k: those present) -> two vectors of 16 f32 = e4m3 * 2^-8. */
TGT static inline void fp8_to_f32x32(const uint8_t *c, __mmask32 k, __m512 *lo, __m512 *hi) {
    const __m256i raw = _mm256_maskz_loadu_epi8(k, c);
    const __mmask32 nan = _mm256_cmpeq_epi8_mask(_mm256_or_si256(raw, _mm256_set1_epi8((char)0x80)), _mm256_set1_epi8(-1));
    __m512i h = _mm512_slli_epi16(_mm512_cvtepu8_epi16(raw), 7);       /* sign at bit 14, e|m at 13..7 */
    h = _mm512_add_epi16(h, _mm512_and_si512(h, _mm512_set1_epi16(0x4000))); /* sign to bit 15 */
    h = _mm512_mask_mov_epi16(h, nan, _mm512_set1_epi16(0x7e00));
    *lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

/* One FP8 row against NT tokens. */
TGT static inline __attribute__((always_inline)) void
fp8_row(int NT, const rl_qweight *q, int o, const float *x, size_t xs, float *y, size_t ys, float b) {
    const uint8_t *row = (const uint8_t *)q->data + (size_t)o * q->cols;
    size_t sc = (size_t)(q->cols + q->blk_c - 1) / (size_t)q->blk_c, srow = (size_t)(o / q->blk_r) * sc;
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    const __m512 k256 = _mm512_set1_ps(256.0f);
    for (int j = 0; j < q->cols;) {
        int end = (j / q->blk_c + 1) * q->blk_c;
        if (end > q->cols) end = q->cols;
        size_t si = srow + (size_t)(j / q->blk_c);
        float s = q->scale_dt == RL_DT_BF16 ? rl_bf16_to_f32(((const uint16_t *)q->scales)[si])
                : q->scale_dt == RL_DT_F16 ? rl_f16_to_f32(((const uint16_t *)q->scales)[si])
                : ((const float *)q->scales)[si];
        int big = !isfinite(s * 256.0f); /* 256 * s would overflow: scale in two steps */
        const __m512 vs = _mm512_set1_ps(big ? s : s * 256.0f);
        for (; j < end; j += 32) {
            int n = end - j < 32 ? end - j : 32;
            __mmask32 k = n == 32 ? ~(__mmask32)0 : (((__mmask32)1 << n) - 1);
            __mmask16 k0 = (__mmask16)k, k1 = (__mmask16)(k >> 16);
            _mm_prefetch((const char *)row + j + 512, _MM_HINT_T0);
            __m512 w0, w1;
            fp8_to_f32x32(row + j, k, &w0, &w1);
            if (big) { w0 = _mm512_mul_ps(w0, k256); w1 = _mm512_mul_ps(w1, k256); }
            w0 = _mm512_mul_ps(w0, vs);
            w1 = _mm512_mul_ps(w1, vs);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                acc[t][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, x + t * xs + j), w0, acc[t][0]);
                acc[t][1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, x + t * xs + j + 16), w1, acc[t][1]);
            }
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) y[t * ys + o] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1])) + b;
}

TGT void rl_hfq_fp8_gemv_avx512(const rl_qweight *q, const float *x, int T, int o0, int o1, float *y,
                                const float *bias) {
    size_t xs = (size_t)q->cols, ys = (size_t)q->rows;
    for (int o = o0; o < o1; o++) {
        float b = bias ? bias[o] : 0.0f;
        switch (T) {
        case 1: fp8_row(1, q, o, x, xs, y, ys, b); break;
        case 2: fp8_row(2, q, o, x, xs, y, ys, b); break;
        case 3: fp8_row(3, q, o, x, xs, y, ys, b); break;
        default: fp8_row(4, q, o, x, xs, y, ys, b); break;
        }
    }
}

/* 32 4-bit codes in 16 bytes (hi_first: the high nibble of each byte first, else the low),
 * looked up in the 16 values of vmap, times va, accumulated against NT token rows x + t xs. */
TGT static inline __attribute__((always_inline)) void
nib32_fma(int NT, const uint8_t *c, int hi_first, __m128i m4, __m512 vmap, __m512 va, const float *x, size_t xs, __m512 acc[4][2]) {
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)c);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4), lo = _mm_and_si128(raw, m4);
    __m128i a = hi_first ? hi : lo, b = hi_first ? lo : hi;
    __m512 w0 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(a, b)), vmap), va);
    __m512 w1 = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(a, b)), vmap), va);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        acc[t][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + t * xs), w0, acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(_mm512_loadu_ps(x + t * xs + 16), w1, acc[t][1]);
    }
}

/* One bitsandbytes 4-bit row (codes from an even index, blocks of `group` (a multiple of 32)
 * codes starting at the row) against NT tokens: nibble pairs unpacked in weight order (high
 * nibble first), the 16-entry quant map looked up by VPERMPS, times the block's absmax. */
TGT static inline __attribute__((always_inline)) void
bnb4_row(int NT, const uint8_t *c, const float *map, const float *amax, int group, int cols, const float *x, size_t xs,
         float *y, size_t ys, float b) {
    const __m512 vmap = _mm512_loadu_ps(map);
    const __m128i m4 = _mm_set1_epi8(15);
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int j0 = 0, blk = 0; j0 < cols; j0 += group, blk++) {
        const __m512 va = _mm512_set1_ps(amax[blk]);
        for (int j = j0; j < j0 + group; j += 32) nib32_fma(NT, c + j / 2, 1, m4, vmap, va, x + j, xs, acc);
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) y[t * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1])) + b;
}

/* One MXFP4 row (cols a multiple of 32) against NT tokens: e2m1 codes looked up by VPERMPS,
 * elements 2j / 2j+1 from the low / high nibble of byte j, times e8[scale] = 2^(scale - 127). */
TGT static inline __attribute__((always_inline)) void
mxfp4_row(int NT, const uint8_t *c, const uint8_t *sc, const float *e8, int cols, const float *x, size_t xs, float *y,
          size_t ys, float b) {
    static const float E2M1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    const __m512 vmap = _mm512_loadu_ps(E2M1);
    const __m128i m4 = _mm_set1_epi8(15);
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 32) nib32_fma(NT, c + j / 2, 0, m4, vmap, _mm512_set1_ps(e8[sc[j / 32]]), x + j, xs, acc);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) y[t * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1])) + b;
}

TGT void rl_hfq_mxfp4_row_avx512(const uint8_t *codes, const uint8_t *scales, const float *e8, int cols, const float *x,
                                 int T, float *y, size_t ys, float bias) {
    switch (T) {
    case 1: mxfp4_row(1, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    case 2: mxfp4_row(2, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    case 3: mxfp4_row(3, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    default: mxfp4_row(4, codes, scales, e8, cols, x, (size_t)cols, y, ys, bias); break;
    }
}

TGT void rl_hfq_bnb4_row_avx512(const uint8_t *codes, const float *map, const float *amax, int group, int cols,
                                const float *x, int T, float *y, size_t ys, float bias) {
    switch (T) {
    case 1: bnb4_row(1, codes, map, amax, group, cols, x, (size_t)cols, y, ys, bias); break;
    case 2: bnb4_row(2, codes, map, amax, group, cols, x, (size_t)cols, y, ys, bias); break;
    case 3: bnb4_row(3, codes, map, amax, group, cols, x, (size_t)cols, y, ys, bias); break;
    default: bnb4_row(4, codes, map, amax, group, cols, x, (size_t)cols, y, ys, bias); break;
    }
}

/* GPTQ / AWQ outputs [o0, o0 + 64 nsb) (nsb <= INT_NSB blocks of 64) against NT tokens. sf / nsz:
 * per block of 64 outputs, per group, the 64 scales and -scale * zero (block sb at sf + sb * ng
 * * 64). Each packed row is read across the whole strip (256 contiguous outputs: one stream per
 * row, not four); the accumulators of the blocks live in acc_buf between rows. */
TGT static inline __attribute__((always_inline)) void
int_cols(int NT, const rl_qweight *q, int awq, int o0, int nsb, const float *sf, const float *nsz, const float *x,
         float *y, const float *bias) {
    const uint32_t *qw = q->data;
    const int32_t *gi = q->g_idx;
    const int bits = q->bits, pf = awq ? 1 : 32 / bits, out = q->rows, in = q->cols;
    const size_t tab = (size_t)q->ngroups * 64;
    const __m512i mask = _mm512_set1_epi32((1 << bits) - 1);
    const __m512i awq_sh = _mm512_setr_epi32(0, 16, 4, 20, 8, 24, 12, 28, 0, 16, 4, 20, 8, 24, 12, 28);
    const __m512i awq_ix0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    _Alignas(64) float acc_buf[INT_NSB][4][4][16];
    memset(acc_buf, 0, sizeof acc_buf);
    int bad = 0;
    for (int pr = 0; pr * pf < in && !bad; pr++) { /* a packed row: pf inputs (AWQ: one) */
        const uint32_t *row = awq ? qw + (size_t)pr * (out / 8) + o0 / 8 : qw + (size_t)pr * out + o0;
        const size_t rstride = awq ? (size_t)out / 8 : (size_t)out;
        if ((pr + 8) * pf < in) /* rows are far apart: fetch 8 ahead */
            for (int l = 0; l < nsb * (awq ? 32 : 256); l += 64) _mm_prefetch((const char *)(row + 8 * rstride) + l, _MM_HINT_T0);
        for (int sb = 0; sb < nsb; sb++) {
            __m512 acc[4][4];
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++)
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) acc[t][v] = _mm512_load_ps(acc_buf[sb][t][v]);
            __m512i w4[4];
            if (awq) {
                __m512i words = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(row + 8 * sb)));
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    w4[v] = _mm512_srlv_epi32(_mm512_permutexvar_epi32(_mm512_add_epi32(awq_ix0, _mm512_set1_epi32(2 * v)), words), awq_sh);
            } else {
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) w4[v] = _mm512_loadu_si512((const void *)(row + 64 * sb + 16 * v));
            }
            for (int k = 0; k < pf; k++) {
                int i = pr * pf + k;
                if (i >= in) break;
                int g = awq ? i / q->group : gi[i];
                if (g < 0 || g >= q->ngroups) { bad = 1; break; }
                const float *s = sf + sb * tab + (size_t)g * 64, *z = nsz + sb * tab + (size_t)g * 64;
                const __m128i sh = _mm_cvtsi32_si128(bits * k);
                __m512 xv[4];
#pragma GCC unroll 4
                for (int t = 0; t < NT; t++) xv[t] = _mm512_set1_ps(x[(size_t)t * in + i]);
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) {
                    __m512i qv = _mm512_and_si512(_mm512_srl_epi32(w4[v], sh), mask);
                    __m512 w = _mm512_fmadd_ps(_mm512_loadu_ps(s + 16 * v), _mm512_cvtepi32_ps(qv), _mm512_loadu_ps(z + 16 * v));
#pragma GCC unroll 4
                    for (int t = 0; t < NT; t++) acc[t][v] = _mm512_fmadd_ps(xv[t], w, acc[t][v]);
                }
            }
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++)
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) _mm512_store_ps(acc_buf[sb][t][v], acc[t][v]);
        }
    }
    for (int sb = 0; sb < nsb; sb++)
        for (int t = 0; t < NT; t++)
            for (int v = 0; v < 4; v++) {
                __m512 r = bad ? _mm512_set1_ps(NAN) : _mm512_load_ps(acc_buf[sb][t][v]); /* corrupt g_idx: NaN */
                int o = o0 + 64 * sb + 16 * v;
                if (bias) r = _mm512_add_ps(r, _mm512_loadu_ps(bias + o));
                _mm512_storeu_ps(y + (size_t)t * out + o, r);
            }
}

TGT void rl_hfq_int_gemv_avx512(const rl_qweight *q, int awq, int o0, int nsb, const float *sf, const float *nsz,
                                const float *x, int T, float *y, const float *bias) {
    switch (T) {
    case 1: int_cols(1, q, awq, o0, nsb, sf, nsz, x, y, bias); break;
    case 2: int_cols(2, q, awq, o0, nsb, sf, nsz, x, y, bias); break;
    case 3: int_cols(3, q, awq, o0, nsb, sf, nsz, x, y, bias); break;
    default: int_cols(4, q, awq, o0, nsb, sf, nsz, x, y, bias); break;
    }
}

#else
void rl_hfq_fp8_gemv_avx512(const rl_qweight *q, const float *x, int T, int o0, int o1, float *y, const float *bias) {
    (void)q; (void)x; (void)T; (void)o0; (void)o1; (void)y; (void)bias;
}
void rl_hfq_bnb4_row_avx512(const uint8_t *codes, const float *map, const float *amax, int group, int cols,
                            const float *x, int T, float *y, size_t ys, float bias) {
    (void)codes; (void)map; (void)amax; (void)group; (void)cols; (void)x; (void)T; (void)y; (void)ys; (void)bias;
}
void rl_hfq_int_gemv_avx512(const rl_qweight *q, int awq, int o0, int nsb, const float *sf, const float *nsz,
                            const float *x, int T, float *y, const float *bias) {
    (void)q; (void)awq; (void)o0; (void)nsb; (void)sf; (void)nsz; (void)x; (void)T; (void)y; (void)bias;
}
void rl_hfq_mxfp4_row_avx512(const uint8_t *codes, const uint8_t *scales, const float *e8, int cols, const float *x,
                             int T, float *y, size_t ys, float bias) {
    (void)codes; (void)scales; (void)e8; (void)cols; (void)x; (void)T; (void)y; (void)ys; (void)bias;
}
#endif
