/* The sums of attention_ggml.c with AVX-512 registers, the same fmas and adds in the same order
 * (bit-identical; tests/backend/test_attention_ggml.c): a key's score as ggml_vec_dot_f32 forms it
 * (4 x 16 lanes, folded, reduced like _mm512_reduce_add_ps), and the value sums of one query (the
 * 64 lanes of ggml_vec_dot_f32 over the cells) or of a batch (tinyBLAS's 16 lanes over the cells)
 * with the output columns across the register: lane slot s accumulates the cells k = s mod 64
 * (or 16) in order, then the slots are folded and reduced as those kernels do, 16 columns at once. */
#include "backend/cpu/attention_ggml.h"
#include "backend/cpu/ggml_math.h"
#include <stdint.h>
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include "backend/cpu/ggml_math_zmm.h"
#define TGT __attribute__((target("avx512f,avx2,fma")))

static TGT inline float reduce16(__m512 v) { /* _mm512_reduce_add_ps: halves, then quarters, ... */
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/* Softmax numerators, runs of 16: s[j] = v_expf(s[j] - mx) for j < n (a multiple of 16); returns
 * the runs' sums (each reduced as _mm512_reduce_add_ps) added in double, as attention_ggml.c does. */
TGT double rl_attg_exp_runs_avx512(float *s, int n, float mx) {
    double sum = 0;
    for (int j = 0; j < n; j += 16) {
        const __m512 e = rl_ggml_v_expf_zmm(_mm512_sub_ps(_mm512_loadu_ps(s + j), _mm512_set1_ps(mx)));
        _mm512_storeu_ps(s + j, e);
        sum += (double)reduce16(e);
    }
    return sum;
}

/* ggml_vec_dot_f32 of two contiguous rows of n floats. */
TGT float rl_attg_vdot_avx512(int n, const float *x, const float *y) {
    int np = n & ~63, i;
    float sumf = 0.0f;
    if (np) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (i = 0; i < np; i += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
        }
        a0 = _mm512_add_ps(a0, a2);
        a1 = _mm512_add_ps(a1, a3);
        sumf = reduce16(_mm512_add_ps(a0, a1));
    }
    for (i = np; i < n; i++) sumf += x[i] * y[i];
    return sumf;
}

/* Columns [c, c + 16) of the value sums: slot s's register holds the cells k = s mod L (k in
 * [k0, k1), L = 64 for one query, 16 for a batch), folded as ggml folds its accumulators. */
static TGT void cols16(float *o, const float *v, int64_t vw, int ring, const float *p, int k0, int k1, int L) {
    __m512 S[64];
    for (int s = 0; s < L; s++) S[s] = _mm512_setzero_ps();
    for (int base = k0 - k0 % L; base < k1; base += L) {
        int s0 = base < k0 ? k0 - base : 0, s1 = k1 - base < L ? k1 - base : L;
        for (int s = s0; s < s1; s++) {
            int k = base + s, r = ring ? k % ring : k;
            S[s] = _mm512_fmadd_ps(_mm512_loadu_ps(v + (int64_t)r * vw), _mm512_set1_ps(p[k]), S[s]);
        }
    }
    if (L == 64)
        for (int l = 0; l < 16; l++) S[l] = _mm512_add_ps(_mm512_add_ps(S[l], S[32 + l]), _mm512_add_ps(S[16 + l], S[48 + l]));
    /* rl_ggml_hsum16 over the 16 lanes l, per column */
    __m512 e0 = _mm512_add_ps(_mm512_add_ps(S[0], S[8]), _mm512_add_ps(S[4], S[12]));
    __m512 e2 = _mm512_add_ps(_mm512_add_ps(S[2], S[10]), _mm512_add_ps(S[6], S[14]));
    __m512 e1 = _mm512_add_ps(_mm512_add_ps(S[1], S[9]), _mm512_add_ps(S[5], S[13]));
    __m512 e3 = _mm512_add_ps(_mm512_add_ps(S[3], S[11]), _mm512_add_ps(S[7], S[15]));
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_add_ps(e0, e2), _mm512_add_ps(e1, e3)));
}

/* o[c] for c < vd16 (a multiple of 16): one query (L = 64: cells [0, live)) or a batch row
 * (L = 16: cells [j0, i]); v points at this head's first column. */
TGT void rl_attg_vcols_avx512(float *o, int vd16, const float *v, int64_t vw, int ring, const float *p, int k0, int k1, int L) {
    for (int c = 0; c < vd16; c += 16) cols16(o + c, v + c, vw, ring, p, k0, k1, L);
}
#else
float rl_attg_vdot_avx512(int n, const float *x, const float *y) { (void)n, (void)x, (void)y; return 0.0f; }
double rl_attg_exp_runs_avx512(float *s, int n, float mx) { (void)s, (void)n, (void)mx; return 0.0; }
void rl_attg_vcols_avx512(float *o, int vd16, const float *v, int64_t vw, int ring, const float *p, int k0, int k1, int L) {
    (void)o, (void)vd16, (void)v, (void)vw, (void)ring, (void)p, (void)k0, (void)k1, (void)L;
}
#endif
