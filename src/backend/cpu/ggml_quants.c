/* GGUF weight types on the CPU (see ggml_quants.h): block decoders shared by dequantisation and
 * the dot products, activation quantisers (Q8_0 / Q8_1 / Q8_K) and the matmul driver. Each weight
 * block is decoded once into integers (int8 items, integer group scales and mins, f32 super
 * scales) and multiplied with every token's activation block in integers, as ggml-cpu does. */
#include "backend/cpu/ggml_quants.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QK 32
#define QKK 256
#define Q8_0_BYTES 34
#define Q8_1_BYTES 36
#define Q8_K_BYTES 292 /* f32 d, 256 int8, 16 int16 */
#define TCHUNK 64      /* tokens per accumulator chunk */

static const int8_t IQ4NL_VALUES[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static inline float h2f(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return rl_f16_to_f32(h); }

/* ---- activation quantisation (ggml's x86 rounding: scale 127 / amax, round half to even) ---- */

static float amax_of(const float *x, int n) {
    float m = 0.0f;
    for (int j = 0; j < n; j++) { float a = fabsf(x[j]); m = a > m ? a : m; }
    return m;
}

static int q8_block(const float *x, int8_t *q, float *d) {
    float amax = amax_of(x, QK);
    *d = amax / 127.0f;
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; j++) { q[j] = (int8_t)lrintf(x[j] * id); sum += q[j]; }
    return sum;
}

void rl_ggml_quantize_q8_0(const float *x, void *dst, int64_t n) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK; b++, o += Q8_0_BYTES) {
        float d;
        q8_block(x + b * QK, (int8_t *)(o + 2), &d);
        uint16_t h = rl_f32_to_f16(d);
        memcpy(o, &h, 2);
    }
}

void rl_ggml_quantize_q8_1(const float *x, void *dst, int64_t n) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK; b++, o += Q8_1_BYTES) {
        float d;
        int sum = q8_block(x + b * QK, (int8_t *)(o + 4), &d);
        uint16_t h = rl_f32_to_f16(d), s = rl_f32_to_f16(d * (float)sum);
        memcpy(o, &h, 2);
        memcpy(o + 2, &s, 2);
    }
}

static inline int nearest_int(float f) { /* ggml's round-half-even trick */
    float v = f + 12582912.f;
    int i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

void rl_ggml_quantize_q8_K(const float *x, void *dst, int64_t n) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QKK; b++, o += Q8_K_BYTES, x += QKK) {
        float max = 0, amax = 0, d = 0;
        int8_t *q = (int8_t *)(o + 4);
        int16_t bs[16];
        for (int j = 0; j < QKK; j++) { float a = fabsf(x[j]); if (a > amax) { amax = a; max = x[j]; } }
        if (amax == 0.0f) {
            memset(q, 0, QKK);
        } else {
            float iscale = -127.f / max;
            for (int j = 0; j < QKK; j++) { int v = nearest_int(iscale * x[j]); q[j] = (int8_t)(v < 127 ? v : 127); }
            d = 1 / iscale;
        }
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += q[g * 16 + j];
            bs[g] = (int16_t)s;
        }
        memcpy(o, &d, 4);
        memcpy(o + 4 + QKK, bs, sizeof bs);
    }
}

/* ---- weight block decoding ---- */

/* A decoded block: value i = (d * sc[g]) * a[i] - (dmin * mn[g]), g = i / gsz. */
typedef struct {
    int8_t a[QKK];
    int16_t sc[16], mn[16];
    float d, dmin;
    int n, gsz;        /* items, items per group */
} dblk;

static void dec_q8_0(const uint8_t *b, dblk *o) {
    o->d = h2f(b); o->dmin = 0;
    memcpy(o->a, b + 2, QK);
}
static void dec_q4_0(const uint8_t *b, dblk *o) {
    o->d = h2f(b); o->dmin = 0;
    for (int j = 0; j < 16; j++) { o->a[j] = (int8_t)((b[2 + j] & 0xF) - 8); o->a[j + 16] = (int8_t)((b[2 + j] >> 4) - 8); }
}
static void dec_q4_1(const uint8_t *b, dblk *o) {
    o->d = h2f(b); o->dmin = -h2f(b + 2);
    for (int j = 0; j < 16; j++) { o->a[j] = (int8_t)(b[4 + j] & 0xF); o->a[j + 16] = (int8_t)(b[4 + j] >> 4); }
}
static void dec_q5(const uint8_t *qhp, const uint8_t *qs, int off, dblk *o) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    for (int j = 0; j < 16; j++) {
        int h0 = (int)(((qh >> j) << 4) & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
        o->a[j] = (int8_t)(((qs[j] & 0xF) | h0) - off);
        o->a[j + 16] = (int8_t)(((qs[j] >> 4) | h1) - off);
    }
}
static void dec_q5_0(const uint8_t *b, dblk *o) { o->d = h2f(b); o->dmin = 0; dec_q5(b + 2, b + 6, 16, o); }
static void dec_q5_1(const uint8_t *b, dblk *o) { o->d = h2f(b); o->dmin = -h2f(b + 2); dec_q5(b + 4, b + 8, 0, o); }
static void dec_iq4_nl(const uint8_t *b, dblk *o) {
    o->d = h2f(b); o->dmin = 0;
    for (int j = 0; j < 16; j++) { o->a[j] = IQ4NL_VALUES[b[2 + j] & 0xF]; o->a[j + 16] = IQ4NL_VALUES[b[2 + j] >> 4]; }
}

static void dec_q2_K(const uint8_t *b, dblk *o) { /* scales[16] qs[64] d dmin */
    const uint8_t *sc = b, *qs = b + 16;
    o->d = h2f(b + 80); o->dmin = h2f(b + 82);
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) o->a[128 * k + 32 * j + l] = (int8_t)((qs[32 * k + l] >> (2 * j)) & 3);
    for (int g = 0; g < 16; g++) { o->sc[g] = sc[g] & 0xF; o->mn[g] = sc[g] >> 4; }
}

static void dec_q3_K(const uint8_t *b, dblk *o) { /* hmask[32] qs[64] scales[12] d */
    const uint8_t *hm = b, *qs = b + 32;
    o->d = h2f(b + 108); o->dmin = 0;
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < 4; s++) {
            uint8_t m = (uint8_t)(1u << (4 * h + s));
            for (int l = 0; l < 32; l++)
                o->a[128 * h + 32 * s + l] = (int8_t)(((qs[32 * h + l] >> (2 * s)) & 3) - ((hm[l] & m) ? 0 : 4));
        }
    uint32_t aux[4];
    memcpy(aux, b + 96, 12);
    const uint32_t k1 = 0x03030303, k2 = 0x0f0f0f0f, tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
    aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
    aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
    aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
    int8_t s8[16];
    memcpy(s8, aux, 16);
    for (int g = 0; g < 16; g++) { o->sc[g] = (int16_t)(s8[g] - 32); o->mn[g] = 0; }
}

/* The 6-bit scales and mins of Q4_K / Q5_K (8 each). */
static void k4_scales(const uint8_t *p, dblk *o) {
    uint32_t u[4];
    memcpy(u, p, 12);
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
    uint32_t ua = u[1] & k1;
    u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
    u[2] = ua;
    u[0] &= k1;
    uint8_t s[16];
    memcpy(s, u, 16);
    for (int g = 0; g < 8; g++) { o->sc[g] = s[g]; o->mn[g] = s[8 + g]; }
}

static void dec_q4_K(const uint8_t *b, dblk *o) { /* d dmin scales[12] qs[128] */
    o->d = h2f(b); o->dmin = h2f(b + 2);
    k4_scales(b + 4, o);
    const uint8_t *q = b + 16;
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++) {
            o->a[64 * j + l] = (int8_t)(q[32 * j + l] & 0xF);
            o->a[64 * j + 32 + l] = (int8_t)(q[32 * j + l] >> 4);
        }
}

static void dec_q5_K(const uint8_t *b, dblk *o) { /* d dmin scales[12] qh[32] qs[128] */
    o->d = h2f(b); o->dmin = h2f(b + 2);
    k4_scales(b + 4, o);
    const uint8_t *qh = b + 16, *q = b + 48;
    for (int j = 0; j < 4; j++) {
        uint8_t m0 = (uint8_t)(1u << (2 * j)), m1 = (uint8_t)(1u << (2 * j + 1));
        for (int l = 0; l < 32; l++) {
            o->a[64 * j + l] = (int8_t)((q[32 * j + l] & 0xF) + ((qh[l] & m0) ? 16 : 0));
            o->a[64 * j + 32 + l] = (int8_t)((q[32 * j + l] >> 4) + ((qh[l] & m1) ? 16 : 0));
        }
    }
}

static void dec_q6_K(const uint8_t *b, dblk *o) { /* ql[128] qh[64] scales[16] d */
    o->d = h2f(b + 208); o->dmin = 0;
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        int8_t *a = o->a + 128 * h;
        for (int l = 0; l < 32; l++) {
            a[l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            a[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            a[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            a[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
    for (int g = 0; g < 16; g++) { o->sc[g] = (int8_t)b[192 + g]; o->mn[g] = 0; }
}

typedef enum { ACT_Q8_0, ACT_Q8_1, ACT_Q8_K } act_kind;

typedef struct {
    void (*dec)(const uint8_t *, dblk *);
    int n, gsz;          /* block items, items per scale group (n for single-scale blocks) */
    act_kind act;
} tinfo;

static const tinfo *info_of(rl_dtype t) {
    static const tinfo I[RL_DT_COUNT] = {
        [RL_DT_GQ8_0] = {dec_q8_0, QK, QK, ACT_Q8_0},   [RL_DT_Q4_0] = {dec_q4_0, QK, QK, ACT_Q8_0},
        [RL_DT_Q5_0] = {dec_q5_0, QK, QK, ACT_Q8_0},    [RL_DT_IQ4_NL] = {dec_iq4_nl, QK, QK, ACT_Q8_0},
        [RL_DT_GQ4_1] = {dec_q4_1, QK, QK, ACT_Q8_1},   [RL_DT_Q5_1] = {dec_q5_1, QK, QK, ACT_Q8_1},
        [RL_DT_Q2_K] = {dec_q2_K, QKK, 16, ACT_Q8_K},   [RL_DT_Q3_K] = {dec_q3_K, QKK, 16, ACT_Q8_K},
        [RL_DT_Q4_K] = {dec_q4_K, QKK, 32, ACT_Q8_K},   [RL_DT_Q5_K] = {dec_q5_K, QKK, 32, ACT_Q8_K},
        [RL_DT_Q6_K] = {dec_q6_K, QKK, 16, ACT_Q8_K},
    };
    return (unsigned)t < RL_DT_COUNT && I[t].dec ? &I[t] : NULL;
}

static void decode(const tinfo *ti, const uint8_t *b, dblk *o) {
    o->n = ti->n;
    o->gsz = ti->gsz;
    if (ti->gsz == ti->n) { o->sc[0] = 1; o->mn[0] = 1; }
    ti->dec(b, o);
}

void rl_ggml_dequant(float *dst, const void *src, rl_dtype t, int64_t n) {
    if (t == RL_DT_GF16 || t == RL_DT_GBF16) { rl_convert_to_f32(dst, src, t == RL_DT_GF16 ? RL_DT_F16 : RL_DT_BF16, n); return; }
    const tinfo *ti = info_of(t);
    if (!ti) { memset(dst, 0, (size_t)n * sizeof *dst); return; }
    size_t bb = RL_DTYPES[t].block_bytes;
    int64_t nb = n / ti->n;
    dblk b;
    for (int64_t k = 0; k < nb; k++) {
        decode(ti, (const uint8_t *)src + k * bb, &b);
        for (int g = 0; g < ti->n / ti->gsz; g++) {
            float dl = b.d * (float)b.sc[g], ml = b.dmin * (float)b.mn[g];
            for (int i = g * ti->gsz; i < (g + 1) * ti->gsz; i++) dst[k * ti->n + i] = dl * (float)b.a[i] - ml;
        }
    }
    for (int64_t i = nb * ti->n; i < n; i++) dst[i] = 0.0f;
}

/* ---- dot products of one decoded block with one activation block ---- */

static inline int idot(const int8_t *a, const int8_t *q, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += a[i] * q[i];
    return s;
}

static inline float block_dot(const tinfo *ti, const dblk *b, const uint8_t *act) {
    switch (ti->act) {
    case ACT_Q8_0:
        return (b->d * h2f(act)) * (float)idot(b->a, (const int8_t *)(act + 2), QK);
    case ACT_Q8_1: /* d*q + m: (dx*dy)*sum + m*s, m = -dmin */
        return (b->d * h2f(act)) * (float)idot(b->a, (const int8_t *)(act + 4), QK) - b->dmin * h2f(act + 2);
    default: {
        float yd;
        memcpy(&yd, act, 4);
        const int8_t *q = (const int8_t *)(act + 4);
        int16_t bs[16];
        memcpy(bs, act + 4 + QKK, sizeof bs);
        int isum = 0, summs = 0;
        for (int g = 0; g < QKK / ti->gsz; g++) isum += b->sc[g] * idot(b->a + g * ti->gsz, q + g * ti->gsz, ti->gsz);
        if (b->dmin != 0.0f)
            for (int j = 0; j < 16; j++) summs += bs[j] * b->mn[j * 16 / ti->gsz];
        return (b->d * yd) * (float)isum - (b->dmin * yd) * (float)summs;
    }
    }
}

static size_t act_block_bytes(act_kind k) { return k == ACT_Q8_0 ? Q8_0_BYTES : k == ACT_Q8_1 ? Q8_1_BYTES : Q8_K_BYTES; }

static void quantize_act(act_kind k, const float *x, void *dst, int64_t n) {
    if (k == ACT_Q8_0) rl_ggml_quantize_q8_0(x, dst, n);
    else if (k == ACT_Q8_1) rl_ggml_quantize_q8_1(x, dst, n);
    else rl_ggml_quantize_q8_K(x, dst, n);
}

float rl_ggml_vec_dot(rl_dtype t, const void *wrow, const void *act, int n) {
    const tinfo *ti = info_of(t);
    if (!ti) return NAN;
    size_t bb = RL_DTYPES[t].block_bytes, ab = act_block_bytes(ti->act);
    float s = 0.0f;
    dblk b;
    for (int k = 0; k < n / ti->n; k++) {
        decode(ti, (const uint8_t *)wrow + k * bb, &b);
        s += block_dot(ti, &b, (const uint8_t *)act + k * ab);
    }
    return s;
}

/* ---- matmul driver ---- */

typedef struct {
    const tinfo *ti;
    const uint8_t *w, *act;
    size_t w_rb, a_rb, bb, ab;
    float *y;
    const float *bias;
    int T, in, out;
} gjob;

static void gwork(void *ctx, int64_t o0, int64_t o1, int tid) {
    (void)tid;
    const gjob *j = ctx;
    int nb = j->in / j->ti->n;
    float acc[TCHUNK];
    dblk b;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = j->w + (size_t)o * j->w_rb;
        for (int t0 = 0; t0 < j->T; t0 += TCHUNK) {
            int t1 = t0 + TCHUNK < j->T ? t0 + TCHUNK : j->T;
            for (int t = t0; t < t1; t++) acc[t - t0] = 0.0f;
            for (int k = 0; k < nb; k++) {
                decode(j->ti, wr + (size_t)k * j->bb, &b);
                for (int t = t0; t < t1; t++) acc[t - t0] += block_dot(j->ti, &b, j->act + (size_t)t * j->a_rb + (size_t)k * j->ab);
            }
            for (int t = t0; t < t1; t++) j->y[(size_t)t * j->out + o] = acc[t - t0] + (j->bias ? j->bias[o] : 0.0f);
        }
    }
}

void rl_ggml_matmul(rl_pool *p, float *y, const float *x, const void *w, rl_dtype t, const float *bias,
                    int T, int in, int out) {
    size_t n = (size_t)T * (size_t)in;
    if (t == RL_DT_GF16 || t == RL_DT_GBF16) { /* activations rounded as ggml converts them */
        float *xr = malloc(n * sizeof *xr);
        if (!xr) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
        for (size_t i = 0; i < n; i++)
            xr[i] = t == RL_DT_GF16 ? rl_f16_to_f32(rl_f32_to_f16(x[i])) : rl_bf16_to_f32(rl_f32_to_bf16(x[i]));
        rl_matmul(p, y, xr, w, t == RL_DT_GF16 ? RL_DT_F16 : RL_DT_BF16, bias, T, in, out);
        free(xr);
        return;
    }
    const tinfo *ti = info_of(t);
    if (!ti || in % ti->n) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
    gjob j = {.ti = ti, .w = w, .y = y, .bias = bias, .T = T, .in = in, .out = out};
    j.bb = RL_DTYPES[t].block_bytes;
    j.ab = act_block_bytes(ti->act);
    j.w_rb = rl_dtype_row_bytes(t, in);
    j.a_rb = (size_t)(in / ti->n) * j.ab;
    uint8_t *act = malloc((size_t)T * j.a_rb);
    if (!act) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
    for (int k = 0; k < T; k++) quantize_act(ti->act, x + (size_t)k * in, act + (size_t)k * j.a_rb, in);
    j.act = act;
    rl_pool_for(p, out, 4, gwork, &j);
    free(act);
}
