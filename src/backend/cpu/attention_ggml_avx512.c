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

/* ggml_vec_dot_f32's 4 x 16 lanes over the first np floats (np a multiple of 64), folded
 * (0+2, 1+3, 0+1): the register that is then reduced. */
static TGT inline __m512 folded_dot(int np, const float *x, const float *y) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int i = 0; i < np; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    return _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
}

/* ggml_vec_dot_f32 of two contiguous rows of n floats. */
TGT float rl_attg_vdot_avx512(int n, const float *x, const float *y) {
    int np = n & ~63;
    float sumf = np ? reduce16(folded_dot(np, x, y)) : 0.0f;
    for (int i = np; i < n; i++) sumf += x[i] * y[i];
    return sumf;
}

/* 16 folded accumulators V[m] reduced together: lane m of the result is reduce16(V[m]), the
 * same adds in the same pairs (halves, quarters, then the two steps inside 128 bits), the
 * vectors' lanes transposed as they go. */
static TGT inline __m512 reduce16x16(const __m512 *V) {
    __m512 T[8], U[4], W[2];
    for (int m = 0; m < 8; m++) /* lanes i + i+8 of two vectors: h of V[2m] | h of V[2m+1] */
        T[m] = _mm512_add_ps(_mm512_shuffle_f32x4(V[2 * m], V[2 * m + 1], 0x44), _mm512_shuffle_f32x4(V[2 * m], V[2 * m + 1], 0xEE));
    for (int m = 0; m < 4; m++) /* h[i] + h[i+4]: the quarters hold V[4m .. 4m+3] */
        U[m] = _mm512_add_ps(_mm512_shuffle_f32x4(T[2 * m], T[2 * m + 1], 0x88), _mm512_shuffle_f32x4(T[2 * m], T[2 * m + 1], 0xDD));
    for (int m = 0; m < 2; m++) /* q[0] + q[2], q[1] + q[3] */
        W[m] = _mm512_add_ps(_mm512_shuffle_ps(U[2 * m], U[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(U[2 * m], U[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 R = _mm512_add_ps(_mm512_shuffle_ps(W[0], W[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(W[0], W[1], _MM_SHUFFLE(3, 1, 3, 1)));
    /* lane 4k + c holds V[4c + k] */
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), R);
}

/* s[j] = ggml_vec_dot_f32(n, k_j, q) x mul for j in [j0, j1), k_j the row (ring ? j % ring : j)
 * of k (rows ks floats apart); n a multiple of 64. Sixteen keys at a time, their sums reduced
 * together (reduce16x16); the keys past the last 16 one by one. */
TGT void rl_attg_scores_avx512(int n, const float *k, int64_t ks, int ring, const float *q, int j0, int j1, float mul, float *s) {
    int j = j0;
    const __m512 vm = _mm512_set1_ps(mul);
    for (; j + 16 <= j1; j += 16) {
        __m512 F[16];
        for (int m = 0; m < 16; m++) F[m] = folded_dot(n, k + (int64_t)(ring ? (j + m) % ring : j + m) * ks, q);
        _mm512_storeu_ps(s + j, _mm512_mul_ps(reduce16x16(F), vm));
    }
    for (; j < j1; j++) s[j] = rl_attg_vdot_avx512(n, k + (int64_t)(ring ? j % ring : j) * ks, q) * mul;
}

/* The batch value sums (L = 16) of nq queries, columns [0, 16) of v: o[u][0..16) from p[u] over
 * cells [k0[u], k1[u]). The cells go in chunks of VC so that a chunk of V is read into L1 once for
 * all the queries; each query's 16 slot registers are kept in acc (nq x 256 floats) between
 * chunks. The fmas per slot run in cell order (slot s: the cells k = s mod 16, tinyBLAS's lanes),
 * then the slots are reduced as rl_ggml_hsum16. */
#define VC 128
TGT void rl_attg_vcols_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                    const int *k0, const int *k1, int nq, float *acc) {
    int kmin = k0[0], kmax = k1[0];
    for (int u = 0; u < nq; u++) {
        if (k0[u] < kmin) kmin = k0[u];
        if (k1[u] > kmax) kmax = k1[u];
        for (int sl = 0; sl < 16; sl++) _mm512_storeu_ps(acc + u * 256 + sl * 16, _mm512_setzero_ps());
    }
#define ROW(k) _mm512_loadu_ps(v + (int64_t)(ring ? (k) % ring : (k)) * vw)
    for (int cs = kmin - kmin % VC; cs < kmax; cs += VC)
        for (int u = 0; u < nq; u++) {
            int lo = k0[u] > cs ? k0[u] : cs, hi = k1[u] < cs + VC ? k1[u] : cs + VC;
            if (lo >= hi) continue;
            float *A = acc + u * 256;
            const float *pu = p[u];
            __m512 S0 = _mm512_loadu_ps(A), S1 = _mm512_loadu_ps(A + 16), S2 = _mm512_loadu_ps(A + 32), S3 = _mm512_loadu_ps(A + 48);
            __m512 S4 = _mm512_loadu_ps(A + 64), S5 = _mm512_loadu_ps(A + 80), S6 = _mm512_loadu_ps(A + 96), S7 = _mm512_loadu_ps(A + 112);
            __m512 S8 = _mm512_loadu_ps(A + 128), S9 = _mm512_loadu_ps(A + 144), S10 = _mm512_loadu_ps(A + 160), S11 = _mm512_loadu_ps(A + 176);
            __m512 S12 = _mm512_loadu_ps(A + 192), S13 = _mm512_loadu_ps(A + 208), S14 = _mm512_loadu_ps(A + 224), S15 = _mm512_loadu_ps(A + 240);
            int k = lo;
#define STEP(r, K) r = _mm512_fmadd_ps(ROW(K), _mm512_set1_ps(pu[K]), r)
#define ONE(K)                                                                                                   \
    switch ((K) & 15) {                                                                                          \
    case 0: STEP(S0, K); break; case 1: STEP(S1, K); break; case 2: STEP(S2, K); break; case 3: STEP(S3, K); break;     \
    case 4: STEP(S4, K); break; case 5: STEP(S5, K); break; case 6: STEP(S6, K); break; case 7: STEP(S7, K); break;     \
    case 8: STEP(S8, K); break; case 9: STEP(S9, K); break; case 10: STEP(S10, K); break; case 11: STEP(S11, K); break; \
    case 12: STEP(S12, K); break; case 13: STEP(S13, K); break; case 14: STEP(S14, K); break; default: STEP(S15, K); \
    }
            for (; k < hi && (k & 15); k++) ONE(k); /* up to a group of 16 (cells k = slot mod 16) */
            for (; k + 16 <= hi; k += 16) {
                STEP(S0, k); STEP(S1, k + 1); STEP(S2, k + 2); STEP(S3, k + 3); STEP(S4, k + 4); STEP(S5, k + 5);
                STEP(S6, k + 6); STEP(S7, k + 7); STEP(S8, k + 8); STEP(S9, k + 9); STEP(S10, k + 10); STEP(S11, k + 11);
                STEP(S12, k + 12); STEP(S13, k + 13); STEP(S14, k + 14); STEP(S15, k + 15);
            }
            for (; k < hi; k++) ONE(k);
#undef ONE
#undef STEP
            _mm512_storeu_ps(A, S0); _mm512_storeu_ps(A + 16, S1); _mm512_storeu_ps(A + 32, S2); _mm512_storeu_ps(A + 48, S3);
            _mm512_storeu_ps(A + 64, S4); _mm512_storeu_ps(A + 80, S5); _mm512_storeu_ps(A + 96, S6); _mm512_storeu_ps(A + 112, S7);
            _mm512_storeu_ps(A + 128, S8); _mm512_storeu_ps(A + 144, S9); _mm512_storeu_ps(A + 160, S10); _mm512_storeu_ps(A + 176, S11);
            _mm512_storeu_ps(A + 192, S12); _mm512_storeu_ps(A + 208, S13); _mm512_storeu_ps(A + 224, S14); _mm512_storeu_ps(A + 240, S15);
        }
#undef ROW
    for (int u = 0; u < nq; u++) { /* rl_ggml_hsum16 over the slots */
        const float *A = acc + u * 256;
#define SL(i) _mm512_loadu_ps(A + (i) * 16)
        __m512 e0 = _mm512_add_ps(_mm512_add_ps(SL(0), SL(8)), _mm512_add_ps(SL(4), SL(12)));
        __m512 e2 = _mm512_add_ps(_mm512_add_ps(SL(2), SL(10)), _mm512_add_ps(SL(6), SL(14)));
        __m512 e1 = _mm512_add_ps(_mm512_add_ps(SL(1), SL(9)), _mm512_add_ps(SL(5), SL(13)));
        __m512 e3 = _mm512_add_ps(_mm512_add_ps(SL(3), SL(11)), _mm512_add_ps(SL(7), SL(15)));
#undef SL
        _mm512_storeu_ps(o[u], _mm512_add_ps(_mm512_add_ps(e0, e2), _mm512_add_ps(e1, e3)));
    }
}
#undef VC

/* The one-query value sums (L = 64) of nq heads sharing a KV head, columns [0, 16) of v: o[u]
 * from p[u] over cells [0, k1[u]): slot s's register holds the cells k = s mod 64 in order, then
 * the slots are folded as ggml_vec_dot_f32 folds its 4 x 16 lanes and reduced. Cells in chunks of
 * 512 (32 KiB of V, read into L1 once for all the heads), each chunk in four groups of 16 slots
 * whose registers are carried in acc (nq x 1024 floats) between chunks. */
#define VC64 512
TGT void rl_attg_vcols64_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                      const int *k1, int nq, float *acc) {
    int kmax = 0;
    for (int u = 0; u < nq; u++) {
        if (k1[u] > kmax) kmax = k1[u];
        for (int sl = 0; sl < 64; sl++) _mm512_storeu_ps(acc + u * 1024 + sl * 16, _mm512_setzero_ps());
    }
#define ROW(k) _mm512_loadu_ps(v + (int64_t)(ring ? (k) % ring : (k)) * vw)
#define STEP(r, K) r = _mm512_fmadd_ps(ROW(K), _mm512_set1_ps(pu[K]), r)
    for (int cs = 0; cs < kmax; cs += VC64)
        for (int u = 0; u < nq; u++) {
            int hi = k1[u] < cs + VC64 ? k1[u] : cs + VC64;
            if (cs >= hi) continue;
            const float *pu = p[u];
            for (int g = 0; g < 4; g++) {
                float *A = acc + u * 1024 + g * 256;
                __m512 S0 = _mm512_loadu_ps(A), S1 = _mm512_loadu_ps(A + 16), S2 = _mm512_loadu_ps(A + 32), S3 = _mm512_loadu_ps(A + 48);
                __m512 S4 = _mm512_loadu_ps(A + 64), S5 = _mm512_loadu_ps(A + 80), S6 = _mm512_loadu_ps(A + 96), S7 = _mm512_loadu_ps(A + 112);
                __m512 S8 = _mm512_loadu_ps(A + 128), S9 = _mm512_loadu_ps(A + 144), S10 = _mm512_loadu_ps(A + 160), S11 = _mm512_loadu_ps(A + 176);
                __m512 S12 = _mm512_loadu_ps(A + 192), S13 = _mm512_loadu_ps(A + 208), S14 = _mm512_loadu_ps(A + 224), S15 = _mm512_loadu_ps(A + 240);
                for (int b = cs + 16 * g; b < hi; b += 64) { /* slots 16g .. 16g+15: cells b .. b+15 */
                    if (b + 16 <= hi) {
                        STEP(S0, b); STEP(S1, b + 1); STEP(S2, b + 2); STEP(S3, b + 3); STEP(S4, b + 4); STEP(S5, b + 5);
                        STEP(S6, b + 6); STEP(S7, b + 7); STEP(S8, b + 8); STEP(S9, b + 9); STEP(S10, b + 10); STEP(S11, b + 11);
                        STEP(S12, b + 12); STEP(S13, b + 13); STEP(S14, b + 14); STEP(S15, b + 15);
                        continue;
                    }
                    for (int k = b; k < hi; k++) switch (k - b) { /* the last cells: fewer than 16 */
                        case 0: STEP(S0, k); break; case 1: STEP(S1, k); break; case 2: STEP(S2, k); break; case 3: STEP(S3, k); break;
                        case 4: STEP(S4, k); break; case 5: STEP(S5, k); break; case 6: STEP(S6, k); break; case 7: STEP(S7, k); break;
                        case 8: STEP(S8, k); break; case 9: STEP(S9, k); break; case 10: STEP(S10, k); break; case 11: STEP(S11, k); break;
                        case 12: STEP(S12, k); break; case 13: STEP(S13, k); break; default: STEP(S14, k); break;
                        }
                }
                _mm512_storeu_ps(A, S0); _mm512_storeu_ps(A + 16, S1); _mm512_storeu_ps(A + 32, S2); _mm512_storeu_ps(A + 48, S3);
                _mm512_storeu_ps(A + 64, S4); _mm512_storeu_ps(A + 80, S5); _mm512_storeu_ps(A + 96, S6); _mm512_storeu_ps(A + 112, S7);
                _mm512_storeu_ps(A + 128, S8); _mm512_storeu_ps(A + 144, S9); _mm512_storeu_ps(A + 160, S10); _mm512_storeu_ps(A + 176, S11);
                _mm512_storeu_ps(A + 192, S12); _mm512_storeu_ps(A + 208, S13); _mm512_storeu_ps(A + 224, S14); _mm512_storeu_ps(A + 240, S15);
            }
        }
#undef STEP
#undef ROW
    for (int u = 0; u < nq; u++) { /* the 4 x 16 lanes folded (0+2, 1+3, 0+1), then rl_ggml_hsum16 */
        const float *A = acc + u * 1024;
        __m512 S[16];
        for (int l = 0; l < 16; l++)
            S[l] = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(A + l * 16), _mm512_loadu_ps(A + (32 + l) * 16)),
                                 _mm512_add_ps(_mm512_loadu_ps(A + (16 + l) * 16), _mm512_loadu_ps(A + (48 + l) * 16)));
        __m512 e0 = _mm512_add_ps(_mm512_add_ps(S[0], S[8]), _mm512_add_ps(S[4], S[12]));
        __m512 e2 = _mm512_add_ps(_mm512_add_ps(S[2], S[10]), _mm512_add_ps(S[6], S[14]));
        __m512 e1 = _mm512_add_ps(_mm512_add_ps(S[1], S[9]), _mm512_add_ps(S[5], S[13]));
        __m512 e3 = _mm512_add_ps(_mm512_add_ps(S[3], S[11]), _mm512_add_ps(S[7], S[15]));
        _mm512_storeu_ps(o[u], _mm512_add_ps(_mm512_add_ps(e0, e2), _mm512_add_ps(e1, e3)));
    }
}
#undef VC64
#else
void rl_attg_vcols_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                const int *k0, const int *k1, int nq, float *acc) {
    (void)o, (void)v, (void)vw, (void)ring, (void)p, (void)k0, (void)k1, (void)nq, (void)acc;
}
void rl_attg_scores_avx512(int n, const float *k, int64_t ks, int ring, const float *q, int j0, int j1, float mul, float *s) {
    (void)n, (void)k, (void)ks, (void)ring, (void)q, (void)j0, (void)j1, (void)mul, (void)s;
}
float rl_attg_vdot_avx512(int n, const float *x, const float *y) { (void)n, (void)x, (void)y; return 0.0f; }
double rl_attg_exp_runs_avx512(float *s, int n, float mx) { (void)s, (void)n, (void)mx; return 0.0; }
void rl_attg_vcols64_batch_avx512(float *const *o, const float *v, int64_t vw, int ring, const float *const *p,
                                  const int *k1, int nq, float *acc) {
    (void)o, (void)v, (void)vw, (void)ring, (void)p, (void)k1, (void)nq, (void)acc;
}
#endif
