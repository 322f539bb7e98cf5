/* GGUF weight-type kernels (ggml_quants.c, gq_*.c, gq_gemm.c): on every SIMD path this CPU has, rl_matmul of
 * random blocks of each type equals the scalar path bit for bit (the block dots are integer) and
 * equals a double reference over the dequantised weights and dequantised activation blocks; odd
 * out and T, several blocks, bias. Also the activation quantisers' rounding (ggml's x86 rules). */
#include "test.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/ggml_quants.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 16); }
static float frand(void) { return (float)((urand() & 0xffffff) * (1.0 / (1 << 23)) - 1.0); }

static const char *PATHS[] = {"scalar", "avx2", "avx512", "avx512vnni"};

/* Random block bytes with sane f16 scales at the type's scale offsets. */
static void random_row(rl_dtype t, uint8_t *row, int in) {
    size_t bb = RL_DTYPES[t].block_bytes;
    int nb = in / RL_DTYPES[t].block;
    for (size_t i = 0; i < bb * (size_t)nb; i++) row[i] = (uint8_t)urand();
    for (int k = 0; k < nb; k++) {
        uint8_t *b = row + (size_t)k * bb;
        int offs[2] = {-1, -1};
        switch (t) {
        case RL_DT_GQ8_0: case RL_DT_Q4_0: case RL_DT_Q5_0: case RL_DT_IQ4_NL: offs[0] = 0; break;
        case RL_DT_GQ4_1: case RL_DT_Q5_1: case RL_DT_Q4_K: case RL_DT_Q5_K: offs[0] = 0; offs[1] = 2; break;
        case RL_DT_Q2_K: offs[0] = 80; offs[1] = 82; break;
        case RL_DT_Q3_K: offs[0] = 108; break;
        case RL_DT_Q6_K: offs[0] = 208; break;
        case RL_DT_GMXFP4: b[0] = (uint8_t)(118 + urand() % 14); break; /* e8m0 scales 2^-10 .. 2^3 */
        default: break;
        }
        for (int s = 0; s < 2; s++)
            if (offs[s] >= 0) {
                uint16_t h = rl_f32_to_f16(0.001f + 0.05f * (float)(urand() % 100) / 100.0f);
                memcpy(b + offs[s], &h, 2);
            }
    }
}

/* The activation as the kernels see it: quantised, then dequantised. For Q8_1 blocks, corr[k] is
 * s - d * sum(q): the f16 rounding of the block sum s that multiplies a Q4_1/Q5_1 block's min. */
static void act_dequant(rl_dtype t, const float *x, float *out, float *corr, int in) {
    int qk = RL_DTYPES[t].block == 256 ? 256 : 32;
    size_t ab = qk == 256 ? 292 : (t == RL_DT_GQ4_1 || t == RL_DT_Q5_1) ? 36 : 34;
    uint8_t *a = malloc((size_t)(in / qk) * ab);
    if (qk == 256) rl_ggml_quantize_q8_K(x, a, in);
    else if (ab == 36) rl_ggml_quantize_q8_1(x, a, in);
    else rl_ggml_quantize_q8_0(x, a, in);
    for (int k = 0; k < in / qk; k++) {
        const uint8_t *b = a + (size_t)k * ab;
        float d;
        if (qk == 256) memcpy(&d, b, 4);
        else { uint16_t h; memcpy(&h, b, 2); d = rl_f16_to_f32(h); }
        const int8_t *q = (const int8_t *)(b + (qk == 256 ? 4 : ab == 36 ? 4 : 2));
        int sum = 0;
        for (int i = 0; i < qk; i++) { out[k * qk + i] = d * (float)q[i]; sum += q[i]; }
        if (ab == 36) { uint16_t h; memcpy(&h, b + 2, 2); corr[k] = rl_f16_to_f32(h) - d * (float)sum; }
    }
    free(a);
}

/* ggml's MXFP4 by its definition (ggml-common.h / ggml-quants.c): per block of 17 bytes the e8m0
 * byte e, then item j in the low nibble of byte 1 + j and item j + 16 in the high one, each
 * kvalues_mxfp4[q] (e2m1 doubled) times 2^(e - 128). */
static void mxfp4_ref_row(float *out, const uint8_t *row, int in) {
    static const double KV[16] = {0, 1, 2, 3, 4, 6, 8, 12, -0.0, -1, -2, -3, -4, -6, -8, -12};
    for (int k = 0; k < in / 32; k++) {
        const uint8_t *b = row + (size_t)k * 17;
        double d = ldexp(1.0, (int)b[0] - 128);
        for (int j = 0; j < 16; j++) {
            out[32 * k + j] = (float)(KV[b[1 + j] & 15] * d);
            out[32 * k + j + 16] = (float)(KV[b[1 + j] >> 4] * d);
        }
    }
}

/* MXFP4 rows summed as ggml-cpu's x86 ggml_vec_dot_mxfp4_q8_0 sums them: the activation row as
 * Q8_0 blocks (rl_ggml_quantize_q8_0: ggml's x86 quantize_row_q8_0), 8 int lanes per block (lane
 * l: items 4l..4l+3), two f32 accumulators of 8 lanes (even / odd blocks) updated with
 * fmaf(dy * dw, lane, acc), added lane by lane, reduced ((0+4)+(2+6))+((1+5)+(3+7)), a last odd
 * block added as dy * dw * its int sum; then the bias. Bit for bit. */
static void mxfp4_ggml_order(const uint8_t *w, const float *x, const float *bias, const float *y, int T, int in, int out) {
    static const int KV[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    int nb = in / 32, bad = 0;
    uint8_t *a = malloc((size_t)nb * 34);
    for (int t = 0; t < T; t++) {
        rl_ggml_quantize_q8_0(x + (size_t)t * in, a, in);
        for (int o = 0; o < out; o++) {
            const uint8_t *wr = w + (size_t)o * nb * 17;
            float acc[2][8] = {{0}};
            int ib = 0;
            float sum = 0;
            for (; ib + 1 < nb; ib += 2)
                for (int h = 0; h < 2; h++) {
                    const uint8_t *b = wr + (size_t)(ib + h) * 17, *q = a + (size_t)(ib + h) * 34;
                    uint16_t dh;
                    memcpy(&dh, q, 2);
                    float d = rl_f16_to_f32(dh) * (float)ldexp(1.0, (int)b[0] - 128);
                    for (int l = 0; l < 8; l++) {
                        int s = 0;
                        for (int i = 4 * l; i < 4 * l + 4; i++) s += (int8_t)q[2 + i] * KV[i < 16 ? b[1 + i] & 15 : b[1 + i - 16] >> 4];
                        acc[h][l] = fmaf(d, (float)s, acc[h][l]);
                    }
                }
            float v[8];
            for (int l = 0; l < 8; l++) v[l] = acc[0][l] + acc[1][l];
            sum = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
            for (; ib < nb; ib++) {
                const uint8_t *b = wr + (size_t)ib * 17, *q = a + (size_t)ib * 34;
                uint16_t dh;
                memcpy(&dh, q, 2);
                float d = rl_f16_to_f32(dh) * (float)ldexp(1.0, (int)b[0] - 128);
                int s1 = 0, s2 = 0;
                for (int j = 0; j < 16; j++) { s1 += (int8_t)q[2 + j] * KV[b[1 + j] & 15]; s2 += (int8_t)q[2 + 16 + j] * KV[b[1 + j] >> 4]; }
                sum += d * (float)(s1 + s2);
            }
            sum += bias[o];
            if (memcmp(&sum, &y[(size_t)t * out + o], 4)) bad++;
        }
    }
    CHECK(!bad, "MXFP4 T=%d in=%d out=%d: %d outputs differ from ggml's x86 summation order", T, in, out, bad);
    free(a);
}

static void check_type(rl_dtype t, int T, int in, int out) {
    size_t rb = rl_dtype_row_bytes(t, in);
    uint8_t *w = malloc(rb * (size_t)out);
    float *x = malloc(sizeof(float) * (size_t)T * in), *xq = malloc(sizeof(float) * (size_t)in);
    float *wf = malloc(sizeof(float) * (size_t)in), *bias = malloc(sizeof(float) * (size_t)out);
    float *y0 = malloc(sizeof(float) * (size_t)T * out), *y = malloc(sizeof(float) * (size_t)T * out);
    for (int o = 0; o < out; o++) { random_row(t, w + (size_t)o * rb, in); bias[o] = frand(); }
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = 3.0f * frand();
    CHECK(rl_simd_force("scalar") == 0, "scalar");
    rl_matmul(NULL, y0, x, w, t, bias, T, in, out);
    /* reference: dequantised weights . dequantised activation blocks, in double */
    double worst = 0;
    for (int tt = 0; tt < T; tt++) {
        float corr[64] = {0};
        act_dequant(t, x + (size_t)tt * in, xq, corr, in);
        for (int o = 0; o < out; o++) {
            if (t == RL_DT_GMXFP4) mxfp4_ref_row(wf, w + (size_t)o * rb, in);
            else rl_convert_to_f32(wf, w + (size_t)o * rb, t, in);
            double s = bias[o], mag = fabs(bias[o]);
            for (int i = 0; i < in; i++) { s += (double)wf[i] * xq[i]; mag += fabs((double)wf[i] * xq[i]); }
            if (t == RL_DT_GQ4_1 || t == RL_DT_Q5_1)
                for (int k = 0; k < in / 32; k++) { /* block min (f16 at byte 2) times the rounding of s */
                    uint16_t h;
                    memcpy(&h, w + (size_t)o * rb + (size_t)k * RL_DTYPES[t].block_bytes + 2, 2);
                    s += (double)rl_f16_to_f32(h) * corr[k];
                }
            double e = fabs(s - y0[(size_t)tt * out + o]) / (mag + 1e-6);
            worst = e > worst ? e : worst;
        }
    }
    CHECK(worst < 1e-5, "%s T=%d in=%d: relative error %g vs the dequantised reference", RL_DTYPES[t].st_name, T, in, worst);
    if (t == RL_DT_GMXFP4) mxfp4_ggml_order(w, x, bias, y0, T, in, out);
    for (int pi = 1; pi < 4; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        rl_pool *p = rl_pool_new(2);
        for (int64_t i = 0; i < (int64_t)T * out; i++) y[i] = NAN; /* every path writes every output */
        rl_matmul(p, y, x, w, t, bias, T, in, out);
        rl_pool_free(p);
        CHECK(!memcmp(y, y0, sizeof(float) * (size_t)T * out), "%s %s T=%d: differs from scalar", RL_DTYPES[t].st_name, PATHS[pi], T);
    }
    rl_simd_force(NULL);
    free(w); free(x); free(xq); free(wf); free(bias); free(y0); free(y);
}

static void test_types(void) {
    static const rl_dtype TYPES[] = {RL_DT_GQ8_0, RL_DT_GQ4_1, RL_DT_Q4_0, RL_DT_Q5_0, RL_DT_Q5_1, RL_DT_IQ4_NL,
                                     RL_DT_Q2_K, RL_DT_Q3_K, RL_DT_Q4_K, RL_DT_Q5_K, RL_DT_Q6_K, RL_DT_GMXFP4};
    for (size_t k = 0; k < sizeof TYPES / sizeof *TYPES; k++) {
        int blk = RL_DTYPES[TYPES[k]].block;
        check_type(TYPES[k], 1, 3 * blk, 13);
        check_type(TYPES[k], 5, 2 * blk, 7);
        check_type(TYPES[k], 67, blk, 3); /* more tokens than one accumulator chunk */
        check_type(TYPES[k], 1, 2 * blk, 40); /* rows a multiple of 8: ggml's repacked layouts */
        check_type(TYPES[k], 3, 2 * blk, 16);
        check_type(TYPES[k], 6, 2 * blk, 24); /* repacked: 4 gemm rows, then 2 gemv rows */
        check_type(TYPES[k], 1, 7 * blk, 24); /* one token: whole groups of 4 blocks, then 3 */
        check_type(TYPES[k], 1, 9 * blk, 16);
        /* sweeps (gq_gemm.c on avx512vnni for Q4_0 / Q8_0): two 64-row items, a short 16-row panel, 8-token and
         * 2-token tiles with tails; rows a multiple of 8 but not of 16 */
        check_type(TYPES[k], 13, 2 * blk, 100);
        check_type(TYPES[k], 9, 3 * blk, 72);
        check_type(TYPES[k], 4, 1 * blk, 136);
        check_type(TYPES[k], 35, 1 * blk, 24); /* Q6_K's sweeps from 32 tokens; a 2-token tile's tail */
    }
}

/* F16 / BF16 weights: activations rounded to the weight type, products exact, f32 sums. */
static void test_half(void) {
    int in = 40, out = 5;
    uint16_t w[200];
    float x[40], y[5];
    for (int i = 0; i < in * out; i++) w[i] = rl_f32_to_f16(frand());
    for (int i = 0; i < in; i++) x[i] = frand();
    rl_matmul(NULL, y, x, w, RL_DT_GF16, NULL, 1, in, out);
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += (double)rl_f16_to_f32(w[o * in + i]) * rl_f16_to_f32(rl_f32_to_f16(x[i]));
        CHECK(fabs(s - y[o]) < 1e-5, "gguf F16 row %d: %g vs %g", o, y[o], s);
    }
}

static void test_quantizers(void) {
    float x[256];
    uint8_t b[292];
    for (int i = 0; i < 32; i++) x[i] = 0.0f;
    x[0] = 127.0f; x[1] = 2.5f; x[2] = -3.5f; x[3] = 0.4999f; x[4] = -127.0f;
    rl_ggml_quantize_q8_0(x, b, 32);
    const int8_t *q = (const int8_t *)(b + 2);
    uint16_t h;
    memcpy(&h, b, 2);
    CHECK(rl_f16_to_f32(h) == 1.0f, "q8_0 scale %g", rl_f16_to_f32(h));
    CHECK(q[0] == 127 && q[1] == 2 && q[2] == -4 && q[3] == 0 && q[4] == -127, "q8_0 rounds half to even: %d %d %d %d", q[1], q[2], q[3], q[4]);
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 17) - 8.0f;
    x[5] = -16.0f; /* the signed extreme sets the scale: -127 / max */
    rl_ggml_quantize_q8_K(x, b, 256);
    float d;
    memcpy(&d, b, 4);
    int16_t bs[16];
    memcpy(bs, b + 260, sizeof bs);
    const int8_t *qk = (const int8_t *)(b + 4);
    int sum0 = 0;
    for (int i = 0; i < 16; i++) sum0 += qk[i];
    CHECK(qk[5] == -127 && d == 1.0f / (-127.0f / -16.0f) && qk[0] == -64, "q8_K extreme %d %d scale %g", qk[5], qk[0], d);
    CHECK(bs[0] == sum0, "q8_K block sums");
    for (int i = 0; i < 256; i++) x[i] = 0.0f;
    rl_ggml_quantize_q8_K(x, b, 256);
    memcpy(&d, b, 4);
    CHECK(d == 0.0f, "zero block");
    /* the AVX-512 block quantiser gives the scalar one's bytes (scales, codes, Q8_1 sums) */
    static float xr[32 * 64];
    static uint8_t a0[36 * 64], a1[36 * 64];
    for (int i = 0; i < 32 * 64; i++) xr[i] = (i % 97 == 0) ? 0.0f : 5.0f * frand() * (float)(1 + i % 5);
    for (int i = 32 * 7; i < 32 * 8; i++) xr[i] = 0.0f; /* an all-zero block */
    for (int v = 0; v < 2; v++) {
        CHECK(rl_simd_force("scalar") == 0, "scalar");
        if (v) rl_ggml_quantize_q8_1(xr, a0, 32 * 64); else rl_ggml_quantize_q8_0(xr, a0, 32 * 64);
        if (rl_simd_force("avx512") == 0) {
            if (v) rl_ggml_quantize_q8_1(xr, a1, 32 * 64); else rl_ggml_quantize_q8_0(xr, a1, 32 * 64);
            CHECK(!memcmp(a0, a1, (size_t)(v ? 36 : 34) * 64), "q8_%d: avx512 quantiser differs from scalar", v);
        }
    }
    rl_simd_force(NULL);
}

int main(void) {
    RUN(test_types);
    RUN(test_half);
    RUN(test_quantizers);
    TEST_END();
}
