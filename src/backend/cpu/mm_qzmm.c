/* Decode rows of Q4_1 and Q8_0 weights (the --quant 4 / 8 layouts, dtype.h) against
 * int8-quantised activation rows (qact.h) with AVX512-VNNI + VBMI, 8 rows at a time. Q4_1: four
 * 20-byte blocks of a row gathered into one register by a two-table byte permute, the unsigned
 * nibbles multiplied with vpdpbusd (no offset: Q4_1's codes are 0..15). Q8_0: two 34-byte blocks
 * of a row gathered the same way, vpdpbusd on |w| and x with w's sign. Four rows' lane sums folded
 * by unpacks (integers: exact), the 8 rows' f16 scales (and mins) gathered by word permutes. Per
 * row and block it adds what rl_qdot_ref adds, isum * (dw * dx) (+ mw * s), in another order (f32
 * rounding apart). The rows past the last group of 8 go to the 256-bit integer GEMV (mm_qtmpl.h). */
#include "backend/cpu/qact.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include "backend/cpu/gq_zmm.h"
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))

int rl_qzmm_usable(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi");
}

/* Permute tables, built once per call. */
typedef struct {
    __m512i qidx, xlo, xhi, sidx, pidx, fd, fm, i01, i23, d01, d23, s01, s23;
} q41_idx;

static TGT void q41_tables(q41_idx *t) {
    uint8_t qi[64], xl[64], xh[64];
    uint16_t si[32], pi[32], fd[32], fm[32];
    uint32_t ii[32], dd[32], ds[32];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 16; i++) {
            qi[16 * b + i] = (uint8_t)(20 * b + 4 + i); /* bit 6: the second register */
            xl[16 * b + i] = (uint8_t)(32 * b + i);
            xh[16 * b + i] = (uint8_t)(32 * b + 16 + i);
        }
    /* a row's 8 header words (d, m of blocks 0..3: words 10b, 10b + 1): first register's to words
     * 0..7, the second's to 8..15 */
    for (int w = 0; w < 32; w++) si[w] = (uint16_t)((w & 8 ? 32 : 0) + 10 * ((w & 7) / 2) + (w & 1));
    for (int w = 0; w < 32; w++) pi[w] = (uint16_t)(w < 16 ? w : 32 + (w - 16)); /* [P01 | P23] */
    /* Q0 = rows 0..3 (8 words each: d0 m0 d1 m1 ..), Q1 rows 4..7: word 8b + r of D = row r's d of
     * block b, of M its m */
    for (int w = 0; w < 32; w++) {
        int b = w / 8, r = w % 8, base = r < 4 ? 8 * r : 32 + 8 * (r - 4);
        fd[w] = (uint16_t)(base + 2 * b);
        fm[w] = (uint16_t)(base + 2 * b + 1);
    }
    for (int l = 0; l < 16; l++) { /* lanes 0..7 block b0 rows 0..7, 8..15 block b1 */
        int r = l % 8, blk = l / 8;
        ii[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * blk + r % 4);
        ii[16 + l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (blk + 2) + r % 4);
        dd[l] = (uint32_t)(2 * blk); /* (d, s) pairs of blocks 0..3 in one 8-float load */
        ds[l] = (uint32_t)(2 * blk + 1);
        dd[16 + l] = (uint32_t)(2 * (blk + 2));
        ds[16 + l] = (uint32_t)(2 * (blk + 2) + 1);
    }
    t->qidx = _mm512_loadu_si512(qi);
    t->xlo = _mm512_loadu_si512(xl);
    t->xhi = _mm512_loadu_si512(xh);
    t->sidx = _mm512_loadu_si512(si);
    t->pidx = _mm512_loadu_si512(pi);
    t->fd = _mm512_loadu_si512(fd);
    t->fm = _mm512_loadu_si512(fm);
    t->i01 = _mm512_loadu_si512(ii);
    t->i23 = _mm512_loadu_si512(ii + 16);
    t->d01 = _mm512_loadu_si512(dd);
    t->d23 = _mm512_loadu_si512(dd + 16);
    t->s01 = _mm512_loadu_si512(ds);
    t->s23 = _mm512_loadu_si512(ds + 16);
}

/* Q8_0's tables: block bytes, the two halves of each block's lane sums, scale words (d of block
 * b at word 17b of a row's 68 bytes), the activation scale of each lane's block. */
typedef struct {
    __m512i qidx, ia, ib, sidx, pidx, fidx, didx;
} q8_idx;

static TGT void q8_tables(q8_idx *t) {
    uint8_t qi[64];
    uint16_t si[32], pi[32], fi[32];
    uint32_t ia[16], ib[16], di[16];
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 32; i++) qi[32 * b + i] = (uint8_t)(34 * b + 2 + i); /* bit 6: the second register */
    for (int w = 0; w < 32; w++) si[w] = (uint16_t)(w < 4 ? (w & 2 ? 32 : 0) + 17 * (w & 1) : 0); /* two rows' d0 d1 */
    for (int w = 0; w < 32; w++) pi[w] = (uint16_t)(w < 4 ? w : w < 8 ? 32 + (w - 4) : 0); /* 4 rows' d0 d1 */
    for (int w = 0; w < 32; w++) {
        int b = (w / 8) & 1, r = w % 8;
        fi[w] = (uint16_t)(r < 4 ? 2 * r + b : 32 + 2 * (r - 4) + b);
    }
    for (int l = 0; l < 16; l++) { /* lanes 0..7 block 0 rows 0..7, 8..15 block 1 */
        int r = l % 8, b = l / 8;
        ia[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (2 * b) + r % 4);
        ib[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (2 * b + 1) + r % 4);
        di[l] = (uint32_t)(2 * b);
    }
    t->qidx = _mm512_loadu_si512(qi);
    t->sidx = _mm512_loadu_si512(si);
    t->pidx = _mm512_loadu_si512(pi);
    t->fidx = _mm512_loadu_si512(fi);
    t->ia = _mm512_loadu_si512(ia);
    t->ib = _mm512_loadu_si512(ib);
    t->didx = _mm512_loadu_si512(di);
}

static TGT inline __mmask64 bytes_mask(unsigned n) { return n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1); }

/* y[0..8) = bias + dot(row r, x) for the 8 rows at w (rb bytes apart, nb blocks each). */
static TGT inline __attribute__((always_inline)) void q41_rows8(const q41_idx *t, const uint8_t *w, size_t rb, int nb,
                                                                 rl_qrow x, float *y, const float *bias) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
    for (int g = 0; 4 * g < nb; g++) {
        const unsigned nbk = nb - 4 * g < 4 ? (unsigned)(nb - 4 * g) : 4u;
        const __mmask64 m0 = bytes_mask(20u * nbk), m1 = bytes_mask(20u * nbk > 64 ? 20u * nbk - 64 : 0);
        const __mmask64 x0 = bytes_mask(32u * nbk), x1 = bytes_mask(32u * nbk > 64 ? 32u * nbk - 64 : 0);
        const int8_t *xq = x.q + (size_t)g * 128;
        const __m512i xa = _mm512_maskz_loadu_epi8(x0, xq), xb = _mm512_maskz_loadu_epi8(x1, xq + 64);
        const __m512i xl = _mm512_permutex2var_epi8(xa, t->xlo, xb), xh = _mm512_permutex2var_epi8(xa, t->xhi, xb);
        const __m512 dsv = _mm512_maskz_loadu_ps((__mmask16)((1u << (2 * nbk)) - 1), x.ds + (size_t)g * 8);
        const char *pf = (const char *)(w + 8 * rb + (size_t)g * 640);
        for (int p = 0; p < 640; p += 64) _mm_prefetch(pf + p, _MM_HINT_T0);
        __m512i s[8], l0[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)g * 80;
            l0[r] = _mm512_maskz_loadu_epi8(m0, p);
            const __m512i l1 = _mm512_maskz_loadu_epi8(m1, p + 64);
            const __m512i q = _mm512_permutex2var_epi8(l0[r], t->qidx, l1);
            const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            s[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xl), hi, xh);
        }
        /* gq_red4: 128-bit part b of ra holds rows 0..3's sums of block b */
        const __m512i ra = gq_red4(s[0], s[1], s[2], s[3]), rc = gq_red4(s[4], s[5], s[6], s[7]);
        const __m512 f01 = _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(ra, t->i01, rc));
        const __m512 f23 = _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(ra, t->i23, rc));
        const __m512i p01 = _mm512_permutex2var_epi16(l0[0], t->sidx, l0[1]), p23 = _mm512_permutex2var_epi16(l0[2], t->sidx, l0[3]);
        const __m512i p45 = _mm512_permutex2var_epi16(l0[4], t->sidx, l0[5]), p67 = _mm512_permutex2var_epi16(l0[6], t->sidx, l0[7]);
        const __m512i q0 = _mm512_permutex2var_epi16(p01, t->pidx, p23), q1 = _mm512_permutex2var_epi16(p45, t->pidx, p67);
        const __m512i fd = _mm512_permutex2var_epi16(q0, t->fd, q1), fm = _mm512_permutex2var_epi16(q0, t->fm, q1);
        /* lanes 8b + r: the activation's d and s of block b (b = 0, 1 / 2, 3) */
        const __m512 d01 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(fd)), _mm512_permutexvar_ps(t->d01, dsv));
        const __m512 d23 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(fd, 1)), _mm512_permutexvar_ps(t->d23, dsv));
        acc = _mm512_fmadd_ps(f01, d01, acc);
        acc = _mm512_fmadd_ps(f23, d23, acc);
        accm = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(fm)), _mm512_permutexvar_ps(t->s01, dsv), accm);
        accm = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(fm, 1)), _mm512_permutexvar_ps(t->s23, dsv), accm);
    }
    acc = _mm512_add_ps(acc, accm);
    __m256 r8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    if (bias) r8 = _mm256_add_ps(r8, _mm256_loadu_ps(bias));
    _mm256_storeu_ps(y, r8);
}

/* Q8_0: y[0..8) = bias + dot(row r, x) for the 8 rows at w (rb bytes apart, nb blocks each). */
static TGT inline __attribute__((always_inline)) void q8_rows8(const q8_idx *t, const uint8_t *w, size_t rb, int nb,
                                                                rl_qrow x, float *y, const float *bias) {
    __m512 acc = _mm512_setzero_ps();
    for (int g = 0; 2 * g < nb; g++) {
        const unsigned nbk = nb - 2 * g < 2 ? 1u : 2u;
        const __mmask64 m0 = bytes_mask(34u * nbk), m1 = bytes_mask(34u * nbk > 64 ? 34u * nbk - 64 : 0);
        const __m512i xv = _mm512_maskz_loadu_epi8(bytes_mask(32u * nbk), x.q + (size_t)g * 64);
        const __m512 dsv = _mm512_maskz_loadu_ps((__mmask16)((1u << (2 * nbk)) - 1), x.ds + (size_t)g * 4);
        const char *pf = (const char *)(w + 8 * rb + (size_t)g * 544);
        for (int p = 0; p < 544; p += 64) _mm_prefetch(pf + p, _MM_HINT_T0);
        __m512i s[8], l0[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const uint8_t *p = w + (size_t)r * rb + (size_t)g * 68;
            l0[r] = _mm512_maskz_loadu_epi8(m0, p);
            const __m512i q = _mm512_permutex2var_epi8(l0[r], t->qidx, _mm512_maskz_loadu_epi8(m1, p + 64));
            const __m512i xs = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), xv);
            s[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), xs);
        }
        /* gq_red4: 128-bit part p of ra holds rows 0..3's sums of part p (block p / 2's halves) */
        const __m512i ra = gq_red4(s[0], s[1], s[2], s[3]), rc = gq_red4(s[4], s[5], s[6], s[7]);
        const __m512i is = _mm512_add_epi32(_mm512_permutex2var_epi32(ra, t->ia, rc), _mm512_permutex2var_epi32(ra, t->ib, rc));
        const __m512i p01 = _mm512_permutex2var_epi16(l0[0], t->sidx, l0[1]), p23 = _mm512_permutex2var_epi16(l0[2], t->sidx, l0[3]);
        const __m512i p45 = _mm512_permutex2var_epi16(l0[4], t->sidx, l0[5]), p67 = _mm512_permutex2var_epi16(l0[6], t->sidx, l0[7]);
        const __m512i q0 = _mm512_permutex2var_epi16(p01, t->pidx, p23), q1 = _mm512_permutex2var_epi16(p45, t->pidx, p67);
        const __m512i f = _mm512_permutex2var_epi16(q0, t->fidx, q1);
        const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(f)), _mm512_permutexvar_ps(t->didx, dsv));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), d, acc);
    }
    __m256 r8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    if (bias) r8 = _mm256_add_ps(r8, _mm256_loadu_ps(bias));
    _mm256_storeu_ps(y, r8);
}

TGT void rl_qgemv_avx512vbmi(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                             const float *bias, int t0, int t1, int o0, int o1) {
    const int n8 = wt == RL_DT_Q4_1 || wt == RL_DT_Q8_0 ? (o1 - o0) / 8 * 8 : 0;
    const size_t rb = rl_dtype_row_bytes(wt, in);
    const int nb = in / RL_QBLOCK;
    if (n8 && wt == RL_DT_Q4_1) {
        q41_idx tb;
        q41_tables(&tb);
        for (int o = o0; o < o0 + n8; o += 8)
            for (int t = t0; t < t1; t++)
                q41_rows8(&tb, w + (size_t)o * rb, rb, nb, xq[t], y + (size_t)t * out + o, bias ? bias + o : NULL);
    } else if (n8) {
        q8_idx tb;
        q8_tables(&tb);
        for (int o = o0; o < o0 + n8; o += 8)
            for (int t = t0; t < t1; t++)
                q8_rows8(&tb, w + (size_t)o * rb, rb, nb, xq[t], y + (size_t)t * out + o, bias ? bias + o : NULL);
    }
    if (o0 + n8 < o1) rl_qgemv_avx512vnni(wt, w, in, out, xq, y, bias, t0, t1, o0 + n8, o1);
}
#else
int rl_qzmm_usable(void) { return 0; }
void rl_qgemv_avx512vbmi(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                         const float *bias, int t0, int t1, int o0, int o1) {
    rl_qgemv_scalar(wt, w, in, out, xq, y, bias, t0, t1, o0, o1);
}
#endif
