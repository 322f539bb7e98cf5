/* Integer Q8_0 / Q4_1 GEMM template (qgemm.h), instantiated per instruction set in qgemm.c. The
 * includer defines: QG(name), QGTGT (function attributes), P (int32 lanes of VI = weight rows per
 * panel), VI / VF (int / float vectors of P lanes), VI_ZERO(), VI_LOAD(p), VI_SET1(i),
 * VF_LOAD(p), VF_STORE(p,v), VF_SET1(f), VF_MUL(a,b), VF_FMA(a,b,c) = a*b+c, VF_CVT(vi),
 * DOT_U(acc, u8, s8) (acc + per-lane sum of 4 u8 x s8 products), Q8_BIAS (1: Q8_0 codes packed
 * as w+128 and run through DOT_U with the activation-sum correction; 0: signed codes through
 * DOT_S(acc, w8, x8)), MR (tokens per micro-tile); optionally QG_PACK(wt, w, rb, nb, nrows, pk), a
 * faster QG(pack) that returns 0 where it does not apply. Not a public header.
 *
 * Packed panel pair (2P weight rows), per block b of 32 items (SB bytes): for g < 8 and panel
 * v < 2 one vector of P lanes holding items 4g..4g+3 of row v*P + lane; then the 2P f32 scales
 * dw, then the 2P f32 mins (Q4_1). Rows past the matrix are zero (scale 0). Per block and token
 * the integer sums stay exact in int32 lanes; then y += f32(isum) * (dw*dx) (+ mw * sx for Q4_1),
 * the block terms of rl_qdot_ref. */
#include <string.h>

#define SB (80 * P) /* packed bytes per block of the panel pair */

static void QG(pack)(rl_dtype wt, const uint8_t *w, size_t rb, int nb, int nrows, uint8_t *pk) {
    const size_t bb = RL_DTYPES[wt].block_bytes;
    for (int r = 0; r < 2 * P; r++) {
        uint8_t *codes = pk + (size_t)(r / P) * P * 4 + (size_t)(r % P) * 4;
        float *dw = (float *)(void *)(pk + 64 * P) + r;
        for (int b = 0; b < nb; b++) {
            uint8_t it[32];
            float d = 0, m = 0;
            if (r < nrows) {
                const uint8_t *s = w + (size_t)r * rb + (size_t)b * bb;
                uint16_t h;
                memcpy(&h, s, 2);
                d = rl_f16_to_f32(h);
                if (wt == RL_DT_Q8_0) {
                    for (int k = 0; k < 32; k++) it[k] = (uint8_t)(s[2 + k] ^ (Q8_BIAS ? 0x80 : 0));
                } else {
                    memcpy(&h, s + 2, 2);
                    m = rl_f16_to_f32(h);
                    for (int k = 0; k < 16; k++) { it[k] = s[4 + k] & 15; it[k + 16] = s[4 + k] >> 4; }
                }
            } else {
                memset(it, 0, sizeof it);
            }
            uint8_t *cb = codes + (size_t)b * SB;
            for (int g = 0; g < 8; g++) memcpy(cb + (size_t)g * 2 * P * 4, it + 4 * g, 4);
            float *db = (float *)(void *)((uint8_t *)dw + (size_t)b * SB);
            db[0] = d;
            db[2 * P] = m;
        }
    }
}

/* MR_ tokens (t .. t+MR_) against the packed panel pair; writes y rows o .. o+nvalid. */
QGTGT static inline __attribute__((always_inline)) void
QG(tile)(int MR_, int q4, const uint8_t *pk, int nb, const rl_qacts *xa, int t, float *y, int out, int o,
         int nvalid, const float *bias) {
    VF f[MR][2];
    const int8_t *xq[MR];
    const float *ds[MR];
    const int32_t *qs[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        if (i < MR_) {
            f[i][0] = f[i][1] = VF_SET1(0.0f);
            xq[i] = xa->rows[t + i].q;
            ds[i] = xa->rows[t + i].ds;
            qs[i] = xa->qsum + (size_t)(t + i) * xa->nb;
        }
    for (int b = 0; b < nb; b++) {
        const uint8_t *pb = pk + (size_t)b * SB;
        VI a[MR][2];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < MR_) {
                if (!q4 && Q8_BIAS) a[i][0] = a[i][1] = VI_SET1(-128 * qs[i][b]);
                else a[i][0] = a[i][1] = VI_ZERO();
            }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            VI w0 = VI_LOAD(pb + (size_t)g * 8 * P), w1 = VI_LOAD(pb + (size_t)g * 8 * P + 4 * P);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++)
                if (i < MR_) {
                    int32_t xv;
                    memcpy(&xv, xq[i] + (size_t)b * 32 + 4 * g, 4);
                    VI xb = VI_SET1(xv);
                    if (q4 || Q8_BIAS) {
                        a[i][0] = DOT_U(a[i][0], w0, xb);
                        a[i][1] = DOT_U(a[i][1], w1, xb);
                    } else {
                        a[i][0] = DOT_S(a[i][0], w0, xb);
                        a[i][1] = DOT_S(a[i][1], w1, xb);
                    }
                }
        }
        const float *sc = (const float *)(const void *)(pb + 64 * P);
        VF dw0 = VF_LOAD(sc), dw1 = VF_LOAD(sc + P);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < MR_) {
                VF dx = VF_SET1(ds[i][2 * b]);
                f[i][0] = VF_FMA(VF_CVT(a[i][0]), VF_MUL(dw0, dx), f[i][0]);
                f[i][1] = VF_FMA(VF_CVT(a[i][1]), VF_MUL(dw1, dx), f[i][1]);
                if (q4) {
                    VF sx = VF_SET1(ds[i][2 * b + 1]);
                    f[i][0] = VF_FMA(VF_LOAD(sc + 2 * P), sx, f[i][0]);
                    f[i][1] = VF_FMA(VF_LOAD(sc + 3 * P), sx, f[i][1]);
                }
            }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        if (i < MR_) {
            _Alignas(64) float tmp[2 * P];
            VF_STORE(tmp, f[i][0]);
            VF_STORE(tmp + P, f[i][1]);
            float *yr = y + (size_t)(t + i) * out + o;
            for (int r = 0; r < nvalid; r++) yr[r] = tmp[r] + (bias ? bias[o + r] : 0.0f);
        }
}

QGTGT static void QG(tiles)(int q4, const uint8_t *pk, int nb, const rl_qacts *xa, int t0, int t1, float *y,
                            int out, int o, int nvalid, const float *bias) {
    int t = t0;
    for (; t + MR <= t1; t += MR) QG(tile)(MR, q4, pk, nb, xa, t, y, out, o, nvalid, bias);
    switch (t1 - t) { /* the tail, with its own register tile */
    case 1: QG(tile)(1, q4, pk, nb, xa, t, y, out, o, nvalid, bias); break;
    case 2: QG(tile)(2, q4, pk, nb, xa, t, y, out, o, nvalid, bias); break;
    case 3: QG(tile)(3, q4, pk, nb, xa, t, y, out, o, nvalid, bias); break;
#if MR > 4
    case 4: QG(tile)(4, q4, pk, nb, xa, t, y, out, o, nvalid, bias); break;
    case 5: QG(tile)(5, q4, pk, nb, xa, t, y, out, o, nvalid, bias); break;
#endif
    default: break;
    }
}

QGTGT void QG(rl_qgemm)(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y,
                        const float *bias, int t0, int t1, int o0, int o1, void *pack) {
    const size_t rb = rl_dtype_row_bytes(wt, in);
    const int nb = in / RL_QBLOCK;
    uint8_t *pk = pack;
    for (int o = o0; o < o1; o += 2 * P) {
        int nv = o1 - o < 2 * P ? o1 - o : 2 * P;
#ifdef QG_PACK
        if (!QG_PACK(wt, w + (size_t)o * rb, rb, nb, nv, pk))
#endif
            QG(pack)(wt, w + (size_t)o * rb, rb, nb, nv, pk);
        if (wt == RL_DT_Q4_1) QG(tiles)(1, pk, nb, xa, t0, t1, y, out, o, nv, bias);
        else QG(tiles)(0, pk, nb, xa, t0, t1, y, out, o, nv, bias);
    }
}
#undef SB
