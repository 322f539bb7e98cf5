/* BF16-compute GEMM for BF16 weights (--compute bf16), an outer product on VDPBF16PS (AVX512-BF16:
 * per f32 lane, the sum of two bf16 products). The activations are rounded to bf16 and packed
 * once per op with tokens across the lanes (lane t of pair p = token t's items 2p, 2p+1; groups
 * of 64 tokens); the weights are read in place, each row's item pair broadcast. A tile is up to
 * 64 tokens (4 registers) x 6..12 rows: 24 accumulators, about 0.4 loads per VDPBF16PS, no
 * horizontal sums. The tile sums land transposed (row-major over tokens) in a per-thread scratch,
 * turned into y's token rows once per work item. Selected by matmul.c only on CPUs with
 * AVX512-BF16. */
#include "backend/cpu/mm_bf16.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>
#include "backend/cpu/zmm_tr.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512bf16,avx2,fma")))
#define INL __attribute__((always_inline)) inline
#define KC 512 /* items per reduction slice: 64 tokens' packed slice = 64 KiB, one weight row's 1 KiB */
#define TG 64  /* tokens per packed group (4 registers) */

static int64_t npairs(int in) { return (in + 1) / 2; }

size_t rl_bf16_acts_bytes(int T, int in) { return (size_t)((T + 15) & ~15) * (size_t)npairs(in) * 4; }

size_t rl_bf16_scratch_bytes(int rows, int T) { return (size_t)rows * (size_t)((T + 15) & ~15) * 4; }

/* Packed pair p of tokens [g*TG, g*TG + width) starts at xp + g*TG*np + p*width (dwords). */
static INL uint32_t *group_base(uint32_t *xp, int64_t np, int g) { return xp + (size_t)g * TG * np; }
static INL int group_width(int Tp, int g) { return Tp - g * TG < TG ? Tp - g * TG : TG; }

/* 16 tokens [t, t+16) (rows past T zero) x 32 items [c, c+32) (items past in zero), rounded to
 * bf16 (nearest even) and transposed into 16 packed pairs. */
TGT static void pack16(uint32_t *xp, const float *x, int T, int in, int Tp, int t, int c) {
    const int64_t np = npairs(in);
    const int g = t / TG, w = group_width(Tp, g);
    __mmask16 m0 = in - c >= 16 ? 0xffff : in - c <= 0 ? 0 : (__mmask16)((1u << (in - c)) - 1);
    __mmask16 m1 = in - c - 16 >= 16 ? 0xffff : in - c - 16 <= 0 ? 0 : (__mmask16)((1u << (in - c - 16)) - 1);
    __m512i r[16];
    for (int i = 0; i < 16; i++) {
        if (t + i >= T) { r[i] = _mm512_setzero_si512(); continue; }
        const float *s = x + (size_t)(t + i) * in + c;
        r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, s + 16), _mm512_maskz_loadu_ps(m0, s));
    }
    zmm_tr16(r);
    int n = (int)(np - c / 2) < 16 ? (int)(np - c / 2) : 16;
    uint32_t *d = group_base(xp, np, g) + (size_t)(c / 2) * w + (t - g * TG);
    for (int p = 0; p < n; p++) _mm512_storeu_si512((void *)(d + (size_t)p * w), r[p]);
}

void rl_bf16_pack_acts(uint32_t *xp, const float *x, int T, int in, int t0, int t1) {
    const int Tp = (T + 15) & ~15;
    for (int t = t0 & ~15; t < t1; t += 16)
        for (int c = 0; c < in; c += 32) pack16(xp, x, T, in, Tp, t, c);
}

static INL int ld_pair(const uint16_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (int)v;
}

/* Rows r[0..MR_) (pointers into W at this slice) x NT_ 16-token registers over nkp pairs (xg:
 * the group's pair p at xg + p*w); odd: one more item (the row's last) with a zero partner.
 * Sums start from 0 (first) or yt, and go to yt (rows ldt apart); rows past nv not stored. */
TGT static INL void mk(int NT_, int MR_, const uint32_t *xg, int64_t w, const uint16_t *const *r, int nkp, int odd,
                       float *yt, int64_t ldt, int nv, int first) {
#define R12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define DECL(i) __m512 a##i##0, a##i##1, a##i##2, a##i##3;
    R12(DECL)
#define INIT1(i, j) if ((j) < NT_) a##i##j = first ? _mm512_setzero_ps() : _mm512_loadu_ps(yt + (size_t)(i) * ldt + 16 * (j));
#define INIT(i) if ((i) < MR_) { INIT1(i, 0) INIT1(i, 1) INIT1(i, 2) INIT1(i, 3) }
    R12(INIT)
    const uint16_t *r0 = r[0], *r1 = r[MR_ > 1], *r2 = r[MR_ > 2 ? 2 : 0], *r3 = r[MR_ > 3 ? 3 : 0];
    const uint16_t *r4 = r[MR_ > 4 ? 4 : 0], *r5 = r[MR_ > 5 ? 5 : 0], *r6 = r[MR_ > 6 ? 6 : 0], *r7 = r[MR_ > 7 ? 7 : 0];
    const uint16_t *r8 = r[MR_ > 8 ? 8 : 0], *r9 = r[MR_ > 9 ? 9 : 0], *r10 = r[MR_ > 10 ? 10 : 0], *r11 = r[MR_ > 11 ? 11 : 0];
#define FMA1(i, j) if ((j) < NT_) a##i##j = _mm512_dpbf16_ps(a##i##j, b, x##j);
#define FMA(i) if ((i) < MR_) { \
        __m512bh b = (__m512bh)_mm512_set1_epi32(WORD(r##i)); \
        FMA1(i, 0) FMA1(i, 1) FMA1(i, 2) FMA1(i, 3) }
#define LOADX(p) \
        const uint32_t *xq = xg + (size_t)(p) * w; \
        __m512bh x0 = (__m512bh)_mm512_loadu_si512(xq), x1 = x0, x2 = x0, x3 = x0; \
        if (NT_ > 1) x1 = (__m512bh)_mm512_loadu_si512(xq + 16); \
        if (NT_ > 2) x2 = (__m512bh)_mm512_loadu_si512(xq + 32); \
        if (NT_ > 3) x3 = (__m512bh)_mm512_loadu_si512(xq + 48);
    int p = 0;
    for (; p < nkp; p++) {
        LOADX(p)
#define WORD(rp) ld_pair((rp) + 2 * p)
        R12(FMA)
#undef WORD
    }
    if (odd) { /* the last item alone: its pair's second half is zero on both sides */
        LOADX(p)
#define WORD(rp) ((int)(rp)[2 * p])
        R12(FMA)
#undef WORD
    }
#define ST1(i, j) if ((j) < NT_) _mm512_storeu_ps(yt + (size_t)(i) * ldt + 16 * (j), a##i##j);
#define ST(i) if ((i) < MR_ && (i) < nv) { ST1(i, 0) ST1(i, 1) ST1(i, 2) ST1(i, 3) }
    R12(ST)
#undef R12
#undef DECL
#undef INIT1
#undef INIT
#undef FMA1
#undef FMA
#undef LOADX
#undef ST1
#undef ST
}

#define MKFN(nt, mr) \
    TGT static void mk##nt(const uint32_t *xg, int64_t w, const uint16_t *const *r, int nkp, int odd, float *yt, \
                           int64_t ldt, int nv, int first) { mk(nt, mr, xg, w, r, nkp, odd, yt, ldt, nv, first); }
MKFN(1, 12)
MKFN(2, 12)
MKFN(3, 8)
MKFN(4, 6)
typedef void (*mk_fn)(const uint32_t *, int64_t, const uint16_t *const *, int, int, float *, int64_t, int, int);
static const mk_fn MK[5] = {NULL, mk1, mk2, mk3, mk4};
static const int MR[5] = {0, 12, 12, 8, 6};

/* y[t][o] (+ bias[o]) = yt[o - o0][t - t0] for t < t1 (tokens ldt apart in yt). */
TGT static void untranspose(const rl_mm_args *a, const float *yt, int64_t ldt, int t0, int t1, int o0, int o1) {
    int o = o0;
    for (; o + 16 <= o1; o += 16) {
        __m512 bv = a->bias ? _mm512_loadu_ps(a->bias + o) : _mm512_setzero_ps();
        int t = t0;
        for (; t + 16 <= t1; t += 16) {
            __m512i r[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512((const void *)(yt + (size_t)(o - o0 + i) * ldt + (t - t0)));
            zmm_tr16(r);
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(a->y + (size_t)(t + i) * a->out + o, _mm512_add_ps((__m512)r[i], bv));
        }
        for (; t < t1; t++)
            for (int i = 0; i < 16; i++)
                a->y[(size_t)t * a->out + o + i] = yt[(size_t)(o - o0 + i) * ldt + (t - t0)] + (a->bias ? a->bias[o + i] : 0.0f);
    }
    for (; o < o1; o++)
        for (int t = t0; t < t1; t++)
            a->y[(size_t)t * a->out + o] = yt[(size_t)(o - o0) * ldt + (t - t0)] + (a->bias ? a->bias[o] : 0.0f);
}

TGT void rl_gemm_bf16(const rl_mm_args *a, const uint32_t *xp, float *yt, int t0, int t1, int o0, int o1) {
    const int in = a->in, Tp = (a->T + 15) & ~15, t1p = (t1 + 15) & ~15;
    const int64_t np = npairs(in), ldt = t1p - t0;
    const uint16_t *W = a->w;
    for (int k0 = 0; k0 < in; k0 += KC) {
        const int kc = in - k0 < KC ? in - k0 : KC, nkp = kc / 2, odd = kc & 1, first = k0 == 0;
        for (int t = t0; t < t1p; t += TG) { /* t0 is a multiple of TG */
            const int g = t / TG, w = group_width(Tp, g), nt = (t1p - t < w ? t1p - t : w) / 16, mr = MR[nt];
            const uint32_t *xg = group_base((uint32_t *)xp, np, g) + (size_t)(k0 / 2) * w;
            for (int ob = o0; ob < o1; ob += mr) {
                const int nv = o1 - ob < mr ? o1 - ob : mr;
                const uint16_t *rows[12];
                for (int i = 0; i < mr; i++) rows[i] = W + (size_t)(ob + (i < nv ? i : 0)) * in + k0;
                MK[nt](xg, w, rows, nkp, odd, yt + (size_t)(ob - o0) * ldt + (t - t0), ldt, nv, first);
            }
        }
    }
    untranspose(a, yt, ldt, t0, t1, o0, o1);
}
#else
size_t rl_bf16_acts_bytes(int T, int in) { (void)T; (void)in; return 0; }
size_t rl_bf16_scratch_bytes(int rows, int T) { (void)rows; (void)T; return 0; }
void rl_bf16_pack_acts(uint32_t *xp, const float *x, int T, int in, int t0, int t1) {
    (void)xp; (void)x; (void)T; (void)in; (void)t0; (void)t1; /* never selected off x86 */
}
void rl_gemm_bf16(const rl_mm_args *a, const uint32_t *xp, float *yt, int t0, int t1, int o0, int o1) {
    (void)a; (void)xp; (void)yt; (void)t0; (void)t1; (void)o0; (void)o1;
}
#endif
