/* Kernel template for the GGUF weight types, instantiated per instruction set (gq_scalar.c,
 * gq_avx2.c, gq_avx512.c) with SFX (name suffix), TGT (target attribute) and GQ_IDOT32 /
 * GQ_IDOT16X2 (int8 dot products, exact in any form). Decoders turn one block into int8 items plus
 * integer group scales / mins and f32 super scales; the dot of a block with an activation block is
 * integer, then scaled in f32 as ggml does (see ggml_quants.h). */
#include "backend/cpu/gq_internal.h"
#include <math.h>
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* ggml's rounding steps, not fused ones (gcc does not fuse in C11 mode) */
#endif
#include <string.h>

/* Nibble unpacking: 16 bytes -> low nibbles to a[0..16), high to a[16..32), minus off; through a
 * 16-entry table; 32 bytes -> low nibbles to a[0..32), high to a[32..64). */
#ifndef GQ_NIB16
#define GQ_NIB16(p, a, off) \
    for (int j_ = 0; j_ < 16; j_++) { (a)[j_] = (int8_t)(((p)[j_] & 0xF) - (off)); (a)[j_ + 16] = (int8_t)(((p)[j_] >> 4) - (off)); }
#define GQ_NIB16_LUT(p, a, lut) \
    for (int j_ = 0; j_ < 16; j_++) { (a)[j_] = (lut)[(p)[j_] & 0xF]; (a)[j_ + 16] = (lut)[(p)[j_] >> 4]; }
#define GQ_NIB32(p, a) \
    for (int j_ = 0; j_ < 32; j_++) { (a)[j_] = (int8_t)((p)[j_] & 0xF); (a)[j_ + 32] = (int8_t)((p)[j_] >> 4); }
#endif
#ifndef GQ_H2F
#define GQ_H2F(h) rl_f16_to_f32(h)
#endif
static TGT inline float h2f(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return GQ_H2F(h); }



static TGT inline void dec_q8_0(const uint8_t *b, gq_blk *o) {
    o->d = h2f(b); o->dmin = 0;
    memcpy(o->a, b + 2, GQ_QK);
}
static TGT inline void dec_q4_0(const uint8_t *b, gq_blk *o) {
    o->d = h2f(b); o->dmin = 0;
    GQ_NIB16(b + 2, o->a, 8);
}
static TGT inline void dec_q4_1(const uint8_t *b, gq_blk *o) {
    o->d = h2f(b); o->dmin = -h2f(b + 2);
    GQ_NIB16(b + 4, o->a, 0);
}
static TGT inline void dec_q5(const uint8_t *qhp, const uint8_t *qs, int off, gq_blk *o) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    for (int j = 0; j < 16; j++) {
        int h0 = (int)(((qh >> j) << 4) & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
        o->a[j] = (int8_t)(((qs[j] & 0xF) | h0) - off);
        o->a[j + 16] = (int8_t)(((qs[j] >> 4) | h1) - off);
    }
}
static TGT inline void dec_q5_0(const uint8_t *b, gq_blk *o) { o->d = h2f(b); o->dmin = 0; dec_q5(b + 2, b + 6, 16, o); }
static TGT inline void dec_q5_1(const uint8_t *b, gq_blk *o) { o->d = h2f(b); o->dmin = -h2f(b + 2); dec_q5(b + 4, b + 8, 0, o); }
static TGT inline void dec_iq4_nl(const uint8_t *b, gq_blk *o) {
    o->d = h2f(b); o->dmin = 0;
    GQ_NIB16_LUT(b + 2, o->a, GQ_IQ4NL);
}
static TGT inline void dec_mxfp4(const uint8_t *b, gq_blk *o) {
    o->d = gq_e8m0_half(b[0]); o->dmin = 0;
    GQ_NIB16_LUT(b + 1, o->a, GQ_MXFP4);
}

static TGT inline void dec_q2_K(const uint8_t *b, gq_blk *o) { /* scales[16] qs[64] d dmin */
    const uint8_t *sc = b, *qs = b + 16;
    o->d = h2f(b + 80); o->dmin = h2f(b + 82);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) o->a[128 * k + 32 * j + l] = (int8_t)((qs[32 * k + l] >> (2 * j)) & 3);
    for (int g = 0; g < 16; g++) { o->sc[g] = sc[g] & 0xF; o->mn[g] = sc[g] >> 4; }
}

static TGT inline void dec_q3_K(const uint8_t *b, gq_blk *o) { /* hmask[32] qs[64] scales[12] d */
    const uint8_t *hm = b, *qs = b + 32;
    o->d = h2f(b + 108); o->dmin = 0;
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < 4; s++) {
            uint8_t m = (uint8_t)(1u << (4 * h + s));
            for (int l = 0; l < 32; l++)
                o->a[128 * h + 32 * s + l] = (int8_t)(((qs[32 * h + l] >> (2 * s)) & 3) - ((hm[l] & m) ? 0 : 4));
        }
    uint32_t aux[4];
    memcpy(aux, b + 96, 12);
    const uint32_t k1 = 0x03030303, k2 = 0x0f0f0f0f, tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
    aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
    aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
    aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
    int8_t s8[16];
    memcpy(s8, aux, 16);
    for (int g = 0; g < 16; g++) { o->sc[g] = (int16_t)(s8[g] - 32); o->mn[g] = 0; }
}

/* The 6-bit scales and mins of Q4_K / Q5_K (8 each). */
static TGT inline void k4_scales(const uint8_t *p, gq_blk *o) {
    uint32_t u[4];
    memcpy(u, p, 12);
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
    uint32_t ua = u[1] & k1;
    u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
    u[2] = ua;
    u[0] &= k1;
    uint8_t s[16];
    memcpy(s, u, 16);
    for (int g = 0; g < 8; g++) { o->sc[g] = s[g]; o->mn[g] = s[8 + g]; }
}

static TGT inline void dec_q4_K(const uint8_t *b, gq_blk *o) { /* d dmin scales[12] qs[128] */
    o->d = h2f(b); o->dmin = h2f(b + 2);
    k4_scales(b + 4, o);
    const uint8_t *q = b + 16;
    for (int j = 0; j < 4; j++) GQ_NIB32(q + 32 * j, o->a + 64 * j);
}

static TGT inline void dec_q5_K(const uint8_t *b, gq_blk *o) { /* d dmin scales[12] qh[32] qs[128] */
    o->d = h2f(b); o->dmin = h2f(b + 2);
    k4_scales(b + 4, o);
    const uint8_t *qh = b + 16, *q = b + 48;
    for (int j = 0; j < 4; j++) {
        uint8_t m0 = (uint8_t)(1u << (2 * j)), m1 = (uint8_t)(1u << (2 * j + 1));
        for (int l = 0; l < 32; l++) {
            o->a[64 * j + l] = (int8_t)((q[32 * j + l] & 0xF) + ((qh[l] & m0) ? 16 : 0));
            o->a[64 * j + 32 + l] = (int8_t)((q[32 * j + l] >> 4) + ((qh[l] & m1) ? 16 : 0));
        }
    }
}

static TGT inline void dec_q6_K(const uint8_t *b, gq_blk *o) { /* ql[128] qh[64] scales[16] d */
    o->d = h2f(b + 208); o->dmin = 0;
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        int8_t *a = o->a + 128 * h;
        for (int l = 0; l < 32; l++) {
            a[l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            a[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            a[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            a[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
    for (int g = 0; g < 16; g++) { o->sc[g] = (int8_t)b[192 + g]; o->mn[g] = 0; }
}


TGT void SFX(rl_gq_decode)(rl_dtype t, const uint8_t *b, gq_blk *o) {
    switch (t) {
    case RL_DT_GQ8_0: dec_q8_0(b, o); break;
    case RL_DT_Q4_0: dec_q4_0(b, o); break;
    case RL_DT_GQ4_1: dec_q4_1(b, o); break;
    case RL_DT_Q5_0: dec_q5_0(b, o); break;
    case RL_DT_Q5_1: dec_q5_1(b, o); break;
    case RL_DT_IQ4_NL: dec_iq4_nl(b, o); break;
    case RL_DT_GMXFP4: dec_mxfp4(b, o); break;
    case RL_DT_Q2_K: dec_q2_K(b, o); break;
    case RL_DT_Q3_K: dec_q3_K(b, o); break;
    case RL_DT_Q4_K: dec_q4_K(b, o); break;
    case RL_DT_Q5_K: dec_q5_K(b, o); break;
    case RL_DT_Q6_K: dec_q6_K(b, o); break;
    default: memset(o, 0, sizeof *o); return;
    }
    if (t != RL_DT_Q2_K && t != RL_DT_Q3_K && t != RL_DT_Q4_K && t != RL_DT_Q5_K && t != RL_DT_Q6_K) { o->sc[0] = 1; o->mn[0] = 1; }
}

static TGT inline float dot_q80(gq_info ti, const gq_blk *b, const uint8_t *act) {
    (void)ti;
    return (b->d * h2f(act)) * (float)GQ_IDOT32(b->a, (const int8_t *)(act + 2));
}
static TGT inline float dot_q81(gq_info ti, const gq_blk *b, const uint8_t *act) { /* d*q + m: (dx*dy)*sum + m*s, m = -dmin */
    (void)ti;
    return (b->d * h2f(act)) * (float)GQ_IDOT32(b->a, (const int8_t *)(act + 4)) - b->dmin * h2f(act + 2);
}
static TGT inline float dot_qk(gq_info ti, const gq_blk *b, const uint8_t *act) {
    {
        float yd;
        memcpy(&yd, act, 4);
        const int8_t *q = (const int8_t *)(act + 4);
        int16_t bs[16];
        memcpy(bs, act + 4 + GQ_QKK, sizeof bs);
        int isum = 0, summs = 0;
        if (ti.gsz == 32) {
            for (int g = 0; g < 8; g++) isum += b->sc[g] * GQ_IDOT32(b->a + 32 * g, q + 32 * g);
        } else {
            for (int g = 0; g < 16; g += 2) {
                int s0, s1;
                GQ_IDOT16X2(b->a + 16 * g, q + 16 * g, &s0, &s1);
                isum += b->sc[g] * s0 + b->sc[g + 1] * s1;
            }
        }
        if (b->dmin != 0.0f)
            for (int j = 0; j < 16; j++) summs += bs[j] * b->mn[j * 16 / ti.gsz];
        return (b->d * yd) * (float)isum - (b->dmin * yd) * (float)summs;
    }
}

static TGT inline float block_dot(gq_info ti, const gq_blk *b, const uint8_t *act) {
    return ti.act == GQ_ACT_Q8_0 ? dot_q80(ti, b, act) : ti.act == GQ_ACT_Q8_1 ? dot_q81(ti, b, act) : dot_qk(ti, b, act);
}

TGT float SFX(rl_gq_block_dot)(gq_info ti, const gq_blk *b, const uint8_t *act) { return block_dot(ti, b, act); }

#define TCHUNK 64 /* tokens per accumulator chunk */

/* Rows [o0, o1) for one block type: each weight block is decoded once per token chunk. */
#define ROWS_OF(DEC, DOT, TI)                                                                                   \
    if (j->T == 1) { /* one token: the sum stays in a register */                                         \
        for (int64_t o = o0; o < o1; o++) {                                                                \
            const uint8_t *wr = j->w + (size_t)o * j->w_rb;                                                \
            float s1 = 0.0f;                                                                               \
            for (int k = 0; k < nb; k++) {                                                                 \
                DEC(wr + (size_t)k * j->bb, &b);                                                           \
                s1 += DOT(TI, &b, j->act + (size_t)k * j->ab);                                       \
            }                                                                                              \
            j->y[o] = s1 + (j->bias ? j->bias[o] : 0.0f);                                                  \
        }                                                                                                  \
    } else                                                                                                 \
    for (int64_t o = o0; o < o1; o++) {                                                                    \
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;                                                    \
        for (int t0 = 0; t0 < j->T; t0 += TCHUNK) {                                                        \
            int t1 = t0 + TCHUNK < j->T ? t0 + TCHUNK : j->T;                                              \
            for (int t = t0; t < t1; t++) acc[t - t0] = 0.0f;                                              \
            for (int k = 0; k < nb; k++) {                                                                 \
                DEC(wr + (size_t)k * j->bb, &b);                                                           \
                for (int t = t0; t < t1; t++)                                                              \
                    acc[t - t0] += DOT(TI, &b, j->act + (size_t)t * j->a_rb + (size_t)k * j->ab);    \
            }                                                                                              \
            for (int t = t0; t < t1; t++) j->y[(size_t)t * j->out + o] = acc[t - t0] + (j->bias ? j->bias[o] : 0.0f); \
        }                                                                                                  \
    }

static TGT inline void dec1_q8_0(const uint8_t *p, gq_blk *o) { dec_q8_0(p, o); }
static TGT inline void dec1_q4_0(const uint8_t *p, gq_blk *o) { dec_q4_0(p, o); }
static TGT inline void dec1_q4_1(const uint8_t *p, gq_blk *o) { dec_q4_1(p, o); }
static TGT inline void dec1_q5_0(const uint8_t *p, gq_blk *o) { dec_q5_0(p, o); }
static TGT inline void dec1_q5_1(const uint8_t *p, gq_blk *o) { dec_q5_1(p, o); }
static TGT inline void dec1_iq4_nl(const uint8_t *p, gq_blk *o) { dec_iq4_nl(p, o); }

/* Types with Q8_0 activations, summed in ggml-cpu's order (its x86 build: AVX-512 / AVX2):
 * - lanes (Q8_0, Q5_0, and Q4_0 / IQ4_NL rows not repacked): 8 f32 lanes, lane l holding items
 *   4l..4l+3 of every block, lane = fma(dw * dx, lane int sum, lane) block after block, then
 *   ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) (llamafile tinyBLAS / ggml_vec_dot_*_q8_0);
 * - single (Q4_0 / IQ4_NL when the output rows are a multiple of 8, which ggml repacks 8x8):
 *   acc = fma(block int sum, dw * dx, acc). */
/* c[l] = fma(d, lane l of the block's int sums, c[l]) for the 8 lanes (vector paths: one
 * vfmadd over 8 lanes, the same roundings). */
#ifndef GQ_LANE_FMA
#define GQ_LANE_FMA(c, d, wa, xa)                                          \
    do {                                                                   \
        int32_t p_[8];                                                     \
        GQ_LANES8((wa), (xa), p_);                                         \
        for (int l_ = 0; l_ < 8; l_++) (c)[l_] = fmaf((d), (float)p_[l_], (c)[l_]); \
    } while (0)
#endif
static TGT inline float hsum8(const float a[8]) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

#define ROWS_Q80(DEC)                                                                                      \
    for (int64_t o = o0; o < o1; o++) {                                                                    \
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;                                                    \
        for (int t0 = 0; t0 < j->T; t0 += TCHUNK) {                                                        \
            int t1 = t0 + TCHUNK < j->T ? t0 + TCHUNK : j->T;                                              \
            memset(acc, 0, sizeof acc);                                                                    \
            for (int k = 0; k < nb; k++) {                                                                 \
                DEC(wr + (size_t)k * j->bb, &b);                                                           \
                for (int t = t0; t < t1; t++) {                                                            \
                    const uint8_t *a = j->act + (size_t)t * j->a_rb + (size_t)k * j->ab;                   \
                    float d = b.d * h2f(a), *c = acc[t - t0];                                              \
                    if (single) {                                                                          \
                        c[0] = fmaf((float)GQ_IDOT32(b.a, (const int8_t *)(a + 2)), d, c[0]);              \
                    } else {                                                                               \
                        GQ_LANE_FMA(c, d, b.a, (const int8_t *)(a + 2));                                   \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
            for (int t = t0; t < t1; t++)                                                                  \
                j->y[(size_t)t * j->out + o] = (single ? acc[t - t0][0] : hsum8(acc[t - t0])) + (j->bias ? j->bias[o] : 0.0f); \
        }                                                                                                  \
    }

#ifdef GQ_VEC_LANES
/* One token (decode), lanes layout: the same fmas as ROWS_Q80 with the 8 lanes in a register and
 * two output rows interleaved (two independent chains), so the weight stream is not held up by
 * the accumulator's latency. */
#define ROWS_Q80_T1(DEC)                                                                                   \
    for (int64_t o = o0; o < o1; o += 2) {                                                                 \
        const int two = o + 1 < o1;                                                                        \
        const uint8_t *w0 = j->w + (size_t)o * j->w_rb, *w1 = two ? w0 + j->w_rb : w0;                     \
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();                                         \
        gq_blk b1;                                                                                         \
        for (int k = 0; k < nb; k++) {                                                                     \
            const uint8_t *a = j->act + (size_t)k * j->ab;                                                 \
            const float dx = h2f(a);                                                                       \
            GQ_PREFETCH(w0 + 2 * j->w_rb + (size_t)k * 2 * j->bb, 2 * j->bb);                              \
            DEC(w0 + (size_t)k * j->bb, &b);                                                               \
            DEC(w1 + (size_t)k * j->bb, &b1);                                                              \
            c0 = _mm256_fmadd_ps(_mm256_set1_ps(b.d * dx), _mm256_cvtepi32_ps(GQ_VEC_LANES(b.a, (const int8_t *)(a + 2))), c0); \
            c1 = _mm256_fmadd_ps(_mm256_set1_ps(b1.d * dx), _mm256_cvtepi32_ps(GQ_VEC_LANES(b1.a, (const int8_t *)(a + 2))), c1); \
        }                                                                                                  \
        float l0[8], l1[8];                                                                                \
        _mm256_storeu_ps(l0, c0);                                                                          \
        _mm256_storeu_ps(l1, c1);                                                                          \
        j->y[o] = hsum8(l0) + (j->bias ? j->bias[o] : 0.0f);                                               \
        if (two) j->y[o + 1] = hsum8(l1) + (j->bias ? j->bias[o + 1] : 0.0f);                              \
    }
/* The same for the single-sum layout (Q4_0 / IQ4_NL rows ggml repacks 8x8): per row acc =
 * fma(block int sum, dw * dx, acc); here 8 rows at once, lane r holding row r's accumulator
 * (the 8 block sums reduced together by a tree of hadds: integers, exact), so each row gets
 * the same fmas in the same order as the scalar path. */
static TGT inline __m256i gq_hsum8x8(const __m256i s[8]) {
    __m256i b0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
    __m256i b1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}
/* Rows read together are short interleaved streams the hardware prefetcher does not get ahead of
 * (each row a few KB): each block step prefetches its share (n bytes) of the next group of rows,
 * so the group after this one is in cache when it starts (a prefetch past the end never faults). */
#define GQ_PREFETCH(p, n)                                                                        \
    do {                                                                                         \
        const char *pf_ = (const char *)(p);                                                     \
        for (size_t o_ = 0; o_ < (size_t)(n); o_ += 64) _mm_prefetch(pf_ + o_, _MM_HINT_T0);     \
    } while (0)

#define GQ_U16(p) (short)((p)[0] | (p)[1] << 8) /* an f16 from two bytes, into a vector lane */
/* Output rows [o, o + nr) of an 8-row group from lane r of v, plus the bias: a whole group straight
 * from the register (a store and masked reload of the 8 sums stalls store forwarding). */
static TGT inline void gq_store_rows(const gq_job *j, int64_t o, int nr, __m256 v) {
    if (nr == 8) {
        if (j->bias) v = _mm256_add_ps(v, _mm256_loadu_ps(j->bias + o));
        _mm256_storeu_ps(j->y + o, v);
        return;
    }
    float cs[8];
    _mm256_storeu_ps(cs, v);
    for (int r = 0; r < nr; r++) j->y[o + r] = cs[r] + (j->bias ? j->bias[o + r] : 0.0f);
}

/* K-quants from the raw block bytes (no decode to memory): Q6_K's 8 int32 lanes of one block
 * (lane l: the group scale times items 4l..4l+3 of each run of 32, over the unsigned 6-bit items,
 * minus 32 x (sc[2l] bs[2l] + sc[2l+1] bs[2l+1])) and Q4_K's per-64-item integer sums (sc x items,
 * 8 lanes each); exact integers, so the same values as k_lanes / the scalar sums. */
#ifdef GQ_ZMM
/* AVX-512: a 128-item half of the block per two registers (runs 4h, 4h+1 and 4h+2, 4h+3), the
 * high bits shifted per 16-bit lane (0 / 2, 4 / 6), each pair of products times its 16-item
 * group's scale (word e of a run pair: group 8h + e / 8, + 4 for the second pair); the two
 * 256-bit halves added: the same integer lanes. */
static TGT inline __m256i gq_q6k_lanes(const uint8_t *b, const uint8_t *act) {
    const int8_t *q = (const int8_t *)(act + 4);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x03);
    const __m512i sh01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192))));
    const __m512i e8 = _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                                                          15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 3);
    __m512i acc = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(b + 64 * h));
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h)));
        const __m512i u01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh01), m3), 4));
        const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                            _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, sh23), m3), 4));
        const __m512i s01 = _mm512_permutexvar_epi16(_mm512_add_epi16(e8, _mm512_set1_epi16((short)(8 * h))), sc);
        const __m512i s23 = _mm512_permutexvar_epi16(_mm512_add_epi16(e8, _mm512_set1_epi16((short)(8 * h + 4))), sc);
        const __m512i p01 = _mm512_madd_epi16(_mm512_maddubs_epi16(u01, _mm512_loadu_si512((const void *)(q + 128 * h))), s01);
        const __m512i p23 = _mm512_madd_epi16(_mm512_maddubs_epi16(u23, _mm512_loadu_si512((const void *)(q + 128 * h + 64))), s23);
        acc = _mm512_add_epi32(acc, _mm512_add_epi32(p01, p23));
    }
    const __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    const __m256i bs = _mm256_loadu_si256((const __m256i *)(act + 4 + GQ_QKK));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
    return _mm256_sub_epi32(lanes, _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
}
#else
static TGT inline __m256i gq_q6k_lanes(const uint8_t *b, const uint8_t *act) {
    const int8_t *q = (const int8_t *)(act + 4);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03), m30 = _mm256_set1_epi8(0x30);
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h)), ql1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
        __m256i u[4];
        u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
        u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
        u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m30));
        u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
        for (int r = 0; r < 4; r++) {
            int v = 4 * h + r;
            const __m256i sc = _mm256_set_m128i(_mm_set1_epi16((int8_t)b[192 + 2 * v + 1]), _mm_set1_epi16((int8_t)b[192 + 2 * v]));
            __m256i p = _mm256_maddubs_epi16(u[r], _mm256_loadu_si256((const __m256i *)(q + 32 * v)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
        }
    }
    const __m256i bs = _mm256_loadu_si256((const __m256i *)(act + 4 + GQ_QKK));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
    return _mm256_sub_epi32(acc, _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
}
#endif
/* Q4_K: the integer sum of chunk c (items 64c..64c+63: groups 2c, 2c+1) in 8 lanes. */
static TGT inline __m256i gq_q4k_chunk(const uint8_t *qs, const int8_t *q, const int16_t *sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
    __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(v, m4), _mm256_loadu_si256((const __m256i *)(q + 64 * c)));
    __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), _mm256_loadu_si256((const __m256i *)(q + 64 * c + 32)));
    return _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_set1_epi16(sc[2 * c])), _mm256_madd_epi16(hi, _mm256_set1_epi16(sc[2 * c + 1])));
}
static TGT inline int32_t gq_hsum_i32x8(__m256i v) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}
/* Q6_K rows: c = fma(dw * dy, lanes, c) block after block, reduced by hsum8 (as rows_k). */
static TGT void rows_q6k_vec(const gq_job *j, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QKK;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t = 0; t < j->T; t++) {
            const uint8_t *ar = j->act + (size_t)t * j->a_rb;
            __m256 c = _mm256_setzero_ps();
            for (int k = 0; k < nb; k++) {
                const uint8_t *b = wr + (size_t)k * j->bb, *a = ar + (size_t)k * j->ab;
                float yd;
                memcpy(&yd, a, 4);
                if (t == 0) GQ_PREFETCH(b + 16 * j->bb, j->bb);
                c = _mm256_fmadd_ps(_mm256_set1_ps(yd * h2f(b + 208)), _mm256_cvtepi32_ps(gq_q6k_lanes(b, a)), c);
            }
            float l[8];
            _mm256_storeu_ps(l, c);
            j->y[(size_t)t * j->out + o] = hsum8(l) + (j->bias ? j->bias[o] : 0.0f);
        }
    }
}
#ifdef GQ_ZMM
#include "backend/cpu/gq_zmm.h"
/* k4_scales in a register: bytes [sc0..7, mn0..7] of the Q4_K block at bb (its 12 scale bytes at 4). */
static TGT inline __m128i k4_scales_v(const uint8_t *bb) {
    const __m128i h = _mm_loadu_si128((const __m128i *)bb);
    const __m128i t1 = _mm_shuffle_epi8(h, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m128i t2 = _mm_shuffle_epi8(h, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    const __m128i lo = _mm_and_si128(t1, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m128i hn = _mm_and_si128(_mm_srli_epi16(t1, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m128i hb = _mm_and_si128(_mm_srli_epi16(t2, 2), _mm_set1_epi8(0x30)); /* (s >> 6) << 4 */
    return _mm_or_si128(_mm_or_si128(lo, hn), hb);
}
/* Word index vector: the first 16 words take scale g0, the next 16 g1. */
static TGT inline __m512i gq_k4_idx(int g0, int g1) {
    return _mm512_inserti64x4(_mm512_set1_epi16((short)g0), _mm256_set1_epi16((short)g1), 1);
}
#define GQ_CAT256(p0, p1) \
    _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p0))), _mm256_loadu_si256((const __m256i *)(p1)), 1)
#endif
/* Q4_K rows ggml repacks 8x8 (see rows_k_repacked): the same fmas, the integer sums from the raw
 * bytes; one token: 8 rows at once, lane r holding row r's accumulators. */
static TGT void rows_q4k_repacked_vec(const gq_job *j, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QKK, tg = j->T - j->T % 4; /* rows before tg: ggml's gemm */
    gq_blk b;
    if (j->T == 1) {
        for (int64_t o = o0; o < o1; o += 8) {
            const int nr = o1 - o < 8 ? (int)(o1 - o) : 8;
            __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
            for (int k = 0; k < nb; k++) {
                const uint8_t *a = j->act + (size_t)k * j->ab;
                const int8_t *q = (const int8_t *)(a + 4);
                GQ_PREFETCH(j->w + (size_t)(o + 8) * j->w_rb + (size_t)k * 8 * j->bb, 8 * j->bb);
                float yd;
                memcpy(&yd, a, 4);
                /* the 8 pair sums of the activation's 16-item sums, for the mins */
                const __m256i bsp = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(a + 4 + GQ_QKK)), _mm256_set1_epi16(1));
                const uint8_t *bb[8];
#ifdef GQ_ZMM /* a row's 256 items in four 512-bit products, its scales unpacked in a register; per row one
                * register [item sums folded to 8 lanes | mins products], the 8 rows' folded by unpacks */
                const __m512i m4 = _mm512_set1_epi8(0x0F);
                const __m512i xal = GQ_CAT256(q, q + 64), xah = GQ_CAT256(q + 32, q + 96);
                const __m512i xbl = GQ_CAT256(q + 128, q + 192), xbh = GQ_CAT256(q + 160, q + 224);
                /* words 8..15: the pair sums, against the mins in words 8..15 of the scales */
                const __m256i bspw = _mm256_permute4x64_epi64(_mm256_packs_epi32(_mm256_setzero_si256(), bsp), _MM_SHUFFLE(3, 1, 2, 0));
                __m512i pr[8];
                _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {
                    bb[r] = j->w + (size_t)(o + (r < nr ? r : 0)) * j->w_rb + (size_t)k * j->bb;
                    const __m256i sc16 = _mm256_cvtepu8_epi16(k4_scales_v(bb[r]));
                    const __m512i sc = _mm512_castsi256_si512(sc16);
                    const __m512i qa = _mm512_loadu_si512((const void *)(bb[r] + 16)), qb = _mm512_loadu_si512((const void *)(bb[r] + 80));
                    __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_and_si512(qa, m4), xal), _mm512_permutexvar_epi16(gq_k4_idx(0, 2), sc));
                    p = _mm512_add_epi32(p, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(qa, 4), m4), xah),
                                                              _mm512_permutexvar_epi16(gq_k4_idx(1, 3), sc)));
                    p = _mm512_add_epi32(p, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_and_si512(qb, m4), xbl), _mm512_permutexvar_epi16(gq_k4_idx(4, 6), sc)));
                    p = _mm512_add_epi32(p, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(qb, 4), m4), xbh),
                                                              _mm512_permutexvar_epi16(gq_k4_idx(5, 7), sc)));
                    pr[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_add_epi32(_mm512_castsi512_si256(p), _mm512_extracti64x4_epi64(p, 1))),
                                               _mm256_madd_epi16(sc16, bspw), 1);
                }
                __m512i ra = gq_red4(pr[0], pr[1], pr[2], pr[3]), rb = gq_red4(pr[4], pr[5], pr[6], pr[7]);
                ra = _mm512_add_epi32(ra, _mm512_shuffle_i32x4(ra, ra, _MM_SHUFFLE(2, 3, 0, 1))); /* 128-bit parts 0: sums, 2: mins */
                rb = _mm512_add_epi32(rb, _mm512_shuffle_i32x4(rb, rb, _MM_SHUFFLE(2, 3, 0, 1)));
                __m512i qq = _mm512_shuffle_i32x4(ra, rb, _MM_SHUFFLE(2, 0, 2, 0));
                qq = _mm512_shuffle_i32x4(qq, qq, _MM_SHUFFLE(3, 1, 2, 0)); /* [sums rows 0..7 | mins rows 0..7] */
                const __m256i is8 = _mm512_castsi512_si256(qq), im8 = _mm512_extracti64x4_epi64(qq, 1);
#else
                __m256i sr[8], mr[8];
                for (int r = 0; r < 8; r++) {
                    bb[r] = j->w + (size_t)(o + (r < nr ? r : 0)) * j->w_rb + (size_t)k * j->bb;
                    k4_scales(bb[r] + 4, &b);
                    sr[r] = _mm256_add_epi32(_mm256_add_epi32(gq_q4k_chunk(bb[r] + 16, q, b.sc, 0), gq_q4k_chunk(bb[r] + 16, q, b.sc, 1)),
                                             _mm256_add_epi32(gq_q4k_chunk(bb[r] + 16, q, b.sc, 2), gq_q4k_chunk(bb[r] + 16, q, b.sc, 3)));
                    mr[r] = _mm256_mullo_epi32(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)b.mn)), bsp);
                }
#endif
                const __m128i hd = _mm_setr_epi16(GQ_U16(bb[0]), GQ_U16(bb[1]), GQ_U16(bb[2]), GQ_U16(bb[3]),
                                                  GQ_U16(bb[4]), GQ_U16(bb[5]), GQ_U16(bb[6]), GQ_U16(bb[7]));
                const __m128i hm = _mm_setr_epi16(GQ_U16(bb[0] + 2), GQ_U16(bb[1] + 2), GQ_U16(bb[2] + 2), GQ_U16(bb[3] + 2),
                                                  GQ_U16(bb[4] + 2), GQ_U16(bb[5] + 2), GQ_U16(bb[6] + 2), GQ_U16(bb[7] + 2));
                const __m256 vy = _mm256_set1_ps(yd);
#ifdef GQ_ZMM
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is8), _mm256_mul_ps(_mm256_cvtph_ps(hd), vy), acc);
                accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im8), _mm256_mul_ps(_mm256_cvtph_ps(hm), vy), accm);
#else
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(gq_hsum8x8(sr)), _mm256_mul_ps(_mm256_cvtph_ps(hd), vy), acc);
                accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(gq_hsum8x8(mr)), _mm256_mul_ps(_mm256_cvtph_ps(hm), vy), accm);
#endif
            }
            gq_store_rows(j, o, nr, _mm256_sub_ps(acc, accm));
        }
        return;
    }
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t = 0; t < j->T; t++) {
            const uint8_t *ar = j->act + (size_t)t * j->a_rb;
            float acc = 0.0f, accm = 0.0f;
            for (int k = 0; k < nb; k++) {
                const uint8_t *bb = wr + (size_t)k * j->bb, *a = ar + (size_t)k * j->ab;
                const int8_t *q = (const int8_t *)(a + 4);
                float yd;
                int16_t bs[16];
                memcpy(&yd, a, 4);
                memcpy(bs, a + 4 + GQ_QKK, sizeof bs);
                k4_scales(bb + 4, &b);
                const float dw = h2f(bb) * yd, dm = h2f(bb + 2) * yd;
                if (t < tg) { /* gemm: one fma per 64 items */
                    for (int c = 0; c < 4; c++) {
                        acc = fmaf((float)gq_hsum_i32x8(gq_q4k_chunk(bb + 16, q, b.sc, c)), dw, acc);
                        accm = fmaf((float)(b.mn[2 * c] * (bs[4 * c] + bs[4 * c + 1]) + b.mn[2 * c + 1] * (bs[4 * c + 2] + bs[4 * c + 3])), dm, accm);
                    }
                } else { /* gemv: one per block */
                    __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(gq_q4k_chunk(bb + 16, q, b.sc, 0), gq_q4k_chunk(bb + 16, q, b.sc, 1)),
                                                  _mm256_add_epi32(gq_q4k_chunk(bb + 16, q, b.sc, 2), gq_q4k_chunk(bb + 16, q, b.sc, 3)));
                    int32_t m = 0;
                    for (int g = 0; g < 8; g++) m += b.mn[g] * (bs[2 * g] + bs[2 * g + 1]);
                    acc = fmaf((float)gq_hsum_i32x8(s4), dw, acc);
                    accm = fmaf((float)m, dm, accm);
                }
            }
            j->y[(size_t)t * j->out + o] = (acc - accm) + (j->bias ? j->bias[o] : 0.0f);
        }
    }
}
/* Q4_0 / IQ4_NL rows ggml repacks 8x8, one token: per row acc = fma(block int sum, dw * dx, acc),
 * here 8 rows at once, lane r holding row r's accumulator; the items unpacked in registers (Q4_0:
 * the unsigned nibbles, 8 x the block's activation sum taken off after; IQ4_NL: its table through
 * a byte shuffle), the 8 rows' lane sums reduced by a tree of hadds (integers: exact). */
#define Q4_SINGLE_T1(IQ4)                                                                                  \
    for (int64_t o = o0; o < o1; o += 8) {                                                                 \
        const int nr = o1 - o < 8 ? (int)(o1 - o) : 8;                                                     \
        const size_t rs = nr == 8 ? j->w_rb : 0; /* a short last group reads row o for the missing ones */ \
        const uint8_t *w0 = j->w + (size_t)o * j->w_rb;                                                    \
        __m256 acc = _mm256_setzero_ps();                                                                  \
        for (int k = 0; k < nb; k++) {                                                                     \
            const uint8_t *a = j->act + (size_t)k * j->ab, *wk = w0 + (size_t)k * j->bb;                   \
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(a + 2));                               \
            GQ_PREFETCH(w0 + 8 * j->w_rb + (size_t)k * 8 * j->bb, 8 * j->bb);                              \
            __m256i sr[8];                                                                                 \
            uint16_t h[8];                                                                                 \
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {                                          \
                const uint8_t *br = wk + (size_t)r * rs;                                                   \
                memcpy(&h[r], br, 2);                                                                      \
                const __m128i v = _mm_loadu_si128((const __m128i *)(br + 2));                              \
                __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), m4);             \
                if (IQ4) {                                                                                 \
                    __m256i q = _mm256_shuffle_epi8(lut, nib);                                             \
                    sr[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xv, q)), ones16); \
                } else {                                                                                   \
                    sr[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(nib, xv), ones16);                      \
                }                                                                                          \
            }                                                                                              \
            __m256i is = gq_hsum8x8(sr);                                                                   \
            if (!IQ4) { /* items are nibble - 8 */                                                         \
                int32_t xs = gq_hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xv), ones16));    \
                is = _mm256_sub_epi32(is, _mm256_set1_epi32(8 * xs));                                      \
            }                                                                                              \
            const __m128i hd = _mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3],          \
                                              (short)h[4], (short)h[5], (short)h[6], (short)h[7]);         \
            const __m256 dw = _mm256_mul_ps(_mm256_cvtph_ps(hd), _mm256_set1_ps(h2f(a)));                  \
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), dw, acc);                                        \
        }                                                                                                  \
        gq_store_rows(j, o, nr, acc);                                                                      \
    }
static TGT void rows_q4_single_t1(const gq_job *j, int64_t o0, int64_t o1, int iq4) {
    const int nb = j->in / GQ_QK;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones16 = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1);
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)GQ_IQ4NL));
    if (iq4) { Q4_SINGLE_T1(1) } else { Q4_SINGLE_T1(0) }
}
#endif

/* MXFP4 as ggml_vec_dot_mxfp4_q8_0's x86 (AVX2) code sums it, for every row and token (ggml runs
 * no tinyBLAS or repacked kernel for it): two sets of 8 f32 lanes, even blocks into the first
 * and odd ones into the second (lane l: items 4l..4l+3, fma(dx * dw, lane int sum, lane)), added
 * lane by lane and reduced by hsum8, then a last odd block added as d * (its int sum). */
static TGT void rows_mxfp4(const gq_job *j, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QK, np = nb & ~1;
    gq_blk b;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t = 0; t < j->T; t++) {
            const uint8_t *ar = j->act + (size_t)t * j->a_rb;
            float c[2][8] = {{0}};
            for (int k = 0; k < np; k++) {
                const uint8_t *a = ar + (size_t)k * j->ab;
                dec_mxfp4(wr + (size_t)k * j->bb, &b);
                GQ_LANE_FMA(c[k & 1], h2f(a) * b.d, b.a, (const int8_t *)(a + 2));
            }
            float s[8];
            for (int l = 0; l < 8; l++) s[l] = c[0][l] + c[1][l];
            float y = hsum8(s);
            if (np < nb) {
                const uint8_t *a = ar + (size_t)np * j->ab;
                dec_mxfp4(wr + (size_t)np * j->bb, &b);
                y += (h2f(a) * b.d) * (float)GQ_IDOT32(b.a, (const int8_t *)(a + 2));
            }
            j->y[(size_t)t * j->out + o] = y + (j->bias ? j->bias[o] : 0.0f);
        }
    }
}

static TGT void rows_q80(const gq_job *j, int64_t o0, int64_t o1) {
    if (j->t == RL_DT_GMXFP4) { rows_mxfp4(j, o0, o1); return; }
    int nb = j->in / GQ_QK;
    int single = (j->t == RL_DT_Q4_0 || j->t == RL_DT_IQ4_NL) && j->out % 8 == 0;
    float acc[TCHUNK][8];
    gq_blk b;
#ifdef GQ_VEC_LANES
    if (j->T == 1 && single) {
        rows_q4_single_t1(j, o0, o1, j->t == RL_DT_IQ4_NL);
        return;
    }
    if (j->T == 1 && !single) {
        switch (j->t) {
        case RL_DT_GQ8_0: ROWS_Q80_T1(dec_q8_0) break;
        case RL_DT_Q4_0: ROWS_Q80_T1(dec_q4_0) break;
        case RL_DT_Q5_0: ROWS_Q80_T1(dec_q5_0) break;
        default: ROWS_Q80_T1(dec_iq4_nl) break;
        }
        return;
    }
#endif
    switch (j->t) {
    case RL_DT_GQ8_0: ROWS_Q80(dec_q8_0) break;
    case RL_DT_Q4_0: ROWS_Q80(dec_q4_0) break;
    case RL_DT_Q5_0: ROWS_Q80(dec_q5_0) break;
    default: ROWS_Q80(dec_iq4_nl) break;
    }
}

/* K-quants in ggml_vec_dot_qN_K_q8_K's x86 order (AVX2, also what its AVX-512 builds run): per
 * block 8 int32 lanes, lane l holding items 4l..4l+3 of each of the 8 runs of 32 items times their
 * group scale, folded into 8 f32 lanes as fma(dy * dw, lane, acc) block after block and reduced
 * by hsum8; the mins (dmin_w x -dy times the mins-weighted block sums) per type:
 * Q2_K into the same 8 lanes first (pairs of 16-item groups), Q4_K into 4 lanes (pairs of 32-item
 * groups) reduced as (0+2)+(1+3) and added after, Q5_K into one running f32 sum (fused). Q6_K's
 * lanes hold the unsigned 6-bit items, 32 x (scale-weighted block sums of lane pairs) taken off
 * each lane after (ggml's AVX2 q6_K since 2026-04). */
#ifndef GQ_REPACK_Q2K
#define GQ_REPACK_Q2K 1
#endif
/* integer dot of n (16 or 32) items */
static TGT inline int32_t GQ_IDOT16X2_SUM(const int8_t *a, const int8_t *q, int n) {
    if (n == 32) return GQ_IDOT32(a, q);
    int32_t s = 0;
    for (int i = 0; i < 16; i++) s += a[i] * q[i];
    return s;
}

static TGT inline void k_lanes(const gq_blk *b, int gsz, const int8_t *q, int32_t lane[8]) {
    for (int l = 0; l < 8; l++) lane[l] = 0;
    for (int v = 0; v < 8; v++) {
        int32_t p[8];
        GQ_LANES8(b->a + 32 * v, q + 32 * v, p);
        if (gsz == 16) for (int l = 0; l < 8; l++) lane[l] += b->sc[2 * v + (l >> 2)] * p[l];
        else for (int l = 0; l < 8; l++) lane[l] += b->sc[v] * p[l];
    }
}

/* Q4_K (and Q2_K on AVX-512) whose output rows are a multiple of 8, which ggml repacks 8x8 and
 * multiplies in its gemv / gemm kernels: exact integer sums of the scaled items and of the
 * mins-weighted group sums, s = fma(isum, dw * dy, s), m = fma(imin, dmin_w * dy, m), y = s - m,
 * one fma per block in the gemv (the last T % 4 rows of an op) and per 64 (Q4_K) / 128 (Q2_K) items
 * in the gemm (the rows before them, in groups of 4). */
static TGT void rows_k_repacked(const gq_job *j, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QKK, gsz = j->ti.gsz;
    float acc[TCHUNK], accm[TCHUNK];
    gq_blk b;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t0 = 0; t0 < j->T; t0 += TCHUNK) {
            int t1 = t0 + TCHUNK < j->T ? t0 + TCHUNK : j->T;
            for (int t = t0; t < t1; t++) acc[t - t0] = accm[t - t0] = 0.0f;
            for (int k = 0; k < nb; k++) {
                SFX(rl_gq_decode)(j->t, wr + (size_t)k * j->bb, &b);
                for (int t = t0; t < t1; t++) {
                    const uint8_t *a = j->act + (size_t)t * j->a_rb + (size_t)k * j->ab;
                    float yd;
                    int16_t bs[16];
                    memcpy(&yd, a, 4);
                    memcpy(bs, a + 4 + GQ_QKK, sizeof bs);
                    /* gemm rows (all but the last T % 4): one fma per 64 items (Q4_K) / 128 (Q2_K); gemv rows: per block */
                    int ng = GQ_QKK / gsz, step = t < j->T - j->T % 4 ? (gsz == 32 ? 2 : 8) : ng;
                    for (int g0 = 0; g0 < ng; g0 += step) {
                        int32_t isum = 0, imin = 0;
                        for (int g = g0; g < g0 + step; g++) {
                            isum += b.sc[g] * GQ_IDOT16X2_SUM(b.a + g * gsz, (const int8_t *)(a + 4) + g * gsz, gsz);
                            imin += b.mn[g] * (gsz == 16 ? bs[g] : bs[2 * g] + bs[2 * g + 1]);
                        }
                        acc[t - t0] = fmaf((float)isum, b.d * yd, acc[t - t0]);
                        accm[t - t0] = fmaf((float)imin, b.dmin * yd, accm[t - t0]);
                    }
                }
            }
            for (int t = t0; t < t1; t++)
                j->y[(size_t)t * j->out + o] = (acc[t - t0] - accm[t - t0]) + (j->bias ? j->bias[o] : 0.0f);
        }
    }
}

static TGT void rows_k(const gq_job *j, int64_t o0, int64_t o1) {
    const int nb = j->in / GQ_QKK, gsz = j->ti.gsz;
#ifdef GQ_VEC_LANES
    if (j->t == RL_DT_Q6_K) { rows_q6k_vec(j, o0, o1); return; }
    if (j->t == RL_DT_Q4_K && j->out % 8 == 0) { rows_q4k_repacked_vec(j, o0, o1); return; }
#endif
    if ((j->t == RL_DT_Q4_K || (j->t == RL_DT_Q2_K && GQ_REPACK_Q2K)) && j->out % 8 == 0) { rows_k_repacked(j, o0, o1); return; }
    float acc[TCHUNK][8], accm[TCHUNK][4], summs[TCHUNK];
    gq_blk b;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t0 = 0; t0 < j->T; t0 += TCHUNK) {
            int t1 = t0 + TCHUNK < j->T ? t0 + TCHUNK : j->T;
            memset(acc, 0, sizeof acc);
            memset(accm, 0, sizeof accm);
            memset(summs, 0, sizeof summs);
            for (int k = 0; k < nb; k++) {
                SFX(rl_gq_decode)(j->t, wr + (size_t)k * j->bb, &b);
                for (int t = t0; t < t1; t++) {
                    const uint8_t *a = j->act + (size_t)t * j->a_rb + (size_t)k * j->ab;
                    float yd, *c = acc[t - t0];
                    int16_t bs[16];
                    memcpy(&yd, a, 4);
                    memcpy(bs, a + 4 + GQ_QKK, sizeof bs);
                    float d = yd * b.d, dmin = -yd * b.dmin;
                    if (j->t == RL_DT_Q2_K)
                        for (int l = 0; l < 8; l++)
                            c[l] = fmaf(dmin, (float)(b.mn[2 * l] * bs[2 * l] + b.mn[2 * l + 1] * bs[2 * l + 1]), c[l]);
                    else if (j->t == RL_DT_Q4_K || j->t == RL_DT_Q5_K) {
                        int32_t m[4], tot = 0;
                        for (int g = 0; g < 4; g++) {
                            m[g] = b.mn[2 * g] * (bs[4 * g] + bs[4 * g + 1]) + b.mn[2 * g + 1] * (bs[4 * g + 2] + bs[4 * g + 3]);
                            tot += m[g];
                        }
                        if (j->t == RL_DT_Q4_K) for (int g = 0; g < 4; g++) accm[t - t0][g] = fmaf(dmin, (float)m[g], accm[t - t0][g]);
                        else summs[t - t0] = fmaf(dmin, (float)tot, summs[t - t0]);
                    }
                    int32_t lane[8];
                    k_lanes(&b, gsz, (const int8_t *)(a + 4), lane);
                    if (j->t == RL_DT_Q6_K) { /* unsigned 6-bit items in the lanes, 32 x the scaled block sums taken off after */
                        static const _Alignas(32) int8_t ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
                        const int8_t *q = (const int8_t *)(a + 4);
                        int32_t off[8] = {0};
                        for (int v = 0; v < 8; v++) {
                            int32_t p4[8]; /* sums of 4 activation items per lane */
                            GQ_LANES8(ones, q + 32 * v, p4);
                            for (int l = 0; l < 8; l++) off[l] += b.sc[2 * v + (l >> 2)] * p4[l];
                        }
                        for (int l = 0; l < 8; l++)
                            lane[l] += 32 * off[l] - 32 * (b.sc[2 * l] * bs[2 * l] + b.sc[2 * l + 1] * bs[2 * l + 1]);
                    }
                    for (int l = 0; l < 8; l++) c[l] = fmaf(d, (float)lane[l], c[l]);
                }
            }
            for (int t = t0; t < t1; t++) {
                const float *m = accm[t - t0];
                float y = hsum8(acc[t - t0]);
                if (j->t == RL_DT_Q4_K) y = y + ((m[0] + m[2]) + (m[1] + m[3]));
                else if (j->t == RL_DT_Q5_K) y = y + summs[t - t0];
                j->y[(size_t)t * j->out + o] = y + (j->bias ? j->bias[o] : 0.0f);
            }
        }
    }
}

TGT void SFX(rl_gq_rows)(const gq_job *j, int64_t o0, int64_t o1) {
    if (j->ti.act == GQ_ACT_Q8_0) { rows_q80(j, o0, o1); return; }
    if (j->ti.act == GQ_ACT_Q8_K) { rows_k(j, o0, o1); return; }
    int nb = j->in / j->ti.n;
    float acc[TCHUNK];
    gq_blk b;
    b.sc[0] = 1; b.mn[0] = 1; /* single-scale blocks */
    const gq_info q80 = {GQ_QK, GQ_QK, GQ_ACT_Q8_0}, q81 = {GQ_QK, GQ_QK, GQ_ACT_Q8_1};
    const gq_info k16 = {GQ_QKK, 16, GQ_ACT_Q8_K}, k32 = {GQ_QKK, 32, GQ_ACT_Q8_K};
    switch (j->t) {
    case RL_DT_GQ8_0: ROWS_OF(dec1_q8_0, dot_q80, q80) break;
    case RL_DT_Q4_0: ROWS_OF(dec1_q4_0, dot_q80, q80) break;
    case RL_DT_Q5_0: ROWS_OF(dec1_q5_0, dot_q80, q80) break;
    case RL_DT_IQ4_NL: ROWS_OF(dec1_iq4_nl, dot_q80, q80) break;
    case RL_DT_GQ4_1: ROWS_OF(dec1_q4_1, dot_q81, q81) break;
    case RL_DT_Q5_1: ROWS_OF(dec1_q5_1, dot_q81, q81) break;
    case RL_DT_Q2_K: ROWS_OF(dec_q2_K, dot_qk, k16) break;
    case RL_DT_Q3_K: ROWS_OF(dec_q3_K, dot_qk, k16) break;
    case RL_DT_Q6_K: ROWS_OF(dec_q6_K, dot_qk, k16) break;
    case RL_DT_Q4_K: ROWS_OF(dec_q4_K, dot_qk, k32) break;
    case RL_DT_Q5_K: ROWS_OF(dec_q5_K, dot_qk, k32) break;
    default: break;
    }
}

static TGT inline float hsum16(const float c[16]) { /* _mm512_reduce_add_ps */
    return (((c[0] + c[8]) + (c[4] + c[12])) + ((c[2] + c[10]) + (c[6] + c[14]))) +
           (((c[1] + c[9]) + (c[5] + c[13])) + ((c[3] + c[11]) + (c[7] + c[15])));
}

/* F16 / BF16 weights where ggml uses its vec_dot (one token, or rows not a multiple of 16):
 * ggml_vec_dot_f16 (4 x 16 lanes of FMAs over runs of 64, folded 0+2, 1+3, 0+1, reduced, the tail
 * added in double) and ggml_vec_dot_bf16 (2 x 16 lanes of products added over runs of 32, each
 * reduced into a double, the tail added in double), as ggml-cpu's AVX-512 build computes them. */
TGT void SFX(rl_gq_half_rows)(float *y, const float *xr, const void *w, rl_dtype t, const float *bias, int T, int in, int out) {
    const uint16_t *wh = w;
    for (int tt = 0; tt < T; tt++)
        for (int o = 0; o < out; o++) {
            const uint16_t *wr = wh + (size_t)o * in;
            const float *x = xr + (size_t)tt * in;
            double sum = 0;
            int i = 0;
            if (t == RL_DT_GF16) {
                float c[4][16] = {{0}};
                for (; i + 64 <= in; i += 64)
                    for (int k = 0; k < 4; k++)
                        for (int l = 0; l < 16; l++) c[k][l] = fmaf(GQ_H2F(wr[i + 16 * k + l]), x[i + 16 * k + l], c[k][l]);
                for (int l = 0; l < 16; l++) { c[0][l] += c[2][l]; c[1][l] += c[3][l]; }
                for (int l = 0; l < 16; l++) c[0][l] += c[1][l];
                sum = (double)hsum16(c[0]);
                for (; i < in; i++) sum += (double)(GQ_H2F(wr[i]) * x[i]);
            } else {
                float c1[16] = {0}, c2[16] = {0};
                for (; i + 32 <= in; i += 32)
                    for (int l = 0; l < 16; l++) {
                        c1[l] = rl_bf16_to_f32(wr[i + l]) * x[i + l] + c1[l];
                        c2[l] = rl_bf16_to_f32(wr[i + 16 + l]) * x[i + 16 + l] + c2[l];
                    }
                sum += (double)hsum16(c1);
                sum += (double)hsum16(c2);
                for (; i < in; i++) sum += (double)(rl_bf16_to_f32(wr[i]) * x[i]);
            }
            y[(size_t)tt * out + o] = (float)sum + (bias ? bias[o] : 0.0f);
        }
}
