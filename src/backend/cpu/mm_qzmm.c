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

/* One permute table: its bytes / words / dwords filled in place, read as a register. */
typedef union {
    __m512i v;
    uint8_t b[64];
    uint16_t w[32];
    uint32_t d[16];
} zv;

/* Q4_1's tables, built once per call: block bytes, the activation's item halves, header words,
 * the lanes of the folded sums and the activation (d, s) of each lane's block. */
typedef struct {
    zv qidx, xlo, xhi, sidx, pidx, fd, fm, i01, i23, d01, d23, s01, s23;
} q41_idx;

static TGT void q41_tables(q41_idx *t) {
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 16; i++) {
            t->qidx.b[16 * b + i] = (uint8_t)(20 * b + 4 + i); /* bit 6: the second register */
            t->xlo.b[16 * b + i] = (uint8_t)(32 * b + i);
            t->xhi.b[16 * b + i] = (uint8_t)(32 * b + 16 + i);
        }
    /* a row's 8 header words (d, m of blocks 0..3: words 10b, 10b + 1): first register's to words
     * 0..7, the second's to 8..15 */
    for (int w = 0; w < 32; w++) t->sidx.w[w] = (uint16_t)((w & 8 ? 32 : 0) + 10 * ((w & 7) / 2) + (w & 1));
    for (int w = 0; w < 32; w++) t->pidx.w[w] = (uint16_t)(w < 16 ? w : 32 + (w - 16)); /* [P01 | P23] */
    /* Q0 = rows 0..3 (8 words each: d0 m0 d1 m1 ..), Q1 rows 4..7: word 8b + r of D = row r's d of
     * block b, of M its m */
    for (int w = 0; w < 32; w++) {
        int b = w / 8, r = w % 8, base = r < 4 ? 8 * r : 32 + 8 * (r - 4);
        t->fd.w[w] = (uint16_t)(base + 2 * b);
        t->fm.w[w] = (uint16_t)(base + 2 * b + 1);
    }
    for (int l = 0; l < 16; l++) { /* lanes 0..7 block b0 rows 0..7, 8..15 block b1 */
        int r = l % 8, blk = l / 8;
        t->i01.d[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * blk + r % 4);
        t->i23.d[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (blk + 2) + r % 4);
        t->d01.d[l] = (uint32_t)(2 * blk); /* (d, s) pairs of blocks 0..3 in one 8-float load */
        t->s01.d[l] = (uint32_t)(2 * blk + 1);
        t->d23.d[l] = (uint32_t)(2 * (blk + 2));
        t->s23.d[l] = (uint32_t)(2 * (blk + 2) + 1);
    }
}

/* Q8_0's tables: block bytes, the two halves of each block's lane sums, scale words (d of block
 * b at word 17b of a row's 68 bytes), the activation scale of each lane's block. */
typedef struct {
    zv qidx, ia, ib, sidx, pidx, fidx, didx;
} q8_idx;

static TGT void q8_tables(q8_idx *t) {
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 32; i++) t->qidx.b[32 * b + i] = (uint8_t)(34 * b + 2 + i); /* bit 6: the second register */
    for (int w = 0; w < 32; w++) t->sidx.w[w] = (uint16_t)(w < 4 ? (w & 2 ? 32 : 0) + 17 * (w & 1) : 0); /* two rows' d0 d1 */
    for (int w = 0; w < 32; w++) t->pidx.w[w] = (uint16_t)(w < 4 ? w : w < 8 ? 32 + (w - 4) : 0); /* 4 rows' d0 d1 */
    for (int w = 0; w < 32; w++) {
        int b = (w / 8) & 1, r = w % 8;
        t->fidx.w[w] = (uint16_t)(r < 4 ? 2 * r + b : 32 + 2 * (r - 4) + b);
    }
    for (int l = 0; l < 16; l++) { /* lanes 0..7 block 0 rows 0..7, 8..15 block 1 */
        int r = l % 8, b = l / 8;
        t->ia.d[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (2 * b) + r % 4);
        t->ib.d[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (2 * b + 1) + r % 4);
        t->didx.d[l] = (uint32_t)(2 * b);
    }
}

static TGT inline __attribute__((always_inline)) __mmask64 bytes_mask(unsigned n) { return n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1); }

/* Masks of the first 64 and the next bytes of an n-byte span (n <= 128). */
static TGT inline __attribute__((always_inline)) void span_masks(unsigned n, __mmask64 *m0, __mmask64 *m1) {
    *m0 = bytes_mask(n);
    *m1 = bytes_mask(n > 64 ? n - 64 : 0);
}

/* One row's group bytes at p (span masks m0, m1) gathered by qidx; its first 64 bytes kept in *l0
 * (the headers). */
static TGT inline __attribute__((always_inline)) __m512i row_gather(const uint8_t *p, __mmask64 m0, __mmask64 m1, __m512i qidx, __m512i *l0) {
    *l0 = _mm512_maskz_loadu_epi8(m0, p);
    return _mm512_permutex2var_epi8(*l0, qidx, _mm512_maskz_loadu_epi8(m1, p + 64));
}

/* The activation's (d, s) pairs of blocks b0 .. b0 + n - 1 (n <= 4; the rest 0). */
static TGT inline __attribute__((always_inline)) __m512 act_ds(rl_qrow x, int b0, unsigned n) {
    return _mm512_maskz_loadu_ps((__mmask16)((1u << (2 * n)) - 1), x.ds + (size_t)2 * b0);
}

static TGT inline __attribute__((always_inline)) void prefetch_span(const char *p, int n) {
    for (int o = 0; o < n; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* The 8 rows' header words: sidx picks words from two rows' first 64 bytes (l0), pidx joins two
 * such picks; q[0] holds rows 0..3's, q[1] rows 4..7's (the final word order is the caller's). */
static TGT inline __attribute__((always_inline)) void rows8_words(const __m512i l0[8], __m512i sidx, __m512i pidx, __m512i q[2]) {
    const __m512i p01 = _mm512_permutex2var_epi16(l0[0], sidx, l0[1]), p23 = _mm512_permutex2var_epi16(l0[2], sidx, l0[3]);
    const __m512i p45 = _mm512_permutex2var_epi16(l0[4], sidx, l0[5]), p67 = _mm512_permutex2var_epi16(l0[6], sidx, l0[7]);
    q[0] = _mm512_permutex2var_epi16(p01, pidx, p23);
    q[1] = _mm512_permutex2var_epi16(p45, pidx, p67);
}

/* y[0..8) = bias + dot(row r, x) for the 8 rows at w (rb bytes apart, nb blocks each). */
static TGT inline __attribute__((always_inline)) void q41_rows8(const q41_idx *t, const uint8_t *w, size_t rb, int nb,
                                                                 rl_qrow x, float *y, const float *bias) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
    for (int g = 0; 4 * g < nb; g++) {
        const unsigned nbk = nb - 4 * g < 4 ? (unsigned)(nb - 4 * g) : 4u;
        __mmask64 m0, m1, x0, x1;
        span_masks(20u * nbk, &m0, &m1);
        span_masks(32u * nbk, &x0, &x1);
        const int8_t *xq = x.q + (size_t)g * 128;
        const __m512i xa = _mm512_maskz_loadu_epi8(x0, xq), xb = _mm512_maskz_loadu_epi8(x1, xq + 64);
        const __m512i xl = _mm512_permutex2var_epi8(xa, t->xlo.v, xb), xh = _mm512_permutex2var_epi8(xa, t->xhi.v, xb);
        const __m512 dsv = act_ds(x, 4 * g, nbk);
        prefetch_span((const char *)(w + 8 * rb + (size_t)g * 640), 640);
        __m512i s[8], l0[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const __m512i q = row_gather(w + (size_t)r * rb + (size_t)g * 80, m0, m1, t->qidx.v, &l0[r]);
            const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            s[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xl), hi, xh);
        }
        /* gq_red4: 128-bit part b of ra holds rows 0..3's sums of block b */
        const __m512i ra = gq_red4(s[0], s[1], s[2], s[3]), rc = gq_red4(s[4], s[5], s[6], s[7]);
        const __m512 f01 = _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(ra, t->i01.v, rc));
        const __m512 f23 = _mm512_cvtepi32_ps(_mm512_permutex2var_epi32(ra, t->i23.v, rc));
        __m512i qw[2];
        rows8_words(l0, t->sidx.v, t->pidx.v, qw);
        const __m512i fd = _mm512_permutex2var_epi16(qw[0], t->fd.v, qw[1]), fm = _mm512_permutex2var_epi16(qw[0], t->fm.v, qw[1]);
        /* lanes 8b + r: the activation's d and s of block b (b = 0, 1 / 2, 3) */
        const __m512 d01 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(fd)), _mm512_permutexvar_ps(t->d01.v, dsv));
        const __m512 d23 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(fd, 1)), _mm512_permutexvar_ps(t->d23.v, dsv));
        acc = _mm512_fmadd_ps(f01, d01, acc);
        acc = _mm512_fmadd_ps(f23, d23, acc);
        accm = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(fm)), _mm512_permutexvar_ps(t->s01.v, dsv), accm);
        accm = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(fm, 1)), _mm512_permutexvar_ps(t->s23.v, dsv), accm);
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
        __mmask64 m0, m1;
        span_masks(34u * nbk, &m0, &m1);
        const __m512i xv = _mm512_maskz_loadu_epi8(bytes_mask(32u * nbk), x.q + (size_t)g * 64);
        const __m512 dsv = act_ds(x, 2 * g, nbk);
        prefetch_span((const char *)(w + 8 * rb + (size_t)g * 544), 544);
        __m512i s[8], l0[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const __m512i q = row_gather(w + (size_t)r * rb + (size_t)g * 68, m0, m1, t->qidx.v, &l0[r]);
            const __m512i xs = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(q), _mm512_setzero_si512(), xv);
            s[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), xs);
        }
        /* gq_red4: 128-bit part p of ra holds rows 0..3's sums of part p (block p / 2's halves) */
        const __m512i ra = gq_red4(s[0], s[1], s[2], s[3]), rc = gq_red4(s[4], s[5], s[6], s[7]);
        const __m512i is = _mm512_add_epi32(_mm512_permutex2var_epi32(ra, t->ia.v, rc), _mm512_permutex2var_epi32(ra, t->ib.v, rc));
        __m512i qw[2];
        rows8_words(l0, t->sidx.v, t->pidx.v, qw);
        const __m512i f = _mm512_permutex2var_epi16(qw[0], t->fidx.v, qw[1]);
        const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(f)), _mm512_permutexvar_ps(t->didx.v, dsv));
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
