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
void rl_attg_vcols_avx512(float *o, int vd16, const float *v, int64_t vw, int ring, const float *p, int k0, int k1, int L);
double rl_attg_exp_runs_avx512(float *s, int n, float mx);

typedef struct {
    float *out;
    const float *q;
    const rl_kv_view *kv;
    int pos0, T, n_head, n_kv, hd, vd, window;
    float scale, softcap;
    float *scratch;
    int64_t row;
    int vec; /* the AVX-512 sums */
} gjob;

static void gwork(void *ctx, int64_t b, int64_t e, int tid) {
    const gjob *a = ctx;
    const rl_kv_view *kv = a->kv;
    float *s = a->scratch + (int64_t)tid * a->row, qs[RL_GGML_ATT_MAX_DIM];
    const float *kc = kv->k, *vc = kv->v;
    int group = a->n_head / a->n_kv, n_cells = (a->pos0 + a->T + KV_PAD - 1) / KV_PAD * KV_PAD;
    const int vec = a->vec, vd16 = vec ? a->vd / 16 * 16 : 0;
    for (int64_t it = b; it < e; it++) {
        int t = (int)(it / a->n_head), h = (int)(it % a->n_head), kvh = h / group, i = a->pos0 + t;
        int j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
        int live = (i + 16) / 16 * 16; /* the runs of 16 cells that hold a visible one */
        const float *qv = a->q + ((int64_t)t * a->n_head + h) * a->hd;
        float sc_mul = a->scale;
        if (a->softcap > 0) { /* Gemma 2: Qcur x scale, kq x (1/cap), tanh, x cap, softmax scale 1 */
            for (int c = 0; c < a->hd; c++) qs[c] = qv[c] * a->scale;
            qv = qs;
            sc_mul = 1.0f;
        }
        float mx = -INFINITY;
        for (int j = 0; j < live; j++) {
            if (j < j0 || j > i) { s[j] = -INFINITY; continue; }
            int r = kv->ring ? j % kv->ring : j;
            const float *kr = kc + (int64_t)r * kv->k_width + (int64_t)kvh * a->hd;
            float x = vec ? rl_attg_vdot_avx512(a->hd, kr, qv) : vdot(a->hd, kr, 1, 0, qv, a->hd);
            if (a->softcap > 0) x = tanhf(x * (1.0f / a->softcap)) * a->softcap;
            s[j] = x * sc_mul;
            if (s[j] > mx) mx = s[j];
        }
        double sum = 0;
        if (vec) sum = rl_attg_exp_runs_avx512(s, live, mx);
        else
            for (int j = 0; j < live; j += 16) {
                float e16[16];
                for (int l = 0; l < 16; l++) e16[l] = s[j + l] = v_expf(s[j + l] - mx);
                sum += (double)hsum16(e16);
            }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < live; j++) s[j] *= inv;
        float *o = a->out + ((int64_t)t * a->n_head + h) * a->vd;
        if (vd16) {
            if (a->T >= 2) rl_attg_vcols_avx512(o, vd16, vc + (int64_t)kvh * a->vd, kv->v_width, kv->ring, s, j0, i + 1, 16);
            else rl_attg_vcols_avx512(o, vd16, vc + (int64_t)kvh * a->vd, kv->v_width, kv->ring, s, 0, i + 1, 64);
        }
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

int rl_attention_ggml_ok(const rl_kv_view *kv, int pos0, int T, int head_dim, int v_dim, int64_t row) {
    return kv->dt == RL_DT_F32 && head_dim <= RL_GGML_ATT_MAX_DIM && v_dim <= RL_GGML_ATT_MAX_DIM &&
           (int64_t)(pos0 + T + 15) / 16 * 16 <= row;
}

void rl_attention_ggml(rl_pool *p, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int n_head, int n_kv,
                       int head_dim, int v_dim, float scale, float softcap, int window, float *scratch, int64_t row) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    gjob a = {out, q, kv, pos0, T, n_head, n_kv, head_dim, v_dim, window, scale, softcap, scratch, row,
              !strncmp(rl_simd_name(), "avx512", 6)};
    rl_pool_for(p, (int64_t)T * n_head, 1, gwork, &a);
}
