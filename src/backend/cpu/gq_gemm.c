/* Sweeps (several tokens) over GGUF Q4_0 / Q8_0 / Q4_K / Q6_K weights with AVX512-VNNI, in ggml's
 * orders (the same f32 steps per output row and token as gq_tmpl.h's row kernels, so the same
 * values):
 * - single (Q4_0 with the output rows a multiple of 8, which ggml repacks 8x8): per row and token
 *   acc = fma(block int sum, dw * dx, acc), block after block;
 * - lanes (Q8_0; Q4_0 otherwise): 8 accumulators per row and token, lane l = fma(dw * dx, the
 *   int sum of items 4l..4l+3, lane), then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
 * - Q4_K (rows a multiple of 8: ggml's 8x8 repacked gemm for the tokens before T - T % 4, its gemv
 *   for the rest): per 64-item chunk c, acc = fma(sum of the chunk's scales x items, d * dy, acc)
 *   and accm = fma(its mins x the activation's 32-item sums, dmin * dy, accm) (gemv: one fma each
 *   per 256-item block, on the four chunks' sums); y = acc - accm.
 * - Q6_K (lanes): 8 accumulators per row and token, lane l = fma(dy * d, sum over the block's
 *   32-item runs v of sc[2v + (l >= 4)] x items 32v + 4l..4l+3, less 32 x (sc[2l] bs[2l] +
 *   sc[2l+1] bs[2l+1]), lane) block after block, then the 8 lanes as above; here the items times
 *   their scales packed as int16 pairs and vpdpwssd against the activation's int16 pairs.
 * 16 weight rows share a register (one int32 lane each): a panel of 16 rows is packed once per op
 * (16 x 16 dword transposes of the rows' bytes; per block registers of 4 codes a
 * row, unsigned: Q4_0's / Q4_K's nibbles, Q8_0's codes + 128; the 16 f32 scales; Q4_K's 6-bit
 * scales and mins unpacked), then vpdpbusd against each token's broadcast item quads, the
 * constant times the activation's item sums taken off (integers: exact), and the f32 steps for
 * the 16 rows at once. The next panel's rows are prefetched while one computes. This file: the
 * driver and Q4_0 / Q8_0; gq_gemm_k.c: Q4_K and Q6_K. */
#include "backend/cpu/gq_internal.h"
#include "backend/cpu/threadpool.h"
#include "backend/cpu/matmul.h"
#include <stdlib.h>
#include <string.h>

#define ROWS 64 /* output rows per work item (4 panels; a multiple of 8 for the single order) */
#define PB 576  /* packed bytes per block of a 16-row panel: 8 x 64 code bytes, 16 f32 scales */
int rl_gq_gemm_usable(rl_dtype t, int T, int out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* Q6_K's packing (a per-row decode, eight transposes a block) pays from about 32 tokens:
     * `build/bench_matmul 2 4864 1024 T`, T = 16 / 32 / 128 against RL_SIMD=avx512's rows */
    return T >= GQ_GEMM_MIN_T && (t == RL_DT_Q4_0 || t == RL_DT_GQ8_0 || (t == RL_DT_Q6_K && T >= 32) || (t == RL_DT_Q4_K && out % 8 == 0)) && !strcmp(rl_simd_name(), "avx512vnni") &&
           __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
#else
    (void)t, (void)T, (void)out;
    return 0;
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "backend/cpu/gq_gemm.h"
#include "backend/cpu/zmm_tr.h"

/* Panel of rows [o, o + n) (n <= 16; missing rows zero, scale 0) packed: per block b at pk + b*PB,
 * register g = items 4g..4g+3 of each row (one int32 lane a row), then the 16 scales. The rows'
 * code bytes go through a 16 x 16 dword transpose (gathers, one dword a lane, ran at a fraction of
 * that here); the scales come by one gather. */
TGT static void pack_panel(const gq_job *j, int64_t o, int n, uint8_t *pk) {
    const int nb = j->in / GQ_QK, q8 = j->t == RL_DT_GQ8_0;
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512i ro = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)j->w_rb));
    const __m512i z = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8((char)0x80);
    const __mmask16 cm = q8 ? 0x00FF : 0x000F; /* code dwords of a block: 8 (Q8_0), 4 (Q4_0) */
    const uint8_t *base = j->w + (size_t)o * j->w_rb;
    for (int b = 0; b < nb; b++) {
        const uint8_t *bp = base + (size_t)b * j->bb;
        uint8_t *cb = pk + (size_t)b * PB;
        const __m512i hdr = _mm512_mask_i32gather_epi32(z, m, ro, bp, 1);
        _mm512_storeu_ps((float *)(void *)(cb + 512), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(hdr)));
        __m512i r[16];
        for (int i = 0; i < 16; i++) r[i] = i < n ? _mm512_maskz_loadu_epi32(cm, bp + (size_t)i * j->w_rb + 2) : z;
        zmm_tr16(r);
        if (q8) {
            for (int g = 0; g < 8; g++) _mm512_storeu_si512(cb + 64 * g, _mm512_maskz_xor_epi32(m, r[g], flip));
        } else { /* byte i: item i (low nibble), item i + 16 (high) */
            for (int k = 0; k < 4; k++) {
                _mm512_storeu_si512(cb + 64 * k, _mm512_and_si512(r[k], m4));
                _mm512_storeu_si512(cb + 64 * (k + 4), _mm512_and_si512(_mm512_srli_epi16(r[k], 4), m4));
            }
        }
    }
}

#define R8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
/* Single order, MT_ tokens from t: y rows o .. o + nv. Written out per register (gcc keeps
 * indexed arrays of them on the stack). */
TGT static INL void tile_single(int MT_, const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) {
    const gq_job *j = G->j;
    const int nb = j->in / GQ_QK;
#define DECL(i) \
    __m512 f##i = _mm512_setzero_ps(); \
    const int ti##i = (i) < MT_ ? t + (i) : t; \
    const uint8_t *a##i = j->act + (size_t)ti##i * j->a_rb; \
    const int32_t *bs##i = G->bsum + (size_t)ti##i * nb; \
    const float *dx##i = G->dx + (size_t)ti##i * nb;
    R8(DECL)
    for (int b = 0; b < nb; b++) {
        const uint8_t *pb = pk + (size_t)b * PB;
#define INIT(i) __m512i s##i = _mm512_set1_epi32(bs##i[b]);
        R8(INIT)
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i w = _mm512_load_si512((const void *)(pb + 64 * g));
#define DOT(i) if ((i) < MT_) s##i = _mm512_dpbusd_epi32(s##i, w, _mm512_set1_epi32(quad(a##i + (size_t)b * j->ab, g)));
            R8(DOT)
        }
        const __m512 dw = _mm512_load_ps((const float *)(const void *)(pb + 512));
#define ACC(i) if ((i) < MT_) f##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s##i), _mm512_mul_ps(dw, _mm512_set1_ps(dx##i[b])), f##i);
        R8(ACC)
    }
    const __mmask16 m = nv >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nv) - 1);
    const __m512 bv = j->bias ? _mm512_maskz_loadu_ps(m, j->bias + o) : _mm512_setzero_ps();
#define ST(i) if ((i) < MT_) _mm512_mask_storeu_ps(j->y + (size_t)(t + (i)) * j->out + o, m, _mm512_add_ps(f##i, bv));
    R8(ST)
#undef DECL
#undef INIT
#undef DOT
#undef ACC
#undef ST
}

/* Lanes order, MT_ (1 or 2) tokens from t. */
TGT static INL void tile_lanes(int MT_, const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) {
    const gq_job *j = G->j;
    const int nb = j->in / GQ_QK;
#define DECL(g) __m512 c0##g = _mm512_setzero_ps(), c1##g = _mm512_setzero_ps();
    R8(DECL)
    const uint8_t *a0 = j->act + (size_t)t * j->a_rb, *a1 = MT_ > 1 ? a0 + j->a_rb : a0;
    for (int b = 0; b < nb; b++) {
        const uint8_t *pb = pk + (size_t)b * PB;
        const __m512 dw = _mm512_load_ps((const float *)(const void *)(pb + 512));
        const __m512 d0 = _mm512_mul_ps(dw, _mm512_set1_ps(G->dx[(size_t)t * nb + b]));
        const __m512 d1 = MT_ > 1 ? _mm512_mul_ps(dw, _mm512_set1_ps(G->dx[(size_t)(t + 1) * nb + b])) : d0;
        const int32_t *q0 = G->sg + ((size_t)t * nb + b) * 8, *q1 = MT_ > 1 ? q0 + (size_t)nb * 8 : q0;
        const uint8_t *x0 = a0 + (size_t)b * j->ab, *x1 = a1 + (size_t)b * j->ab;
#define STEP(g) { \
            const __m512i w = _mm512_load_si512((const void *)(pb + 64 * (g))); \
            c0##g = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_set1_epi32(q0[g]), w, _mm512_set1_epi32(quad(x0, g)))), c0##g); \
            if (MT_ > 1) \
                c1##g = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_set1_epi32(q1[g]), w, _mm512_set1_epi32(quad(x1, g)))), c1##g); }
        R8(STEP)
    }
    const __mmask16 m = nv >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nv) - 1);
    const __m512 bv = j->bias ? _mm512_maskz_loadu_ps(m, j->bias + o) : _mm512_setzero_ps();
#define HSUM8(c) _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c##0, c##4), _mm512_add_ps(c##2, c##6)), \
                               _mm512_add_ps(_mm512_add_ps(c##1, c##5), _mm512_add_ps(c##3, c##7)))
    _mm512_mask_storeu_ps(j->y + (size_t)t * j->out + o, m, _mm512_add_ps(HSUM8(c0), bv));
    if (MT_ > 1) _mm512_mask_storeu_ps(j->y + (size_t)(t + 1) * j->out + o, m, _mm512_add_ps(HSUM8(c1), bv));
#undef HSUM8
#undef DECL
#undef STEP
}

TGT static void single8(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_single(8, G, pk, t, o, nv); }
TGT static void single_n(const gg_job *G, const uint8_t *pk, int t, int n, int64_t o, int nv) {
    switch (n) {
    case 1: tile_single(1, G, pk, t, o, nv); break;
    case 2: tile_single(2, G, pk, t, o, nv); break;
    case 3: tile_single(3, G, pk, t, o, nv); break;
    case 4: tile_single(4, G, pk, t, o, nv); break;
    case 5: tile_single(5, G, pk, t, o, nv); break;
    case 6: tile_single(6, G, pk, t, o, nv); break;
    case 7: tile_single(7, G, pk, t, o, nv); break;
    default: break;
    }
}
TGT static void lanes2(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_lanes(2, G, pk, t, o, nv); }
TGT static void lanes1(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_lanes(1, G, pk, t, o, nv); }

static void work(void *ctx, int64_t i0, int64_t i1, int tid) {
    const gg_job *G = ctx;
    const gq_job *j = G->j;
    uint8_t *pk = G->pack + (size_t)tid * G->pack_bytes;
    for (int64_t it = i0; it < i1; it++)
        for (int64_t o = it * ROWS; o < (it + 1) * ROWS && o < j->out; o += 16) {
            const int nv = j->out - o < 16 ? (int)(j->out - o) : 16;
            int t = 0;
            if (o == it * ROWS) { /* an item's first panel: not prefetched by a previous one */
                pf_cursor pf = pf_start(j, o, 1);
                pf_step(&pf);
            }
            if (j->t == RL_DT_Q6_K) { rl_gqg_panel_q6k(G, o, nv, pk); continue; }
            if (j->t == RL_DT_Q4_K) { rl_gqg_panel_q4k(G, o, nv, pk); continue; }
            pack_panel(j, o, nv, pk);
            if (G->single) {
                pf_cursor pf = pf_start(j, o + 16, (j->T + 7) / 8);
                for (; t + 8 <= j->T; t += 8) { pf_step(&pf); single8(G, pk, t, o, nv); }
                if (t < j->T) { pf_step(&pf); single_n(G, pk, t, j->T - t, o, nv); }
            } else {
                pf_cursor pf = pf_start(j, o + 16, (j->T + 1) / 2);
                for (; t + 2 <= j->T; t += 2) { pf_step(&pf); lanes2(G, pk, t, o, nv); }
                if (t < j->T) { pf_step(&pf); lanes1(G, pk, t, o, nv); }
            }
        }
}

/* -c x the item-quad and block sums and the f32 scales of every activation block. */
TGT static void prep_acts(const gq_job *j, int c, float *dx, int32_t *sg, int32_t *bsum) {
    const int nb = j->in / GQ_QK;
    const __m256i ones = _mm256_set1_epi8(1);
    for (int t = 0; t < j->T; t++)
        for (int b = 0; b < nb; b++) {
            const uint8_t *a = j->act + (size_t)t * j->a_rb + (size_t)b * j->ab;
            uint16_t h;
            memcpy(&h, a, 2);
            dx[(size_t)t * nb + b] = _cvtsh_ss(h);
            const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, _mm256_loadu_si256((const __m256i *)(const void *)(a + 2)));
            const __m256i q = _mm256_mullo_epi32(s, _mm256_set1_epi32(-c));
            _mm256_storeu_si256((__m256i *)(void *)(sg + ((size_t)t * nb + b) * 8), q);
            const __m128i h2 = _mm_add_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            const __m128i h1 = _mm_add_epi32(h2, _mm_shuffle_epi32(h2, _MM_SHUFFLE(1, 0, 3, 2)));
            bsum[(size_t)t * nb + b] = _mm_cvtsi128_si32(_mm_add_epi32(h1, _mm_shuffle_epi32(h1, _MM_SHUFFLE(2, 3, 0, 1))));
        }
}

int rl_gq_gemm(rl_pool *p, const gq_job *j) {
    const int nth = rl_pool_size(p), q4k = j->t == RL_DT_Q4_K, q6k = j->t == RL_DT_Q6_K;
    if (j->w_rb > (size_t)INT32_MAX / 16) return -1; /* Q4_0 / Q8_0: the scale gather's int32 offsets */
    gg_job G = {.j = j, .single = j->t == RL_DT_Q4_0 && j->out % 8 == 0, .c = j->t == RL_DT_GQ8_0 ? 128 : 8};
    const int nb = j->in / (q4k || q6k ? GQ_QKK : GQ_QK);
    size_t nd = q4k || q6k ? 0 : ((size_t)j->T * nb * sizeof(float) + 63) & ~(size_t)63;
    size_t ns = ((size_t)j->T * (q6k ? (size_t)j->in * 2 : (size_t)nb * (q4k ? 16 : 36)) + 63) & ~(size_t)63;
    G.pack_bytes = (size_t)nb * (q6k ? SPB : q4k ? KPB : PB);
    uint8_t *buf = aligned_alloc(64, nd + ns + (size_t)nth * G.pack_bytes);
    if (!buf) return -1;
    G.pack = buf + nd + ns;
    if (q6k) {
        G.x16 = (int16_t *)(void *)buf;
        for (int t = 0; t < j->T; t++)
            for (int b = 0; b < nb; b++) {
                const int8_t *q = (const int8_t *)(j->act + (size_t)t * j->a_rb + (size_t)b * j->ab + 4);
                for (int i = 0; i < GQ_QKK; i++) G.x16[(size_t)t * j->in + (size_t)b * GQ_QKK + i] = q[i];
            }
    } else if (q4k) {
        G.mp = (int32_t *)(void *)buf;
        rl_gqg_prep_q8k(j, G.mp);
    } else {
        G.dx = (float *)(void *)buf;
        G.sg = (int32_t *)(void *)(buf + nd);
        G.bsum = G.sg + (size_t)j->T * nb * 8;
        prep_acts(j, G.c, G.dx, G.sg, G.bsum);
    }
    rl_pool_for_work(p, (j->out + ROWS - 1) / ROWS, 1, (int64_t)j->T * j->in * j->out, work, &G);
    free(buf);
    return 0;
}
#else
int rl_gq_gemm(rl_pool *p, const gq_job *j) {
    (void)p, (void)j;
    return -1;
}
#endif
