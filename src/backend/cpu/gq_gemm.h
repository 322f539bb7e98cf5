/* Internals of the GGUF sweep GEMM (gq_gemm.c: driver, Q4_0 / Q8_0; gq_gemm_k.c: Q4_K / Q6_K),
 * x86 with AVX512-VNNI only: the job, the packed-panel layouts, the next-panel prefetch. */
#ifndef RL_GQ_GEMM_H
#define RL_GQ_GEMM_H
#include "backend/cpu/gq_internal.h"
#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define INL __attribute__((always_inline)) inline

#define PB 576  /* Q4_0 / Q8_0: packed bytes per block of a 16-row panel: 8 x 64 code bytes, 16 f32 scales */
/* Q4_K, per 256-item block of a panel: 64 code registers, 8 of scales (int32), 4 of min pairs
 * (int16 mn[2c], mn[2c+1]), 16 f32 d, 16 f32 dmin */
#define KPB (64 * 64 + 8 * 64 + 4 * 64 + 64 + 64)
#define K_SC (64 * 64)
#define K_MN (K_SC + 8 * 64)
#define K_D (K_MN + 4 * 64)
/* Q6_K, per block of a panel: 128 registers of int16 pairs (items 2p, 2p+1 times their scales),
 * 8 of scale pairs (sc[2l], sc[2l+1]), 16 f32 d */
#define SPB (128 * 64 + 8 * 64 + 64)
#define S_SC (128 * 64)
#define S_D (S_SC + 8 * 64)

typedef struct {
    const gq_job *j;
    int single, c;       /* the order; the constant added to every code (8 or 128) */
    float *dx;           /* (T, nb) activation scales */
    int32_t *sg;         /* (T, nb, 8) -c x the activation's item-quad sums */
    int32_t *bsum;       /* (T, nb) -c x the activation's block sums */
    int32_t *mp;         /* Q4_K: (T, nb, 4) the activation's 32-item sums in int16 pairs (2c, 2c+1) */
    int16_t *x16;        /* Q6_K: (T, in) the activation's items as int16 */
    uint8_t *pack;       /* per thread: one packed panel */
    size_t pack_bytes;
} gg_job;

/* The next panel's rows go into the cache a share per tile while this panel computes: a panel is
 * 16 row streams, too many for the hardware prefetchers, and the packing waits on all their lines. */
typedef struct {
    const uint8_t *p;
    size_t rb;
    int lpr, n, at, quota; /* lines per row, lines in all, next line, lines per tile */
} pf_cursor;

static inline pf_cursor pf_start(const gq_job *j, int64_t o, int tiles) {
    const int64_t rows = j->out - o < 16 ? j->out - o : 16;
    pf_cursor c = {j->w + (size_t)(rows > 0 ? o : 0) * j->w_rb, j->w_rb, (int)((j->w_rb + 63) / 64), 0, 0, 0};
    c.n = rows > 0 ? (int)rows * c.lpr : 0;
    c.quota = (c.n + tiles - 1) / (tiles > 0 ? tiles : 1);
    return c;
}

static INL void pf_step(pf_cursor *c) {
    for (int e = c->at + c->quota < c->n ? c->at + c->quota : c->n; c->at < e; c->at++)
        _mm_prefetch((const char *)(c->p + (size_t)(c->at / c->lpr) * c->rb + (size_t)(c->at % c->lpr) * 64), _MM_HINT_T0);
}

/* Item quad g (items 4g..4g+3) of a Q8_0 activation block a (its codes follow a 2-byte scale;
 * callers with other layouts pass their codes' address less 2). */
static INL int32_t quad(const uint8_t *a, int g) {
    int32_t v;
    memcpy(&v, a + 2 + 4 * g, 4);
    return v;
}

/* gq_gemm_k.c: one 16-row panel (rows o .. o + nv) of a Q4_K / Q6_K job packed into pk and run
 * for every token; the Q4_K activation's 32-item sum pairs (G->mp). */
void rl_gqg_panel_q4k(const gg_job *G, int64_t o, int nv, uint8_t *pk);
void rl_gqg_panel_q6k(const gg_job *G, int64_t o, int nv, uint8_t *pk);
void rl_gqg_prep_q8k(const gq_job *j, int32_t *mp);

#endif
