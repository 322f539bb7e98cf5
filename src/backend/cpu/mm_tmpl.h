/* Kernel template instantiated once per instruction set (mm_scalar.c, mm_avx2.c, mm_avx512.c).
 * The includer defines: SFX(name), TGT (function attributes), V (vector type), VW (lanes),
 * V_ZERO(), V_LOAD(p), V_STORE(p,v), V_ADD(a,b), V_FMA(a,b,c) = a*b+c, V_SET1(s), V_HSUM(v),
 * V_LOAD_BF16(p), V_LOAD_F16(p) (VW halves -> f32), V_LOAD_I8(p) (VW int8 -> f32),
 * V_LOAD_U4LO(p) / V_LOAD_U4HI(p) (low / high nibbles of VW bytes -> f32), H2F(h) (one f16 bits
 * -> float), MR (tokens) and NR (rows) of the register-blocked micro-kernel, QGEMV (the integer
 * Q8_0 / Q4_1 GEMV of this instruction set, qact.h), optionally V_STORE_TILE(acc, y, ldy, first, bias)
 * (the full MR x NR tile's sums stored at once, when MR = NR = 4). Block-quantized
 * weights (Q8_0, Q4_1; dtype.h): GEMV dequantizes in registers (per block: sum x*q, times the
 * scale, plus min * sum x), GEMM dequantizes tiles to f32 in cvt. Not a public header. */
#include "backend/cpu/simd.h"
#include <string.h>

#define REP4(M) M(0) M(1) M(2) M(3)               /* compile-time unrolling helpers */
#define REP4_2(M, a) M(a, 0) M(a, 1) M(a, 2) M(a, 3)
#ifndef KC
#define KC 1024          /* reduction block (floats) of a converted weight tile */
#endif
#ifndef MM_PACK_F32
#define MM_PACK_F32 1    /* copy f32 tiles too: contiguous tile rows beat strided reads */
#endif
#ifndef OB
#define OB (4 * NR)      /* weight rows per converted tile */
#endif

#define W_LOAD(dt, w, i) ((dt) == RL_DT_F32 ? V_LOAD((const float *)(w) + (i)) \
                          : (dt) == RL_DT_BF16 ? V_LOAD_BF16((const uint16_t *)(w) + (i)) \
                          : V_LOAD_F16((const uint16_t *)(w) + (i)))

static inline float SFX(w_scalar)(rl_dtype dt, const void *w, int64_t i) {
    if (dt == RL_DT_F32) return ((const float *)w)[i];
    if (dt == RL_DT_BF16) return rl_bf16_to_f32(((const uint16_t *)w)[i]);
    return rl_f16_to_f32(((const uint16_t *)w)[i]);
}

/* f16 scale / min stored at p (blocks are only 2-byte aligned at best: read bytewise). */
TGT static inline float SFX(half_at)(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return H2F(h);
}

/* Dequantizes n items (whole blocks; a partial last block is zero-filled) of Q8_0 / Q4_1. */
TGT static void SFX(dequant)(float *dst, const uint8_t *src, rl_dtype t, int64_t n) {
    const size_t bb = RL_DTYPES[t].block_bytes;
    int64_t nb = n / RL_QBLOCK;
    for (int64_t b = 0; b < nb; b++, src += bb, dst += RL_QBLOCK) {
        V d = V_SET1(SFX(half_at)(src));
        if (t == RL_DT_Q8_0) {
            for (int i = 0; i < RL_QBLOCK; i += VW) V_STORE(dst + i, V_FMA(d, V_LOAD_I8(src + 2 + i), V_ZERO()));
        } else {
            V m = V_SET1(SFX(half_at)(src + 2));
            for (int i = 0; i < RL_QBLOCK / 2; i += VW) {
                V_STORE(dst + i, V_FMA(d, V_LOAD_U4LO(src + 4 + i), m));
                V_STORE(dst + i + RL_QBLOCK / 2, V_FMA(d, V_LOAD_U4HI(src + 4 + i), m));
            }
        }
    }
    if (n > nb * RL_QBLOCK) memset(dst, 0, (size_t)(n - nb * RL_QBLOCK) * sizeof(float));
}

TGT static void SFX(cvt)(float *dst, const void *src, rl_dtype t, int64_t n) {
    int64_t i = 0;
    if (t == RL_DT_F32) { memcpy(dst, src, (size_t)n * sizeof(float)); return; }
    if (t == RL_DT_Q8_0 || t == RL_DT_Q4_1) { SFX(dequant)(dst, src, t, n); return; }
    const uint16_t *s = src;
    if (t == RL_DT_BF16) {
        for (; i + VW <= n; i += VW) V_STORE(dst + i, V_LOAD_BF16(s + i));
        for (; i < n; i++) dst[i] = rl_bf16_to_f32(s[i]);
    } else {
        for (; i + VW <= n; i += VW) V_STORE(dst + i, V_LOAD_F16(s + i));
        for (; i < n; i++) dst[i] = rl_f16_to_f32(s[i]);
    }
}

TGT static float SFX(dot)(const float *a, const float *b, int n) {
    V s0 = V_ZERO(), s1 = V_ZERO();
    int i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        s0 = V_FMA(V_LOAD(a + i), V_LOAD(b + i), s0);
        s1 = V_FMA(V_LOAD(a + i + VW), V_LOAD(b + i + VW), s1);
    }
    for (; i + VW <= n; i += VW) s0 = V_FMA(V_LOAD(a + i), V_LOAD(b + i), s0);
    float s = V_HSUM(V_ADD(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

TGT static void SFX(axpy)(float *y, float a, const float *x, int n) {
    V av = V_SET1(a);
    int i = 0;
    for (; i + VW <= n; i += VW) V_STORE(y + i, V_FMA(av, V_LOAD(x + i), V_LOAD(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* s[i] = s[i] * a + b * x[i], then returns sum s[i] * c[i] (one Mamba-2 state row, ssm.c). */
TGT static float SFX(decay_axpy_dot)(float *s, float a, float b, const float *x, const float *c, int n) {
    V av = V_SET1(a), bv = V_SET1(b), s0 = V_ZERO(), s1 = V_ZERO();
    int i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        V u0 = V_FMA(bv, V_LOAD(x + i), V_FMA(av, V_LOAD(s + i), V_ZERO()));
        V u1 = V_FMA(bv, V_LOAD(x + i + VW), V_FMA(av, V_LOAD(s + i + VW), V_ZERO()));
        V_STORE(s + i, u0);
        V_STORE(s + i + VW, u1);
        s0 = V_FMA(u0, V_LOAD(c + i), s0);
        s1 = V_FMA(u1, V_LOAD(c + i + VW), s1);
    }
    for (; i + VW <= n; i += VW) {
        V u = V_FMA(bv, V_LOAD(x + i), V_FMA(av, V_LOAD(s + i), V_ZERO()));
        V_STORE(s + i, u);
        s0 = V_FMA(u, V_LOAD(c + i), s0);
    }
    float r = V_HSUM(V_ADD(s0, s1));
    for (; i < n; i++) { s[i] = s[i] * a + b * x[i]; r += s[i] * c[i]; }
    return r;
}

/* GEMV-style: NR_ (<= 4) rows of W (type dt, read in place) against one token x; writes bias+dot. */
TGT static inline __attribute__((always_inline)) void
SFX(gemv_rows)(int NR_, rl_dtype dt, const float *x, const void *w, int64_t ldw, int in,
               float *y, const float *bias) {
    V acc[4];
#define GV_Z(j) if ((j) < NR_) acc[j] = V_ZERO();
    REP4(GV_Z)
    int k = 0;
    const size_t es = RL_DTYPES[dt].size;
    /* the NR_ rows are short interleaved streams the hardware prefetcher does not get ahead of:
     * each step prefetches its share of the next NR_ rows (never faults past the end of W) */
    const char *pf = (const char *)w + (size_t)NR_ * ldw * es;
    for (; k + VW <= in; k += VW) {
        V xv = V_LOAD(x + k);
        if (VW > 1)
            for (size_t off = 0; off < (size_t)NR_ * VW * es; off += 64) __builtin_prefetch(pf + (size_t)k * NR_ * es + off);
#define GV_F(j) if ((j) < NR_) acc[j] = V_FMA(xv, W_LOAD(dt, w, (j) * ldw + k), acc[j]);
        REP4(GV_F)
    }
#define GV_S(j) if ((j) < NR_) { \
        float s = V_HSUM(acc[j]); \
        for (int kk = k; kk < in; kk++) s += x[kk] * SFX(w_scalar)(dt, w, (j) * ldw + kk); \
        y[j] = s + (bias ? bias[j] : 0.0f); }
    REP4(GV_S)
#undef GV_Z
#undef GV_F
#undef GV_S
}

TGT static inline __attribute__((always_inline)) void
SFX(gemv_dt)(rl_dtype dt, const rl_mm_args *a, int t0, int t1, int o0, int o1) {
    size_t es = RL_DTYPES[dt].size;
    int o = o0;
    for (; o + 4 <= o1; o += 4) {
        const void *w = (const char *)a->w + (size_t)o * a->in * es;
        for (int t = t0; t < t1; t++)
            SFX(gemv_rows)(4, dt, a->x + (size_t)t * a->in, w, a->in, a->in,
                           a->y + (size_t)t * a->out + o, a->bias ? a->bias + o : NULL);
    }
    for (; o < o1; o++) {
        const void *w = (const char *)a->w + (size_t)o * a->in * es;
        for (int t = t0; t < t1; t++)
            SFX(gemv_rows)(1, dt, a->x + (size_t)t * a->in, w, a->in, a->in,
                           a->y + (size_t)t * a->out + o, a->bias ? a->bias + o : NULL);
    }
}

/* GEMV over block-quantized W: NR_ (<= 4) rows (ldw bytes apart) against one token x
 * (in a multiple of RL_QBLOCK); writes bias + dot. The x block stays in registers for all rows. */
TGT static inline __attribute__((always_inline)) void
SFX(gemv_rows_q)(int NR_, rl_dtype dt, const float *x, const uint8_t *w, size_t ldw, int in,
                 float *y, const float *bias) {
    const size_t bb = dt == RL_DT_Q8_0 ? 2 + RL_QBLOCK : 4 + RL_QBLOCK / 2;
    V acc[4];
#define GQ_Z(j) if ((j) < NR_) acc[j] = V_ZERO();
    REP4(GQ_Z)
    const int nb = in / RL_QBLOCK;
    for (int b = 0; b < nb; b++) {
        const float *xb = x + (size_t)b * RL_QBLOCK;
        V xs = V_ZERO();
        if (dt == RL_DT_Q4_1)
            for (int i = 0; i < RL_QBLOCK; i += VW) xs = V_ADD(xs, V_LOAD(xb + i));
#define GQ_F(j) if ((j) < NR_) { \
            const uint8_t *blk = w + (j) * ldw + (size_t)b * bb; \
            V p = V_ZERO(); \
            if (dt == RL_DT_Q8_0) { \
                for (int i = 0; i < RL_QBLOCK; i += VW) p = V_FMA(V_LOAD(xb + i), V_LOAD_I8(blk + 2 + i), p); \
                acc[j] = V_FMA(p, V_SET1(SFX(half_at)(blk)), acc[j]); \
            } else { \
                for (int i = 0; i < RL_QBLOCK / 2; i += VW) { \
                    p = V_FMA(V_LOAD(xb + i), V_LOAD_U4LO(blk + 4 + i), p); \
                    p = V_FMA(V_LOAD(xb + i + RL_QBLOCK / 2), V_LOAD_U4HI(blk + 4 + i), p); \
                } \
                acc[j] = V_FMA(p, V_SET1(SFX(half_at)(blk)), acc[j]); \
                acc[j] = V_FMA(xs, V_SET1(SFX(half_at)(blk + 2)), acc[j]); \
            } }
        REP4(GQ_F)
    }
#define GQ_S(j) if ((j) < NR_) y[j] = V_HSUM(acc[j]) + (bias ? bias[j] : 0.0f);
    REP4(GQ_S)
#undef GQ_Z
#undef GQ_F
#undef GQ_S
}

TGT static inline __attribute__((always_inline)) void
SFX(gemv_q)(rl_dtype dt, const rl_mm_args *a, int t0, int t1, int o0, int o1) {
    const size_t rb = rl_dtype_row_bytes(dt, a->in);
    int o = o0;
    for (; o + 4 <= o1; o += 4) {
        const uint8_t *w = (const uint8_t *)a->w + (size_t)o * rb;
        for (int t = t0; t < t1; t++)
            SFX(gemv_rows_q)(4, dt, a->x + (size_t)t * a->in, w, rb, a->in,
                             a->y + (size_t)t * a->out + o, a->bias ? a->bias + o : NULL);
    }
    for (; o < o1; o++) {
        const uint8_t *w = (const uint8_t *)a->w + (size_t)o * rb;
        for (int t = t0; t < t1; t++)
            SFX(gemv_rows_q)(1, dt, a->x + (size_t)t * a->in, w, rb, a->in,
                             a->y + (size_t)t * a->out + o, a->bias ? a->bias + o : NULL);
    }
}

TGT static void SFX(gemv)(const rl_mm_args *a, int t0, int t1, int o0, int o1) {
    switch (a->wtype) {
    case RL_DT_Q8_0: SFX(gemv_q)(RL_DT_Q8_0, a, t0, t1, o0, o1); break;
    case RL_DT_Q4_1: SFX(gemv_q)(RL_DT_Q4_1, a, t0, t1, o0, o1); break;
    case RL_DT_F32: SFX(gemv_dt)(RL_DT_F32, a, t0, t1, o0, o1); break;
    case RL_DT_BF16: SFX(gemv_dt)(RL_DT_BF16, a, t0, t1, o0, o1); break;
    default: SFX(gemv_dt)(RL_DT_F16, a, t0, t1, o0, o1); break;
    }
}

/* Micro-kernel: MR_ (<= 4) tokens x NR_ (<= 4) rows over kc reduction elements of f32 x (stride
 * ldx) and f32 W tile (stride ldw). first: y = bias + sum (bias may be NULL), else y += sum.
 * Loops over i/j are spelled out with REP4 so the accumulators live in registers. */
TGT static inline __attribute__((always_inline)) void
SFX(mk)(int MR_, int NR_, const float *x, int64_t ldx, const float *w, int64_t ldw, float *y,
        int64_t ldy, int kc, int first, const float *bias) {
    V acc[4][4], wv[4];
#define MK_Z2(i, j) if ((i) < MR_ && (j) < NR_) acc[i][j] = V_ZERO();
#define MK_Z(i) REP4_2(MK_Z2, i)
    REP4(MK_Z)
    int k = 0;
    for (; k + VW <= kc; k += VW) {
#define MK_W(j) if ((j) < NR_) wv[j] = V_LOAD(w + (j) * ldw + k);
        REP4(MK_W)
#define MK_F2(i, j) if ((i) < MR_ && (j) < NR_) acc[i][j] = V_FMA(xv, wv[j], acc[i][j]);
#define MK_F(i) if ((i) < MR_) { V xv = V_LOAD(x + (i) * ldx + k); REP4_2(MK_F2, i) }
        REP4(MK_F)
    }
#ifdef V_STORE_TILE
    if (MR_ == 4 && NR_ == 4 && k == kc) { V_STORE_TILE(acc, y, ldy, first, bias); return; }
#endif
#define MK_S2(i, j) if ((i) < MR_ && (j) < NR_) { \
        float s = V_HSUM(acc[i][j]); \
        for (int kk = k; kk < kc; kk++) s += x[(i) * ldx + kk] * w[(j) * ldw + kk]; \
        float *d = y + (i) * ldy + (j); \
        if (first) *d = s + (bias ? bias[j] : 0.0f); \
        else *d += s; }
#define MK_S(i) REP4_2(MK_S2, i)
    REP4(MK_S)
#undef MK_Z2
#undef MK_Z
#undef MK_W
#undef MK_F2
#undef MK_F
#undef MK_S2
#undef MK_S
}

TGT static void SFX(mk_full)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y,
                             int64_t ldy, int kc, int first, const float *bias) {
    SFX(mk)(MR, NR, x, ldx, w, ldw, y, ldy, kc, first, bias);
}
TGT static void SFX(mk_m1)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y,
                           int64_t ldy, int kc, int first, const float *bias) {
    SFX(mk)(MR, 1, x, ldx, w, ldw, y, ldy, kc, first, bias);
}
TGT static void SFX(mk_1n)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y,
                           int64_t ldy, int kc, int first, const float *bias) {
    SFX(mk)(1, NR, x, ldx, w, ldw, y, ldy, kc, first, bias);
}
TGT static void SFX(mk_11)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y,
                           int64_t ldy, int kc, int first, const float *bias) {
    SFX(mk)(1, 1, x, ldx, w, ldw, y, ldy, kc, first, bias);
}

/* GEMM-style: per KC x OB weight tile (converted to f32 once), all tokens [t0,t1). */
TGT static void SFX(gemm)(const rl_mm_args *a, int t0, int t1, int o0, int o1) {
    float buf[OB * KC] __attribute__((aligned(64)));
    const int in = a->in, out = a->out;
    const size_t rb = rl_dtype_row_bytes(a->wtype, in); /* bytes per W row */
    for (int k0 = 0; k0 < in; k0 += KC) {
        int kc = in - k0 < KC ? in - k0 : KC, first = k0 == 0;
        for (int ob = o0; ob < o1; ob += OB) {
            int nb = o1 - ob < OB ? o1 - ob : OB;
            const float *wp;
            int64_t ldw;
            if (a->wtype == RL_DT_F32 && !MM_PACK_F32) {
                wp = (const float *)a->w + (size_t)ob * in + k0;
                ldw = in;
            } else {
                for (int r = 0; r < nb; r++)
                    SFX(cvt)(buf + (size_t)r * KC,
                             (const char *)a->w + (size_t)(ob + r) * rb + rl_dtype_row_bytes(a->wtype, k0),
                             a->wtype, kc);
                wp = buf;
                ldw = KC;
            }
            const float *bias = first && a->bias ? a->bias + ob : NULL;
            /* the next tile's weight rows, a few cache lines per micro-kernel call, so that its
             * conversion finds them in cache (rows of the next row block, or of the next slice) */
            const int nob = ob + OB < o1 ? ob + OB : o0, nk0 = ob + OB < o1 ? k0 : k0 + KC;
            const int nnb = nob + OB < o1 ? OB : o1 - nob;
            const size_t seg = nk0 < in ? rl_dtype_row_bytes(a->wtype, (in - nk0 < KC ? in - nk0 : KC)) : 0;
            const size_t lpr = (seg + 63) / 64, nlines = lpr * (size_t)nnb;
            const char *nw = (const char *)a->w + (size_t)nob * rb + (nk0 < in ? rl_dtype_row_bytes(a->wtype, nk0) : 0);
            size_t pl = 0;
            int t = t0;
            for (; t + MR <= t1; t += MR) {
                const float *x = a->x + (size_t)t * in + k0;
                float *y = a->y + (size_t)t * out + ob;
                int j = 0;
                for (; j + NR <= nb; j += NR) {
                    for (int q = 0; q < 8 && pl < nlines; q++, pl++)
                        __builtin_prefetch(nw + (pl / lpr) * rb + (pl % lpr) * 64, 0, 3);
                    SFX(mk_full)(x, in, wp + j * ldw, ldw, y + j, out, kc, first, bias ? bias + j : NULL);
                }
                for (; j < nb; j++)
                    SFX(mk_m1)(x, in, wp + j * ldw, ldw, y + j, out, kc, first, bias ? bias + j : NULL);
            }
            for (; t < t1; t++) {
                const float *x = a->x + (size_t)t * in + k0;
                float *y = a->y + (size_t)t * out + ob;
                int j = 0;
                for (; j + NR <= nb; j += NR)
                    SFX(mk_1n)(x, in, wp + j * ldw, ldw, y + j, out, kc, first, bias ? bias + j : NULL);
                for (; j < nb; j++)
                    SFX(mk_11)(x, in, wp + j * ldw, ldw, y + j, out, kc, first, bias ? bias + j : NULL);
            }
        }
    }
}

/* y[i][j] (= or +=) sum_k x[i][k] * w[j][k] for i < M, j < N over K; f32 everything (the tiles
 * of the tiled attention: scores Q K^T, and P V with V transposed). */
TGT static void SFX(gemm_nt)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y, int64_t ldy,
                             int M, int N, int K, int accumulate) {
    int i = 0;
    for (; i + MR <= M; i += MR) {
        int j = 0;
        for (; j + NR <= N; j += NR) SFX(mk_full)(x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, K, !accumulate, NULL);
        for (; j < N; j++) SFX(mk_m1)(x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, K, !accumulate, NULL);
    }
    for (; i < M; i++) {
        int j = 0;
        for (; j + NR <= N; j += NR) SFX(mk_1n)(x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, K, !accumulate, NULL);
        for (; j < N; j++) SFX(mk_11)(x + i * ldx, ldx, w + j * ldw, ldw, y + i * ldy + j, ldy, K, !accumulate, NULL);
    }
}

/* y[i][:N] += sum_k x[i][k] * b[k][:N] for i < M (b row-major: the value rows of the tiled
 * attention, read in place): 4 rows x 4 vectors of y in registers, each b row loaded once per 4
 * rows; column tails by single vectors, then scalars. */
TGT static void SFX(gemm_nn_acc)(const float *x, int64_t ldx, const float *b, int64_t ldb, float *y, int64_t ldy,
                                 int M, int N, int K) {
    int i = 0;
    for (; i + 4 <= M; i += 4) {
        int j = 0;
        for (; j + 4 * VW <= N; j += 4 * VW) {
            V a[4][4];
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 4; v++) a[r][v] = V_LOAD(y + (i + r) * ldy + j + v * VW);
            for (int k = 0; k < K; k++) {
                const float *br = b + k * ldb + j;
                V b0 = V_LOAD(br), b1 = V_LOAD(br + VW), b2 = V_LOAD(br + 2 * VW), b3 = V_LOAD(br + 3 * VW);
                for (int r = 0; r < 4; r++) {
                    V xs = V_SET1(x[(i + r) * ldx + k]);
                    a[r][0] = V_FMA(xs, b0, a[r][0]); a[r][1] = V_FMA(xs, b1, a[r][1]);
                    a[r][2] = V_FMA(xs, b2, a[r][2]); a[r][3] = V_FMA(xs, b3, a[r][3]);
                }
            }
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 4; v++) V_STORE(y + (i + r) * ldy + j + v * VW, a[r][v]);
        }
        for (; j + VW <= N; j += VW) {
            V a0 = V_LOAD(y + i * ldy + j), a1 = V_LOAD(y + (i + 1) * ldy + j), a2 = V_LOAD(y + (i + 2) * ldy + j),
              a3 = V_LOAD(y + (i + 3) * ldy + j);
            for (int k = 0; k < K; k++) {
                V bv = V_LOAD(b + k * ldb + j);
                a0 = V_FMA(V_SET1(x[i * ldx + k]), bv, a0);
                a1 = V_FMA(V_SET1(x[(i + 1) * ldx + k]), bv, a1);
                a2 = V_FMA(V_SET1(x[(i + 2) * ldx + k]), bv, a2);
                a3 = V_FMA(V_SET1(x[(i + 3) * ldx + k]), bv, a3);
            }
            V_STORE(y + i * ldy + j, a0); V_STORE(y + (i + 1) * ldy + j, a1);
            V_STORE(y + (i + 2) * ldy + j, a2); V_STORE(y + (i + 3) * ldy + j, a3);
        }
        for (; j < N; j++)
            for (int r = 0; r < 4; r++) {
                float acc = y[(i + r) * ldy + j];
                for (int k = 0; k < K; k++) acc += x[(i + r) * ldx + k] * b[k * ldb + j];
                y[(i + r) * ldy + j] = acc;
            }
    }
    for (; i < M; i++) {
        int j = 0;
        for (; j + VW <= N; j += VW) {
            V a0 = V_LOAD(y + i * ldy + j);
            for (int k = 0; k < K; k++) a0 = V_FMA(V_SET1(x[i * ldx + k]), V_LOAD(b + k * ldb + j), a0);
            V_STORE(y + i * ldy + j, a0);
        }
        for (; j < N; j++) {
            float acc = y[i * ldy + j];
            for (int k = 0; k < K; k++) acc += x[i * ldx + k] * b[k * ldb + j];
            y[i * ldy + j] = acc;
        }
    }
}

const rl_simd_impl SFX(rl_simd) = {
    .name = SFX_NAME,
    .gemv = SFX(gemv),
    .gemm = SFX(gemm),
    .dot = SFX(dot),
    .axpy = SFX(axpy),
    .decay_axpy_dot = SFX(decay_axpy_dot),
    .cvt = SFX(cvt),
    .qgemv = QGEMV,
    .qgemm = QGEMM,
    .gemm_nt = SFX(gemm_nt),
    .exp_shift = SFX(exp_shift),
    .decay_exp_axpy_dot = SFX(decay_exp_axpy_dot),
    .silu_mul = SFX(silu_mul),
    .gemm_nn_acc = SFX(gemm_nn_acc),
};
