/* Attention as llama.cpp's CPU graph computes it (GGUF models: rl_backend.numerics RL_NUMERICS_GGML),
 * for an f32 KV cache without flash attention, step by step in ggml-cpu's AVX-512 order:
 *   kq[j]  = ggml_vec_dot_f32(head_dim, k_j, q)   4 x 16 lanes of FMAs over runs of 64, folded
 *                                                 (0+2, 1+3, 0+1), reduced, the tail added in order
 *   (q pre-scaled by `scale` and kq soft-capped x (1/cap) -> tanh -> x cap when softcap > 0, as
 *    Gemma 2's graph does; else kq x scale inside soft_max)
 *   softmax over the cache's n_kv cells (used cells padded to 256, masked -inf): ggml_v_expf on runs
 *   of 16, each run's sum reduced into a double, p = e x (float)(1 / sum)
 *   out    = V^T p: llamafile tinyBLAS (16 lanes of FMAs over the cells, reduced) for a batch of
 *            queries, ggml_vec_dot_f32 over the n_kv cells for one query.
 * Position j is cell j (one sequence, cells filled in order); masked cells hold 0 and change no sum. */
#include "backend/cpu/attention_ggml.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/ggml_math.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* ggml's rounding steps: every fused step below is an explicit fmaf */
#endif
#include <string.h>

/* llama.cpp's n_kv: the used cells padded to 256 (max(n_pad, 256) in llama_kv_cache::get_n_kv), or
 * the whole cache where that is smaller; either way a multiple of 64 that holds every used cell,
 * so one query's value sums run wholly in ggml_vec_dot_f32's 4 x 16 lanes, never its serial tail. */
#define KV_PAD 256
#define GG_KCHUNK 64 /* keys scored for every query of a block before the next keys */

#define hsum16 rl_ggml_hsum16

/* ggml_vec_dot_f32 (AVX-512 build) of x(k) and y[k], k < n, where x(k) = x[(ring ? k % ring : k) * sx];
 * entries from `live` on are 0 (they change no sum). */
static float vdot(int n, const float *x, int64_t sx, int ring, const float *y, int live) {
    int np = n & ~63, i;
#define X(k) x[(int64_t)(ring ? (k) % ring : (k)) * sx]
    float sumf = 0.0f;
    if (np) {
        float acc[4][16] = {{0}};
        for (i = 0; i < np && i < live; i += 64)
            for (int a = 0; a < 4; a++)
                for (int l = 0; l < 16; l++) {
                    int k = i + 16 * a + l;
                    if (k < live) acc[a][l] = fmaf(X(k), y[k], acc[a][l]);
                }
        for (int l = 0; l < 16; l++) { acc[0][l] += acc[2][l]; acc[1][l] += acc[3][l]; }
        for (int l = 0; l < 16; l++) acc[0][l] += acc[1][l];
        sumf = hsum16(acc[0]);
    }
    for (i = np; i < n && i < live; i++) sumf += X(i) * y[i];
#undef X
    return sumf;
}

#define v_expf rl_ggml_v_expf

/* attention_ggml_avx512.c: the same sums in AVX-512 registers (bit-identical), used on the avx512
 * SIMD paths. */
float rl_attg_vdot_avx512(int n, const float *x, const float *y);
void rl_attg_scores_avx512(int n, const float *k, int64_t ks, int ring, const float *q, int j0, int j1, float mul, float *s);
void rl_attg_vcols_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                const int *k0, const int *k1, int nq, float *acc);
void rl_attg_vcols64_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                  const int *k1, int nq, float *acc);
double rl_attg_exp_runs_avx512(float *s, int n, float mx);

typedef struct {
    float *out;
    const float *q;
    const rl_kv_view *kv;
    int pos0, T, n_head, n_kv, hd, vd, window;
    float scale, softcap;
    float *scratch;
    int64_t row;
    int qb;  /* queries per work item (each its own score row of the thread's scratch) */
    int nqb; /* work items per head (T >= 2) */
    int hb;  /* T == 1: heads per work item (0: blocks of queries) */
    int vec; /* the AVX-512 sums */
} gjob;

/* One work item: nq (query, head) pairs (tt[u], hh[u]) of one KV head kvh -- a block of a
 * prompt's queries of one head, or the heads of a group for one query (decode). Each pair's sums
 * are those of ggml's kernels (above) whatever the blocking; the block only orders the loops so
 * that a key row, and a value column block over the cells, is fetched once for all the block
 * (a long prompt's K / V of a head, or a decode's K / V of a KV head, no longer streams from
 * memory once per query or per head). */
static void gblock(const gjob *a, int kvh, const int *tt, const int *hh, int nq, float *sc) {
    const rl_kv_view *kv = a->kv;
    const float *kc = kv->k, *vc = kv->v;
    int n_cells = (a->pos0 + a->T + KV_PAD - 1) / KV_PAD * KV_PAD;
    const int vec = a->vec, vd16 = vec ? a->vd / 16 * 16 : 0;
    const float *qv[RL_GGML_ATT_QB];
    float qs[RL_GGML_ATT_QB][RL_GGML_ATT_MAX_DIM], mx[RL_GGML_ATT_QB];
    int live_max = 0;
    float sc_mul = a->softcap > 0 ? 1.0f : a->scale; /* Gemma 2: Qcur x scale, kq x (1/cap), tanh, x cap, softmax scale 1 */
    for (int u = 0; u < nq; u++) {
        int i = a->pos0 + tt[u], live = (i + 16) / 16 * 16; /* the runs of 16 cells that hold a visible one */
        qv[u] = a->q + ((int64_t)tt[u] * a->n_head + hh[u]) * a->hd;
        if (a->softcap > 0) {
            for (int c = 0; c < a->hd; c++) qs[u][c] = qv[u][c] * a->scale;
            qv[u] = qs[u];
        }
        mx[u] = -INFINITY;
        if (live > live_max) live_max = live;
    }
    if (vec && !(a->softcap > 0) && a->hd % 64 == 0) { /* scores 16 keys at a time, in chunks of keys
                                                          that stay in L1 for the block's queries */
        const float *kb = kc + (int64_t)kvh * a->hd;
        for (int jc = 0; jc < live_max; jc += GG_KCHUNK)
            for (int u = 0; u < nq; u++) {
                int i = a->pos0 + tt[u], j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
                int lo = j0 > jc ? j0 : jc, hi = i + 1 < jc + GG_KCHUNK ? i + 1 : jc + GG_KCHUNK;
                if (lo < hi) rl_attg_scores_avx512(a->hd, kb, kv->k_width, kv->ring, qv[u], lo, hi, sc_mul, sc + (int64_t)u * a->row);
            }
        for (int u = 0; u < nq; u++) { /* the masked cells of the query's runs, and its maximum */
            int i = a->pos0 + tt[u], j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0, live = (i + 16) / 16 * 16;
            float *s = sc + (int64_t)u * a->row;
            for (int j = 0; j < j0; j++) s[j] = -INFINITY;
            for (int j = i + 1; j < live; j++) s[j] = -INFINITY;
            for (int j = j0; j <= i; j++)
                if (s[j] > mx[u]) mx[u] = s[j];
        }
    } else /* scores: key row j against every query of the block that sees its run */
    for (int j = 0; j < live_max; j++) {
        int r = kv->ring ? j % kv->ring : j;
        const float *kr = kc + (int64_t)r * kv->k_width + (int64_t)kvh * a->hd;
        for (int u = 0; u < nq; u++) {
            int i = a->pos0 + tt[u], j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
            float *s = sc + (int64_t)u * a->row;
            if (j >= (i + 16) / 16 * 16) continue;
            if (j < j0 || j > i) { s[j] = -INFINITY; continue; }
            float x = vec ? rl_attg_vdot_avx512(a->hd, kr, qv[u]) : vdot(a->hd, kr, 1, 0, qv[u], a->hd);
            if (a->softcap > 0) x = tanhf(x * (1.0f / a->softcap)) * a->softcap;
            s[j] = x * sc_mul;
            if (s[j] > mx[u]) mx[u] = s[j];
        }
    }
    for (int u = 0; u < nq; u++) { /* softmax, per query */
        int i = a->pos0 + tt[u], live = (i + 16) / 16 * 16;
        float *s = sc + (int64_t)u * a->row;
        double sum = 0;
        if (vec) sum = rl_attg_exp_runs_avx512(s, live, mx[u]);
        else
            for (int j = 0; j < live; j += 16) {
                float e16[16];
                for (int l = 0; l < 16; l++) e16[l] = s[j + l] = v_expf(s[j + l] - mx[u]);
                sum += (double)hsum16(e16);
            }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < live; j++) s[j] *= inv;
    }
    /* value sums: a block of 16 columns over the cells for every query, then the next block */
    if (vd16 && a->T >= 2) {
        float *ob[RL_GGML_ATT_QB], acc[RL_GGML_ATT_QB * 256];
        const float *pb[RL_GGML_ATT_QB];
        int k0[RL_GGML_ATT_QB], k1[RL_GGML_ATT_QB];
        for (int u = 0; u < nq; u++) {
            int i = a->pos0 + tt[u];
            k0[u] = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
            k1[u] = i + 1;
            pb[u] = sc + (int64_t)u * a->row;
        }
        for (int c = 0; c < vd16; c += 16) {
            for (int u = 0; u < nq; u++) ob[u] = a->out + ((int64_t)tt[u] * a->n_head + hh[u]) * a->vd + c;
            rl_attg_vcols_batch_avx512(ob, vc + (int64_t)kvh * a->vd + c, kv->v_width, kv->ring, pb, k0, k1, nq, acc);
        }
    } else if (vd16) { /* one query: the heads' value sums in chunks of cells, as above */
        float *ob[RL_GGML_ATT_QB], acc[RL_GGML_ATT_QB * 1024];
        const float *pb[RL_GGML_ATT_QB];
        int k1[RL_GGML_ATT_QB];
        for (int u = 0; u < nq; u++) {
            k1[u] = a->pos0 + tt[u] + 1;
            pb[u] = sc + (int64_t)u * a->row;
        }
        for (int c = 0; c < vd16; c += 16) {
            for (int u = 0; u < nq; u++) ob[u] = a->out + ((int64_t)tt[u] * a->n_head + hh[u]) * a->vd + c;
            rl_attg_vcols64_batch_avx512(ob, vc + (int64_t)kvh * a->vd + c, kv->v_width, kv->ring, pb, k1, nq, acc);
        }
    }
    for (int u = 0; u < nq; u++) {
        int i = a->pos0 + tt[u], j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0, live = (i + 16) / 16 * 16;
        float *o = a->out + ((int64_t)tt[u] * a->n_head + hh[u]) * a->vd;
        const float *s = sc + (int64_t)u * a->row;
        for (int c = vd16; c < a->vd; c++) {
            if (a->T >= 2) { /* tinyBLAS: 16 lanes over the cells */
                float acc[16] = {0};
                for (int j = 0; j < live; j += 16)
                    for (int l = 0; l < 16; l++) {
                        int jj = j + l;
                        if (jj < j0 || jj > i) continue; /* p = 0: fma(0, v, acc) = acc */
                        int r = kv->ring ? jj % kv->ring : jj;
                        acc[l] = fmaf(vc[(int64_t)r * kv->v_width + (int64_t)kvh * a->vd + c], s[jj], acc[l]);
                    }
                o[c] = hsum16(acc);
            } else { /* ggml_vec_dot_f32 over the cache's cells (masked ones: p = 0) */
                o[c] = vdot(n_cells, vc + (int64_t)kvh * a->vd + c, kv->v_width, kv->ring, s, i + 1);
            }
        }
    }
}

/* Work items: for a prompt (T >= 2) head-major blocks of qb queries of one head (a head's
 * blocks, then the next head's: heads sharing a KV head follow each other); for one query, blocks
 * of hb heads of one KV head. Either way a thread's item reuses the K / V it has just read. */
static void gwork(void *ctx, int64_t b, int64_t e, int tid) {
    const gjob *a = ctx;
    float *sc = a->scratch + (int64_t)tid * a->qb * a->row;
    int group = a->n_head / a->n_kv, tt[RL_GGML_ATT_QB], hh[RL_GGML_ATT_QB];
    for (int64_t it = b; it < e; it++) {
        int nq = 0;
        if (a->hb) { /* T == 1: heads [h0, h0 + hb) of KV head kvh */
            int nhb = (group + a->hb - 1) / a->hb, kvh = (int)(it / nhb), h0 = kvh * group + (int)(it % nhb) * a->hb;
            for (int h = h0; h < h0 + a->hb && h < (kvh + 1) * group; h++) { tt[nq] = 0; hh[nq++] = h; }
        } else {
            int h = (int)(it / a->nqb), t0 = (int)(it % a->nqb) * a->qb;
            for (int t = t0; t < t0 + a->qb && t < a->T; t++) { tt[nq] = t; hh[nq++] = h; }
        }
        gblock(a, hh[0] / group, tt, hh, nq, sc);
    }
}

int64_t rl_attention_ggml_scratch_floats(int n_threads, int max_ctx) {
    return rl_attention_scratch_floats((n_threads < 1 ? 1 : n_threads) * RL_GGML_ATT_QB, max_ctx);
}

int rl_attention_ggml_ok(const rl_kv_view *kv, int pos0, int T, int head_dim, int v_dim, int64_t row) {
    return kv->dt == RL_DT_F32 && head_dim <= RL_GGML_ATT_MAX_DIM && v_dim <= RL_GGML_ATT_MAX_DIM &&
           (int64_t)(pos0 + T + 15) / 16 * 16 <= row;
}

void rl_attention_ggml(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head, int n_kv,
                       int head_dim, int v_dim, float scale, float softcap, int window, float *scratch, int64_t row, int n_rows) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    int nt = rl_pool_size(p), qb = n_rows / nt, group = n_head / n_kv, hb = 0;
    if (qb > RL_GGML_ATT_QB) qb = RL_GGML_ATT_QB;
    if (qb < 1) qb = 1;
    int64_t items;
    if (T == 1) { /* the heads of a group together, as many as leave an item for every thread */
        hb = group < qb ? group : qb;
        while (hb > 1 && (int64_t)n_kv * ((group + hb - 1) / hb) < nt) hb = (hb + 1) / 2;
        items = (int64_t)n_kv * ((group + hb - 1) / hb);
    } else { /* enough items for every thread: smaller blocks where the prompt has few per thread */
        while (qb > 1 && (int64_t)((T + qb - 1) / qb) * n_head < 4 * (int64_t)nt) qb /= 2;
        items = (int64_t)((T + qb - 1) / qb) * n_head;
    }
    gjob a = {out, q, kv, pos0, T, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch, row, qb, (T + qb - 1) / qb, hb,
              !strncmp(rl_simd_name(), "avx512", 6)};
    rl_pool_for(p, items, 1, gwork, &a);
}
