/* BF16-compute GEMM for few tokens (--compute bf16 sweeps of 4..15 tokens: batched decode,
 * speculative verification), where mm_bf16.c's 16 token lanes would mostly idle: activations
 * rounded to bf16 once per op, then a register-blocked (4 tokens x 4 rows) dot-product
 * micro-kernel on VDPBF16PS (AVX512-BF16: 32 bf16 products summed into 16 f32 lanes per
 * instruction), weights read in place in KC-long slices that stay in L1 across the token loop.
 * Selected by matmul.c only on CPUs with AVX512-BF16. */
#include "backend/cpu/mm_bf16.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>
#include "backend/cpu/zmm_red.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512bf16,avx2,fma")))
#define KC 1024 /* reduction slice (bf16 items): 16 rows x 2 KiB stay in L1 */
#define OB 16   /* rows per slice */
#define REP4(M) M(0) M(1) M(2) M(3)
#define REP4_2(M, a) M(a, 0) M(a, 1) M(a, 2) M(a, 3)

TGT void rl_bf16_round_row(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)v);
    }
    for (; i < n; i++) dst[i] = rl_f32_to_bf16(src[i]);
}

/* MR_ tokens x NR_ rows over kc items (x rows ldx apart, w rows ldw apart, bf16); first: y =
 * bias + sum, else y += sum. The last partial 32-item step uses zero-filling masked loads. */
TGT static inline __attribute__((always_inline)) void
mk(int MR_, int NR_, const uint16_t *x, int64_t ldx, const uint16_t *w, int64_t ldw, float *y, int64_t ldy, int kc,
   int first, const float *bias) {
    __m512 acc[4][4];
    __m512bh wv[4];
#define Z2(i, j) if ((i) < MR_ && (j) < NR_) acc[i][j] = _mm512_setzero_ps();
#define Z(i) REP4_2(Z2, i)
    REP4(Z)
    for (int k = 0; k < kc; k += 32) {
        __mmask32 m = kc - k >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (kc - k)) - 1);
#define LW(j) if ((j) < NR_) wv[j] = (__m512bh)_mm512_maskz_loadu_epi16(m, w + (j) * ldw + k);
        REP4(LW)
#define F2(i, j) if ((i) < MR_ && (j) < NR_) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
#define F(i) if ((i) < MR_) { __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(m, x + (i) * ldx + k); REP4_2(F2, i) }
        REP4(F)
    }
    if (MR_ == 4 && NR_ == 4) { zmm_store4x4(acc, y, ldy, first, bias); return; }
#define S2(i, j) if ((i) < MR_ && (j) < NR_) { \
        float s = _mm512_reduce_add_ps(acc[i][j]); \
        float *d = y + (i) * ldy + (j); \
        if (first) *d = s + (bias ? bias[j] : 0.0f); else *d += s; }
#define S(i) REP4_2(S2, i)
    REP4(S)
#undef Z2
#undef Z
#undef LW
#undef F2
#undef F
#undef S2
#undef S
}

#define MKFN(name, a, b) \
    TGT static void name(const uint16_t *x, int64_t ldx, const uint16_t *w, int64_t ldw, float *y, int64_t ldy, \
                         int kc, int first, const float *bias) { mk(a, b, x, ldx, w, ldw, y, ldy, kc, first, bias); }
MKFN(mk44, 4, 4)
MKFN(mk41, 4, 1)
MKFN(mk14, 1, 4)
MKFN(mk11, 1, 1)

TGT void rl_gemm_bf16_dot(const rl_mm_args *a, const uint16_t *xb, int t0, int t1, int o0, int o1) {
    const int in = a->in, out = a->out;
    const uint16_t *W = a->w;
    for (int k0 = 0; k0 < in; k0 += KC) {
        int kc = in - k0 < KC ? in - k0 : KC, first = k0 == 0;
        for (int ob = o0; ob < o1; ob += OB) {
            int nb = o1 - ob < OB ? o1 - ob : OB;
            const uint16_t *wp = W + (size_t)ob * in + k0;
            const float *bias = first && a->bias ? a->bias + ob : NULL;
            int t = t0;
            for (; t + 4 <= t1; t += 4) {
                const uint16_t *x = xb + (size_t)t * in + k0;
                float *y = a->y + (size_t)t * out + ob;
                int j = 0;
                for (; j + 4 <= nb; j += 4) mk44(x, in, wp + (size_t)j * in, in, y + j, out, kc, first, bias ? bias + j : NULL);
                for (; j < nb; j++) mk41(x, in, wp + (size_t)j * in, in, y + j, out, kc, first, bias ? bias + j : NULL);
            }
            for (; t < t1; t++) {
                const uint16_t *x = xb + (size_t)t * in + k0;
                float *y = a->y + (size_t)t * out + ob;
                int j = 0;
                for (; j + 4 <= nb; j += 4) mk14(x, in, wp + (size_t)j * in, in, y + j, out, kc, first, bias ? bias + j : NULL);
                for (; j < nb; j++) mk11(x, in, wp + (size_t)j * in, in, y + j, out, kc, first, bias ? bias + j : NULL);
            }
        }
    }
}
#else
void rl_bf16_round_row(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = rl_f32_to_bf16(src[i]);
}
void rl_gemm_bf16_dot(const rl_mm_args *a, const uint16_t *xb, int t0, int t1, int o0, int o1) {
    (void)a; (void)xb; (void)t0; (void)t1; (void)o0; (void)o1; /* never selected off x86 */
}
#endif
