/* rl_matmul on the composite HF formats (FP8 block, GPTQ v1, AWQ GEMM, bitsandbytes 4-bit with
 * and without double quantisation) against a double-precision reference that decodes each
 * weight element by element straight from the format description (../shared/fixtures-quant
 * README), on odd shapes: partial FP8 blocks in both directions, BF16 / F16 / F32 scales, a
 * partial last GPTQ group with a permuted (act-order) g_idx, 8-bit GPTQ, partial absmax and
 * nested blocks, MXFP4 (gpt-oss) decoded from the OCP MX definition; GEMV and GEMM token counts; the dispatched SIMD paths and the scalar ones. Also: a corrupt g_idx gives NaN, never a read out
 * of bounds, and a descriptor of another shape is refused. */
#include "test.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/hfq.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 32); }
static float frand(void) { return (float)(urand() >> 8) / (float)(1 << 24) * 2.0f - 1.0f; }

/* e4m3fn decoded from the definition: (-1)^s 2^(e-7) (1 + m/8), subnormal 2^-6 m/8. */
static double e4m3_ref(uint8_t b) {
    int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
    if (e == 15 && m == 7) return NAN;
    double v = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
    return s ? -v : v;
}

static rl_pool *pool;

/* y = x W^T with W given element by element by wfn; compares rl_matmul's output. */
static double run_cmp(const rl_qweight *q, rl_dtype dt, double (*wfn)(const rl_qweight *, int, int), int T) {
    int out = q->rows, in = q->cols;
    float *x = malloc(sizeof(float) * (size_t)T * in), *y = malloc(sizeof(float) * (size_t)T * out), *b = calloc((size_t)out, sizeof(float));
    for (int i = 0; i < T * in; i++) x[i] = frand();
    for (int o = 0; o < out; o++) b[o] = frand();
    rl_matmul(pool, y, x, q, dt, b, T, in, out);
    double worst = 0;
    for (int o = 0; o < out; o++) {
        double wrow[4096];
        for (int i = 0; i < in; i++) wrow[i] = wfn(q, o, i);
        for (int t = 0; t < T; t++) {
            double acc = b[o], mag = fabs(b[o]);
            for (int i = 0; i < in; i++) { acc += wrow[i] * x[(size_t)t * in + i]; mag += fabs(wrow[i] * x[(size_t)t * in + i]); }
            double e = fabs(acc - y[(size_t)t * out + o]) / (mag + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
    }
    free(x); free(y); free(b);
    return worst;
}

static double fp8_w(const rl_qweight *q, int o, int i) {
    int sc = (q->cols + q->blk_c - 1) / q->blk_c, k = (o / q->blk_r) * sc + i / q->blk_c;
    double s = q->scale_dt == RL_DT_F32 ? ((const float *)q->scales)[k]
             : q->scale_dt == RL_DT_BF16 ? rl_bf16_to_f32(((const uint16_t *)q->scales)[k]) : rl_f16_to_f32(((const uint16_t *)q->scales)[k]);
    return (double)(float)(e4m3_ref(((const uint8_t *)q->data)[(size_t)o * q->cols + i]) * s); /* the f32 product */
}

static void test_fp8(void) {
    int shapes[][4] = {{37, 300, 128, 128}, {130, 257, 128, 128}, {20, 70, 16, 32}};
    rl_dtype sdt[] = {RL_DT_F32, RL_DT_BF16, RL_DT_F16};
    for (int c = 0; c < 3; c++) {
        int out = shapes[c][0], in = shapes[c][1], br = shapes[c][2], bc = shapes[c][3];
        int sr = (out + br - 1) / br, sc = (in + bc - 1) / bc;
        uint8_t *w = malloc((size_t)out * in);
        for (int k = 0; k < out * in; k++) { uint8_t v = (uint8_t)urand(); w[k] = (v & 0x7f) == 0x7f ? 0x3c : v; }
        float *sf = malloc(sizeof(float) * sr * sc);
        uint16_t *sh = malloc(2 * (size_t)sr * sc);
        for (int k = 0; k < sr * sc; k++) {
            float s = (0.5f + (float)(urand() % 1000) / 1000.0f) / 448.0f;
            sf[k] = s;
            sh[k] = sdt[c] == RL_DT_BF16 ? rl_f32_to_bf16(s) : rl_f32_to_f16(s);
        }
        rl_qweight q = {.data = w, .scales = sdt[c] == RL_DT_F32 ? (void *)sf : (void *)sh, .scale_dt = sdt[c], .rows = out,
                        .cols = in, .bits = 8, .blk_r = br, .blk_c = bc};
        for (int T = 1; T <= 6; T += T < 4 ? 1 : 2) {
            double e = run_cmp(&q, RL_DT_FP8_BLK, fp8_w, T);
            CHECK(e < 1e-5, "fp8 %dx%d block %dx%d scales %s T=%d: rel err %g", out, in, br, bc, RL_DTYPES[sdt[c]].st_name, T, e);
        }
        free(w); free(sf); free(sh);
    }
    uint8_t codes[16] = {0x01, 0x81, 0x08, 0x7e, 0xfe, 0x38, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 0x7f}; /* 0x7f: NaN */
    float one = 1.0f, x[16], y[2];
    for (int i = 0; i < 16; i++) x[i] = 1.0f;
    rl_qweight q = {.data = codes, .scales = &one, .scale_dt = RL_DT_F32, .rows = 1, .cols = 16, .bits = 8, .blk_r = 128, .blk_c = 128};
    rl_matmul(pool, y, x, &q, RL_DT_FP8_BLK, NULL, 1, 16, 1);
    CHECK(isnan(y[0]), "an e4m3 NaN code gives NaN");
    q.cols = 15;
    rl_matmul(pool, y, x, &q, RL_DT_FP8_BLK, NULL, 1, 15, 1);
    double want = 0;
    for (int i = 0; i < 15; i++) want += e4m3_ref(codes[i]);
    CHECK(fabs(y[0] - want) < 1e-6, "subnormal, signed and extreme codes: %g vs %g", y[0], want);
    uint8_t small[5] = {0x01, 0x08, 0x38, 0xb0, 0x02}; /* 256 * scale overflows f32, e4m3 * s does not */
    float big = 0x1p120f;
    q.data = small;
    q.scales = &big;
    q.cols = 5;
    rl_matmul(pool, y, x, &q, RL_DT_FP8_BLK, NULL, 1, 5, 1);
    want = 0;
    for (int i = 0; i < 5; i++) want += e4m3_ref(small[i]) * 0x1p120;
    CHECK(fabs(y[0] - want) < 1e-6 * fabs(want), "huge scale: %g vs %g", y[0], want);
}

static double gptq_w(const rl_qweight *q, int o, int i) {
    int bits = q->bits, pf = 32 / bits, g = ((const int32_t *)q->g_idx)[i];
    uint32_t word = (uint32_t)((const int32_t *)q->data)[(size_t)(i / pf) * q->rows + o];
    uint32_t zw = (uint32_t)((const int32_t *)q->zeros)[(size_t)g * (q->rows / pf) + o / pf];
    int qv = (int)((word >> (bits * (i % pf))) % (1u << bits)), z = (int)((zw >> (bits * (o % pf))) % (1u << bits)) + 1;
    return (double)rl_f16_to_f32(((const uint16_t *)q->scales)[(size_t)g * q->rows + o]) * (qv - z);
}

static void test_gptq(void) {
    /* out, in, group, bits; from 64 outputs the AVX-512 decode kernel takes 64 at a time */
    int cases[][4] = {{40, 72, 32, 4}, {24, 88, 32, 8}, {16, 64, 16, 4}, {136, 72, 32, 4}, {72, 88, 32, 8}, {328, 40, 16, 4}};
    for (int c = 0; c < 6; c++) {
        int out = cases[c][0], in = cases[c][1], group = cases[c][2], bits = cases[c][3], pf = 32 / bits;
        int G = (in + group - 1) / group;
        int32_t *qw = malloc(4 * (size_t)(in / pf) * out), *qz = malloc(4 * (size_t)G * (out / pf)), *gi = malloc(4 * (size_t)in);
        uint16_t *sc = malloc(2 * (size_t)G * out);
        for (int k = 0; k < (in / pf) * out; k++) qw[k] = (int32_t)urand();
        for (int k = 0; k < G * (out / pf); k++) { /* stored zeros below the field maximum (v1) */
            uint32_t v = 0;
            for (int j = 0; j < pf; j++) v |= (urand() % ((1u << bits) - 1)) << (bits * j);
            qz[k] = (int32_t)v;
        }
        for (int k = 0; k < G * out; k++) sc[k] = rl_f32_to_f16(0.001f + 0.01f * (float)(urand() % 100) / 100.0f);
        for (int i = 0; i < in; i++) gi[i] = i / group;
        for (int i = in - 1; i > 0 && c != 1; i--) { int j = (int)(urand() % (uint32_t)(i + 1)), t = gi[i]; gi[i] = gi[j]; gi[j] = t; } /* act-order */
        rl_qweight q = {.data = qw, .scales = sc, .zeros = qz, .g_idx = gi, .rows = out, .cols = in, .bits = bits, .group = group, .ngroups = G};
        for (int T = 1; T <= 5; T += T < 4 ? 2 : 1) {
            double e = run_cmp(&q, RL_DT_GPTQ, gptq_w, T);
            CHECK(e < 1e-5, "gptq %d-bit %dx%d group %d T=%d: rel err %g", bits, out, in, group, T, e);
        }
        float *dq = malloc(sizeof(float) * (size_t)out * in); /* the direct (untabulated) decoder, exact */
        rl_hfq_dequant(&q, RL_DT_GPTQ, 0, out, 0, in, dq);
        int nbad = 0;
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) nbad += (double)dq[(size_t)o * in + i] != gptq_w(&q, o, i);
        CHECK(nbad == 0, "rl_hfq_dequant gptq: %d weights differ", nbad);
        free(dq);
        gi[3] = G; /* corrupt: NaN, not a read past the scales */
        float x[128] = {0}, y[512];
        rl_matmul(pool, y, x, &q, RL_DT_GPTQ, NULL, 1, in, out);
        CHECK(isnan(y[0]) && isnan(y[out - 1]), "g_idx out of range gives NaN");
        rl_qweight bad = q;
        bad.rows = out + 8;
        rl_matmul(pool, y, x, &bad, RL_DT_GPTQ, NULL, 1, in, out);
        CHECK(isnan(y[0]), "descriptor of another shape refused");
        free(qw); free(qz); free(gi); free(sc);
    }
}

static double awq_w(const rl_qweight *q, int o, int i) {
    static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7}; /* nibble k holds output order[k] */
    int k = 0;
    while (order[k] != o % 8) k++;
    int wc = q->rows / 8, g = i / q->group;
    uint32_t word = (uint32_t)((const int32_t *)q->data)[(size_t)i * wc + o / 8], zw = (uint32_t)((const int32_t *)q->zeros)[(size_t)g * wc + o / 8];
    int qv = (int)((word >> (4 * k)) & 15), z = (int)((zw >> (4 * k)) & 15);
    return (double)rl_f16_to_f32(((const uint16_t *)q->scales)[(size_t)g * q->rows + o]) * (qv - z);
}

static void test_awq(void) {
    for (int c = 0; c < 2; c++) {
    int out = c ? 136 : 24, in = 96, group = 32, G = in / group;
    int32_t *qw = malloc(4 * (size_t)in * (out / 8)), *qz = malloc(4 * (size_t)G * (out / 8));
    uint16_t *sc = malloc(2 * (size_t)G * out);
    for (int k = 0; k < in * (out / 8); k++) qw[k] = (int32_t)urand();
    for (int k = 0; k < G * (out / 8); k++) qz[k] = (int32_t)urand();
    for (int k = 0; k < G * out; k++) sc[k] = rl_f32_to_f16(0.002f * (float)(1 + urand() % 50));
    rl_qweight q = {.data = qw, .scales = sc, .zeros = qz, .rows = out, .cols = in, .bits = 4, .group = group, .ngroups = G};
    float *dq = malloc(sizeof(float) * (size_t)out * in);
    rl_hfq_dequant(&q, RL_DT_AWQ, 0, out, 0, in, dq);
    int bad = 0;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) bad += (double)dq[(size_t)o * in + i] != awq_w(&q, o, i);
    CHECK(bad == 0, "rl_hfq_dequant awq: %d weights differ", bad);
    free(dq);
    for (int T = 1; T <= 7; T += T < 4 ? 1 : 3) {
        double e = run_cmp(&q, RL_DT_AWQ, awq_w, T);
        CHECK(e < 1e-5, "awq %dx%d T=%d: rel err %g", out, in, T, e);
    }
    free(qw); free(qz); free(sc);
    }
}

static double bnb_w(const rl_qweight *q, int o, int i) {
    size_t k = (size_t)o * q->cols + i, b = k / (size_t)q->group;
    uint8_t byte = ((const uint8_t *)q->data)[k / 2];
    int nib = k % 2 ? byte & 15 : byte >> 4;
    float a;
    if (q->scale_dt == RL_DT_F32) a = ((const float *)q->scales)[b];
    else {
        float p = ((const float *)q->map2)[((const uint8_t *)q->scales)[b]] * ((const float *)q->zeros)[b / (size_t)q->nested_block];
        a = p + q->nested_offset;
    }
    return (double)(((const float *)q->g_idx)[nib] * a);
}

static void test_bnb4(void) {
    for (int c4 = 0; c4 < 4; c4++) { /* blocks across rows; blocks aligned with rows (the AVX-512 decode kernel) */
        int dq = c4 % 2;
        int out = c4 < 2 ? 37 : 21, in = c4 < 2 ? 50 : 192, bs = c4 < 2 ? 64 : (dq ? 64 : 32), n = out * in, nb = (n + bs - 1) / bs, nest = 8, nn = (nb + nest - 1) / nest;
        uint8_t *c = malloc((size_t)n / 2 + 1), *a8 = malloc((size_t)nb);
        float *af = malloc(sizeof(float) * nb), map[16], nmap[256], *na = malloc(sizeof(float) * nn);
        for (int k = 0; k < n / 2 + 1; k++) c[k] = (uint8_t)urand();
        for (int k = 0; k < 16; k++) map[k] = frand();
        for (int k = 0; k < 256; k++) nmap[k] = frand();
        for (int k = 0; k < nb; k++) { af[k] = 0.01f + (float)(urand() % 100) / 1000.0f; a8[k] = (uint8_t)urand(); }
        for (int k = 0; k < nn; k++) na[k] = 0.05f * (float)(1 + urand() % 9);
        rl_qweight q = {.data = c, .scales = dq ? (void *)a8 : (void *)af, .scale_dt = dq ? RL_DT_U8 : RL_DT_F32, .zeros = na, .g_idx = map,
                        .map2 = nmap, .rows = out, .cols = in, .bits = 4, .group = bs, .nested_block = nest, .nested_offset = 0.0371f};
        for (int T = 1; T <= 5; T += T < 4 ? 2 : 1) {
            double e = run_cmp(&q, RL_DT_BNB4, bnb_w, T);
            CHECK(e < 1e-5, "bnb4 %s %dx%d T=%d: rel err %g", dq ? "double quant" : "f32 absmax", out, in, T, e);
        }
        free(c); free(a8); free(af); free(na);
    }
}

/* OCP MX spec: e2m1 = (-1)^s 2^(e-1) (1 + m/2), subnormal (e 0) m/2; e8m0 scale 2^(x-127);
 * gpt-oss stores element 2j in the low nibble of byte j. */
static double mxfp4_w(const rl_qweight *q, int o, int i) {
    uint8_t byte = ((const uint8_t *)q->data)[(size_t)o * (q->cols / 2) + i / 2];
    int nib = i % 2 ? byte >> 4 : byte & 15, s = nib >> 3, e = (nib >> 1) & 3, m = nib & 1;
    double v = e ? ldexp(1.0 + m / 2.0, e - 1) : m / 2.0;
    return (s ? -v : v) * ldexp(1.0, (int)((const uint8_t *)q->scales)[(size_t)o * (q->cols / 32) + i / 32] - 127);
}

static void test_mxfp4(void) {
    int shapes[][2] = {{37, 64}, {16, 320}, {5, 2880}};
    for (int c = 0; c < 3; c++) {
        int out = shapes[c][0], in = shapes[c][1];
        uint8_t *b = malloc((size_t)out * in / 2), *s = malloc((size_t)out * in / 32);
        for (int k = 0; k < out * in / 2; k++) b[k] = (uint8_t)urand();
        for (int k = 0; k < out * in / 32; k++) s[k] = (uint8_t)(118 + urand() % 12); /* 2^-9 .. 2^2 */
        rl_qweight q = {.data = b, .scales = s, .scale_dt = RL_DT_U8, .rows = out, .cols = in, .bits = 4, .group = 32};
        for (int T = 1; T <= 9; T += T == 1 ? 2 : T < 4 ? 1 : 5) { /* 1, 3, 4 (decode kernels), 9 */
            double e = run_cmp(&q, RL_DT_MXFP4, mxfp4_w, T);
            CHECK(e < 1e-5, "mxfp4 %dx%d T=%d: rel err %g", out, in, T, e);
        }
        free(b); free(s);
    }
    float y = 0, x[32] = {0};
    uint8_t b[16] = {0}, s[1] = {127};
    rl_qweight q = {.data = b, .scales = s, .rows = 1, .cols = 31};
    rl_matmul(pool, &y, x, &q, RL_DT_MXFP4, NULL, 1, 31, 1);
    CHECK(isnan(y), "an MXFP4 row not a whole number of blocks is refused (NaN), got %g", y);
}

static void test_e4m3(void) {
    int bad = 0;
    for (int b = 0; b < 256; b++) {
        double r = e4m3_ref((uint8_t)b);
        float f = rl_f8e4m3_to_f32((uint8_t)b);
        if (isnan(r) ? !isnan(f) : (double)f != r) bad++;
    }
    CHECK(bad == 0, "%d e4m3 codes decode wrongly", bad);
    CHECK(rl_f8e4m3_to_f32(0x7e) == 448.0f && rl_f8e4m3_to_f32(0x01) == ldexpf(1, -9) && signbit(rl_f8e4m3_to_f32(0x80)), "e4m3 landmarks");
}

int main(void) {
    pool = rl_pool_new(3);
    RUN(test_e4m3);
    const char *def = rl_simd()->name;
    static const char *const paths[] = {NULL, "avx2", "scalar"};
    for (int k = 0; k < 3; k++) { /* the dispatched (AVX-512 or AVX2) paths, AVX2's, then the scalar ones */
        if (k && rl_simd_force(paths[k])) continue;
        fprintf(stderr, "  path %s\n", rl_simd()->name);
        RUN(test_fp8);
        RUN(test_gptq);
        RUN(test_awq);
        RUN(test_bnb4);
        RUN(test_mxfp4);
    }
    rl_simd_force(def);
    rl_pool_free(pool);
    TEST_END();
}
