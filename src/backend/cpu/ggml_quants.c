/* GGUF weight types on the CPU (see ggml_quants.h): activation quantisers (Q8_0 / Q8_1 / Q8_K),
 * dequantisation and the matmul driver. The block decoders and dot products live in gq_tmpl.h,
 * instantiated per instruction set (gq_scalar.c, gq_avx2.c, gq_avx512.c) and picked with the
 * matmul's SIMD path (rl_simd_name). Each weight block is decoded once into integers (int8 items,
 * integer group scales and mins, f32 super scales) and multiplied with every token's activation
 * block in integers, as ggml-cpu does. */
#include "backend/cpu/ggml_quants.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/gq_internal.h"
#include <math.h>
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* ggml's rounding steps, not fused ones (gcc does not fuse in C11 mode) */
#endif
#include <stdlib.h>
#include <string.h>

#define QK GQ_QK
#define QKK GQ_QKK
#define Q8_0_BYTES GQ_Q8_0_BYTES
#define Q8_1_BYTES GQ_Q8_1_BYTES
#define Q8_K_BYTES GQ_Q8_K_BYTES

/* The instantiation for the SIMD path in use: its VNNI variants ("avx512vnni", "avxvnni") differ
 * only in the 8/4-bit kernels of matmul.c, so they take the AVX-512 / AVX2 one (bit-identical
 * results on every path: tests/backend/test_ggml_quants.c). */
static int simd_level(void) {
    const char *s = rl_simd_name();
    return !strncmp(s, "avx512", 6) ? 2 : !strcmp(s, "avx2") || !strcmp(s, "avxvnni") ? 1 : 0;
}

/* ---- activation quantisation (ggml's x86 rounding: scale 127 / amax, round half to even) ---- */

static float amax_of(const float *x, int n) {
    float m = 0.0f;
    for (int j = 0; j < n; j++) { float a = fabsf(x[j]); m = a > m ? a : m; }
    return m;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* q8_block in AVX-512 registers: the same max, the same product x * id, rounded by vcvtps2dq in
 * the default mode (nearest even, as lrintf): the same codes. */
__attribute__((target("avx512f"))) static int q8_block_zmm(const float *x, int8_t *q, float *d) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    *d = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, id)), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, id));
    _mm_storeu_si128((__m128i *)(void *)q, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(void *)(q + 16), _mm512_cvtepi32_epi8(q1));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}
#endif

static int q8_block(const float *x, int8_t *q, float *d) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (simd_level() == 2) return q8_block_zmm(x, q, d);
#endif
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

gq_info rl_gq_info(rl_dtype t) {
    switch (t) {
    case RL_DT_GQ8_0: case RL_DT_Q4_0: case RL_DT_Q5_0: case RL_DT_IQ4_NL: case RL_DT_GMXFP4: return (gq_info){QK, QK, GQ_ACT_Q8_0};
    case RL_DT_GQ4_1: case RL_DT_Q5_1: return (gq_info){QK, QK, GQ_ACT_Q8_1};
    case RL_DT_Q2_K: case RL_DT_Q3_K: case RL_DT_Q6_K: return (gq_info){QKK, 16, GQ_ACT_Q8_K};
    case RL_DT_Q4_K: case RL_DT_Q5_K: return (gq_info){QKK, 32, GQ_ACT_Q8_K};
    default: return (gq_info){0, 0, GQ_ACT_Q8_0};
    }
}

void rl_ggml_dequant(float *dst, const void *src, rl_dtype t, int64_t n) {
    if (t == RL_DT_GF16 || t == RL_DT_GBF16) { rl_convert_to_f32(dst, src, t == RL_DT_GF16 ? RL_DT_F16 : RL_DT_BF16, n); return; }
    gq_info ti = rl_gq_info(t);
    if (!ti.n) { memset(dst, 0, (size_t)n * sizeof *dst); return; }
    size_t bb = RL_DTYPES[t].block_bytes;
    int64_t nb = n / ti.n;
    gq_blk b;
    for (int64_t k = 0; k < nb; k++) {
        rl_gq_decode_scalar(t, (const uint8_t *)src + k * bb, &b);
        for (int g = 0; g < ti.n / ti.gsz; g++) {
            float dl = b.d * (float)b.sc[g], ml = b.dmin * (float)b.mn[g];
            for (int i = g * ti.gsz; i < (g + 1) * ti.gsz; i++) dst[k * ti.n + i] = dl * (float)b.a[i] - ml;
        }
    }
    for (int64_t i = nb * ti.n; i < n; i++) dst[i] = 0.0f;
}

static void quantize_act(gq_act k, const float *x, void *dst, int64_t n) {
    if (k == GQ_ACT_Q8_0) rl_ggml_quantize_q8_0(x, dst, n);
    else if (k == GQ_ACT_Q8_1) rl_ggml_quantize_q8_1(x, dst, n);
    else rl_ggml_quantize_q8_K(x, dst, n);
}

/* Activation rows [b, e) quantised on the pool. */
typedef struct {
    gq_act k;
    const float *x;
    uint8_t *act;
    size_t a_rb;
    int in;
} qa_job;

static void qa_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const qa_job *q = ctx;
    for (int64_t t = b; t < e; t++) quantize_act(q->k, q->x + (size_t)t * q->in, q->act + (size_t)t * q->a_rb, q->in);
}

float rl_ggml_vec_dot(rl_dtype t, const void *wrow, const void *act, int n) {
    gq_info ti = rl_gq_info(t);
    if (!ti.n) return NAN;
    size_t bb = RL_DTYPES[t].block_bytes, ab = gq_act_bytes(ti.act);
    float s = 0.0f;
    gq_blk b;
    for (int k = 0; k < n / ti.n; k++) {
        rl_gq_decode_scalar(t, (const uint8_t *)wrow + k * bb, &b);
        s += rl_gq_block_dot_scalar(ti, &b, (const uint8_t *)act + k * ab);
    }
    return s;
}

/* ---- matmul driver ---- */



typedef void (*rows_fn)(const gq_job *, int64_t, int64_t);
typedef struct { const gq_job *j; rows_fn rows; } gq_task;

/* Groups of 8 output rows (ggml's repacked kernels sum 8 rows together; only the last group of
 * the matrix is short). */
static void gwork(void *ctx, int64_t g0, int64_t g1, int tid) {
    (void)tid;
    const gq_task *k = ctx;
    int64_t o1 = g1 * 8 < k->j->out ? g1 * 8 : k->j->out;
    k->rows(k->j, g0 * 8, o1);
}

static void rows_vnni(const gq_job *j, int64_t o0, int64_t o1) { rl_gq_vnni_rows(j, j->aux, o0, o1); }
static rows_fn pick_rows(void) {
    int l = simd_level();
    return l == 2 ? rl_gq_rows_avx512 : l == 1 ? rl_gq_rows_avx2 : rl_gq_rows_scalar;
}


void rl_ggml_matmul(rl_pool *p, float *y, const float *x, const void *w, rl_dtype t, const float *bias,
                    int T, int in, int out) {
    size_t n = (size_t)T * (size_t)in;
    if (t == RL_DT_GF16 || t == RL_DT_GBF16) { /* activations rounded as ggml converts them */
        float *xr = malloc(n * sizeof *xr);
        if (!xr) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
        for (size_t i = 0; i < n; i++)
            xr[i] = t == RL_DT_GF16 ? rl_f16_to_f32(rl_f32_to_f16(x[i])) : rl_bf16_to_f32(rl_f32_to_bf16(x[i]));
        if (T >= 2 && in % 16 == 0) /* ggml: llamafile tinyBLAS, 16 f32 lanes of FMAs (what rl_matmul does) */
            rl_matmul(p, y, xr, w, t == RL_DT_GF16 ? RL_DT_F16 : RL_DT_BF16, bias, T, in, out);
        else
            (simd_level() == 2 ? rl_gq_half_rows_avx512 : simd_level() == 1 ? rl_gq_half_rows_avx2
                                                                            : rl_gq_half_rows_scalar)(y, xr, w, t, bias, T, in, out);
        free(xr);
        return;
    }
    gq_info ti = rl_gq_info(t);
    if (!ti.n || in % ti.n) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
    gq_job j = {.t = t, .ti = ti, .w = w, .y = y, .bias = bias, .T = T, .in = in, .out = out};
    j.bb = RL_DTYPES[t].block_bytes;
    j.ab = gq_act_bytes(ti.act);
    j.w_rb = rl_dtype_row_bytes(t, in);
    j.a_rb = (size_t)(in / ti.n) * j.ab;
    uint8_t *act = malloc((size_t)T * j.a_rb);
    if (!act) { for (size_t i = 0; i < (size_t)T * out; i++) y[i] = NAN; return; }
    qa_job qj = {ti.act, x, act, j.a_rb, in};
    rl_pool_for_work(p, T, 1, (int64_t)T * in * 4, qa_work, &qj); /* rows apart: the same codes */
    j.act = act;
    if (rl_gq_gemm_usable(t, T, out) && !rl_gq_gemm(p, &j)) { free(act); return; }
    gq_task task = {&j, pick_rows()};
    void *aux = NULL;
    if (!strcmp(rl_simd_name(), "avx512vnni") && rl_gq_vnni_usable(t, T, out) && (aux = rl_gq_vnni_prep(&j))) {
        j.aux = aux;
        task.rows = rows_vnni;
    }
    rl_pool_for(p, (out + 7) / 8, 1, gwork, &task);
    free(aux);
    free(act);
}
