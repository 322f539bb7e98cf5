/* One-token (decode) rows of Q4_0 / IQ4_NL weights with AVX512-VNNI and VBMI, in ggml's 8x8
 * single-sum order (per row acc = fma(block int sum, dw * dx, acc), block after block: the same
 * values as gq_tmpl.h's rows_q4_single_t1). Four blocks of one row (72 bytes) are gathered into one
 * register by a two-table byte permute, their nibbles multiplied with vpdpbusd (unsigned items:
 * Q4_0's nibble, IQ4_NL's table value + 128; the constant times the block's activation sum taken
 * off after), four rows' lane sums folded by unpacks (integers: exact), the 8 rows' f16 scales
 * gathered by word permutes. The activation row is laid out once per op (gq_vnni_prep). */
#include "backend/cpu/gq_internal.h"
#include "format/dtype.h"
#include <stdlib.h>
#include <string.h>

/* Per group of 4 activation blocks: items 0..15 and 16..31 of each block (16 bytes a block),
 * the constant times each block's item sum and each block's scale, both 8 times over (one lane
 * per output row): blocks 0,1 in the first 16, blocks 2,3 in the next. */
typedef struct {
    int8_t xl[64], xh[64];
    int32_t off[32];
    float dx[32];
} vq_grp;

int rl_gq_vnni_usable(rl_dtype t, int T, int out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const int have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    return have && T == 1 && out % 8 == 0 && (t == RL_DT_Q4_0 || t == RL_DT_IQ4_NL);
#else
    (void)t, (void)T, (void)out;
    return 0;
#endif
}

void *rl_gq_vnni_prep(const gq_job *j) {
    const int nb = j->in / GQ_QK, ng = (nb + 3) / 4;
    const int c = j->t == RL_DT_IQ4_NL ? 128 : 8;
    vq_grp *g = aligned_alloc(64, (size_t)ng * sizeof *g);
    if (!g) return NULL;
    memset(g, 0, (size_t)ng * sizeof *g);
    for (int k = 0; k < nb; k++) {
        const uint8_t *a = j->act + (size_t)k * j->ab;
        const int8_t *q = (const int8_t *)(a + 2);
        vq_grp *G = &g[k / 4];
        int b = k % 4, s = 0;
        uint16_t h;
        memcpy(&h, a, 2);
        memcpy(G->xl + 16 * b, q, 16);
        memcpy(G->xh + 16 * b, q + 16, 16);
        for (int i = 0; i < GQ_QK; i++) s += q[i];
        for (int r = 0; r < 8; r++) {
            G->off[8 * b + r] = c * s;
            G->dx[8 * b + r] = rl_f16_to_f32(h);
        }
    }
    return g;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include "backend/cpu/gq_zmm.h"
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))

static TGT inline __m256 hi256(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

TGT void rl_gq_vnni_rows(const gq_job *j, const void *prep, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QK, ng = (nb + 3) / 4, iq4 = j->t == RL_DT_IQ4_NL;
    const vq_grp *G = prep;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    uint8_t lu[16];
    for (int i = 0; i < 16; i++) lu[i] = (uint8_t)(GQ_IQ4NL[i] + 128);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lu));
    uint8_t qi[64];
    uint16_t si[32], fi[32];
    uint32_t ii[32];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 16; i++) qi[16 * b + i] = (uint8_t)(18 * b + 2 + i); /* bit 6: the second register */
    for (int w = 0; w < 32; w++) si[w] = (uint16_t)((w & 4 ? 32 : 0) + 9 * (w & 3)); /* two rows' 4 scales */
    /* Q0 = [row0 b0..3, row1 b0..3 | row2 .., row3 ..] (words 0..15), Q1 the same for rows 4..7:
     * word 8b + r of F = Q0 word 4r + b (r < 4) or Q1 word 4(r-4) + b (+32) */
    for (int w = 0; w < 32; w++) {
        int b = w / 8, r = w % 8;
        fi[w] = (uint16_t)(r < 4 ? 4 * r + b : 32 + 4 * (r - 4) + b);
    }
    uint16_t pi[32]; /* [P01 | P23] -> words 0..7 of P01 then words 0..7 of P23 */
    for (int w = 0; w < 32; w++) pi[w] = (uint16_t)(w < 8 ? w : w < 16 ? 32 + (w - 8) : 0);
    for (int l = 0; l < 16; l++) { /* lanes 0..7 block b0 rows 0..7, 8..15 block b1 */
        int r = l % 8, blk = l / 8;
        ii[l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * blk + r % 4);
        ii[16 + l] = (uint32_t)((r < 4 ? 0 : 16) + 4 * (blk + 2) + r % 4);
    }
    const __m512i qidx = _mm512_loadu_si512(qi), sidx = _mm512_loadu_si512(si), fidx = _mm512_loadu_si512(fi);
    const __m512i pidx = _mm512_loadu_si512(pi);
    const __m512i i01 = _mm512_loadu_si512(ii), i23 = _mm512_loadu_si512(ii + 16);
    for (int64_t o = o0; o + 8 <= o1; o += 8) {
        const uint8_t *w0 = j->w + (size_t)o * j->w_rb;
        __m256 acc = _mm256_setzero_ps();
        for (int g = 0; g < ng; g++) {
            const int nbk = nb - 4 * g < 4 ? nb - 4 * g : 4;
            const unsigned nbytes = 18u * (unsigned)nbk;
            const __mmask64 m0 = nbytes >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << nbytes) - 1);
            const __mmask64 m1 = nbytes > 64 ? (((__mmask64)1 << (nbytes - 64)) - 1) : 0;
            const __m512i xl = _mm512_load_si512(G[g].xl), xh = _mm512_load_si512(G[g].xh);
            const char *pf = (const char *)(w0 + 8 * j->w_rb + (size_t)g * 576);
            for (int p = 0; p < 576; p += 64) _mm_prefetch(pf + p, _MM_HINT_T0);
            __m512i s[8], l0[8];
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) {
                const uint8_t *p = w0 + (size_t)r * j->w_rb + (size_t)g * 72;
                l0[r] = _mm512_maskz_loadu_epi8(m0, p);
                const __m512i l1 = _mm512_maskz_loadu_epi8(m1, p + 64);
                const __m512i q = _mm512_permutex2var_epi8(l0[r], qidx, l1);
                __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                if (iq4) {
                    lo = _mm512_shuffle_epi8(lut, lo);
                    hi = _mm512_shuffle_epi8(lut, hi);
                }
                s[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xl), hi, xh);
            }
            /* gq_red4: 128-bit part b of ra holds rows 0..3's sums of block b */
            const __m512i ra = gq_red4(s[0], s[1], s[2], s[3]), rb = gq_red4(s[4], s[5], s[6], s[7]);
            const __m512i is01 = _mm512_sub_epi32(_mm512_permutex2var_epi32(ra, i01, rb), _mm512_load_si512(G[g].off));
            const __m512i is23 = _mm512_sub_epi32(_mm512_permutex2var_epi32(ra, i23, rb), _mm512_load_si512(G[g].off + 16));
            const __m512i p01 = _mm512_permutex2var_epi16(l0[0], sidx, l0[1]), p23 = _mm512_permutex2var_epi16(l0[2], sidx, l0[3]);
            const __m512i p45 = _mm512_permutex2var_epi16(l0[4], sidx, l0[5]), p67 = _mm512_permutex2var_epi16(l0[6], sidx, l0[7]);
            const __m512i q0 = _mm512_permutex2var_epi16(p01, pidx, p23), q1 = _mm512_permutex2var_epi16(p45, pidx, p67);
            const __m512i f = _mm512_permutex2var_epi16(q0, fidx, q1);
            const __m512 d01 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(f)), _mm512_load_ps(G[g].dx));
            const __m512 d23 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(f, 1)), _mm512_load_ps(G[g].dx + 16));
            const __m512 f01 = _mm512_cvtepi32_ps(is01), f23 = _mm512_cvtepi32_ps(is23);
            acc = _mm256_fmadd_ps(_mm512_castps512_ps256(f01), _mm512_castps512_ps256(d01), acc);
            if (nbk > 1) acc = _mm256_fmadd_ps(hi256(f01), hi256(d01), acc);
            if (nbk > 2) acc = _mm256_fmadd_ps(_mm512_castps512_ps256(f23), _mm512_castps512_ps256(d23), acc);
            if (nbk > 3) acc = _mm256_fmadd_ps(hi256(f23), hi256(d23), acc);
        }
        if (j->bias) acc = _mm256_add_ps(acc, _mm256_loadu_ps(j->bias + o));
        _mm256_storeu_ps(j->y + o, acc);
    }
}
#else
void rl_gq_vnni_rows(const gq_job *j, const void *prep, int64_t o0, int64_t o1) { (void)j, (void)prep, (void)o0, (void)o1; }
#endif
