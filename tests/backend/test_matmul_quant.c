/* Tests rl_matmul and rl_convert_to_f32 on block-quantized weights (Q8_0, Q4_1) on every SIMD
 * path this CPU has, GEMV (T < 4) and tiled GEMM (T >= 4) regimes, odd out / T, several K blocks
 * with a tail, against a double-precision reference over the dequantized weights
 * (rl_dequantize_row_ref) or, for decode on int8-quantised activations, against the exact integer
 * reference (rl_qdot_ref) and within the activation-rounding bound of the f32 result; also the
 * quantizers' round-trip error, the activation quantiser, and the error cases. */
#include "test.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/qact.h"
#include "quant/quantize.h"
#include "util/err.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static const char *PATHS[] = {"scalar", "avx2", "avxvnni", "avx512", "avx512vnni"};
#define N_PATHS 5
#define QACT_FALLBACK_IN 32768 /* T=3 rows of this many items exceed matmul.c's stack buffer */

/* |min| of the block holding item i of a Q4_1 row (0 for Q8_0): the kernels add min * sum(x)
 * separately, so rounding scales with |x| * |min| too. */
static double block_min(rl_dtype dt, const uint8_t *row, int i) {
    if (dt != RL_DT_Q4_1) return 0;
    uint16_t h;
    memcpy(&h, row + (size_t)(i / RL_QBLOCK) * RL_DTYPES[dt].block_bytes + 2, 2);
    return rl_f16_to_f32(h);
}
static double block_min_abs(rl_dtype dt, const uint8_t *row, int i) { return fabs(block_min(dt, row, i)); }

static int check_case(rl_pool *p, rl_dtype dt, int T, int in, int out, int with_bias) {
    size_t rb = rl_dtype_row_bytes(dt, in);
    float *x = malloc(sizeof(float) * (size_t)T * in), *wf = malloc(sizeof(float) * (size_t)out * in);
    float *src = malloc(sizeof(float) * (size_t)in);
    uint8_t *w = malloc(rb * (size_t)out);
    float *b = malloc(sizeof(float) * (size_t)out), *y = malloc(sizeof(float) * (size_t)T * out);
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = frand();
    for (int o = 0; o < out; o++) {
        float sc = 0.01f + (float)(o % 7); /* rows of different scale; some with an offset */
        for (int i = 0; i < in; i++) src[i] = sc * frand() + (o % 3 == 1 ? 0.5f * sc : 0.0f);
        CHECK(rl_quantize_row(dt, src, w + (size_t)o * rb, in) == 0, "quantize: %s", rl_errmsg());
        rl_dequantize_row_ref(dt, w + (size_t)o * rb, wf + (size_t)o * in, in);
    }
    for (int o = 0; o < out; o++) b[o] = frand();
    for (int64_t i = 0; i < (int64_t)T * out; i++) y[i] = 1e30f; /* must be overwritten */
    rl_matmul(p, y, x, w, dt, with_bias ? b : NULL, T, in, out);
    int bad = 0;
    /* decode (T < 4) and integer-GEMM sweeps (Q4_1; Q8_0 with RL_COMPUTE_BF16) run on int8-quantised activations: compare with the exact integer
     * reference, and with the f32 result within the bound that rounding allows */
    int qint = T >= 4 ? dt == RL_DT_Q4_1 || rl_matmul_get_compute() == RL_COMPUTE_BF16 : in < QACT_FALLBACK_IN;
    void *qbuf = malloc(rl_qrow_bytes(in));
    for (int t = 0; t < T && !bad; t++) {
        rl_qrow xq = rl_qrow_quantize(qbuf, x + (size_t)t * in, in);
        for (int o = 0; o < out && !bad; o++) {
            double s = with_bias ? b[o] : 0, mag = fabs(s), qbound = 0;
            for (int i = 0; i < in; i++) {
                double xv = x[(size_t)t * in + i], pr = xv * wf[(size_t)o * in + i];
                s += pr;
                mag += fabs(pr) + fabs(xv) * block_min_abs(dt, w + (size_t)o * rb, i);
                /* the min term of Q4_1 multiplies the exact block sum of x: only d * code sees x's rounding */
                qbound += xq.ds[2 * (i / RL_QBLOCK)] * 0.5 * fabs(wf[(size_t)o * in + i] - block_min(dt, w + (size_t)o * rb, i));
            }
            double got = y[(size_t)t * out + o];
            if (qint) {
                double ref = rl_qdot_ref(dt, w + (size_t)o * rb, xq, in) + (with_bias ? b[o] : 0);
                if (!(fabs(got - ref) <= 1e-5 * mag + 1e-6)) {
                    CHECK(0, "%s %s T=%d in=%d out=%d bias=%d threads=%d: y[%d][%d]=%g want %g (integer reference)",
                          rl_simd_name(), RL_DTYPES[dt].st_name, T, in, out, with_bias, rl_pool_size(p), t, o, got, ref);
                    bad = 1;
                }
                if (!(fabs(got - s) <= qbound + 1e-5 * mag + 1e-6)) {
                    CHECK(0, "%s %s T=%d in=%d: y[%d][%d]=%g vs f32 %g beyond the activation rounding bound %g",
                          rl_simd_name(), RL_DTYPES[dt].st_name, T, in, t, o, got, s, qbound);
                    bad = 1;
                }
                continue;
            }
            if (!(fabs(got - s) <= 1e-5 * mag + 1e-6)) {
                CHECK(0, "%s %s T=%d in=%d out=%d bias=%d threads=%d: y[%d][%d]=%g want %g",
                      rl_simd_name(), RL_DTYPES[dt].st_name, T, in, out, with_bias, rl_pool_size(p), t, o, got, s);
                bad = 1;
            }
        }
    }
    free(qbuf);
    /* rl_convert_to_f32 dequantizes exactly like the reference (d*q is exact; one rounding of + m) */
    float *cv = malloc(sizeof(float) * (size_t)in);
    rl_convert_to_f32(cv, w, dt, in);
    CHECK(!memcmp(cv, wf, sizeof(float) * (size_t)in), "%s %s: rl_convert_to_f32 differs from the reference",
          rl_simd_name(), RL_DTYPES[dt].st_name);
    free(cv);
    free(x); free(wf); free(src); free(w); free(b); free(y);
    return !bad;
}

static void test_matmul_quant(void) {
    rl_pool *p = rl_pool_new(3);
    CHECK(p != NULL, "pool");
    static const int INS[] = {32, 96, 1056}, TS[] = {1, 2, 3, 4, 17, 64}, OUTS[] = {1, 13, 100};
    static const rl_dtype DTS[] = {RL_DT_Q8_0, RL_DT_Q4_1, RL_DT_Q8_0};
    for (int pi = 0; pi < N_PATHS; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) { fprintf(stderr, "  (skip %s: not supported)\n", PATHS[pi]); continue; }
        for (int di = 0; di < 3; di++) { /* Q8_0, Q4_1, Q8_0 with RL_COMPUTE_BF16 (the integer GEMM) */
            rl_matmul_set_compute(di == 2 ? RL_COMPUTE_BF16 : RL_COMPUTE_F32);
            for (int ii = 0; ii < 3; ii++)
                for (int ti = 0; ti < 6; ti++)
                    for (int oi = 0; oi < 3; oi++)
                        check_case((ti + oi + ii) % 2 ? p : NULL, DTS[di], TS[ti], INS[ii], OUTS[oi], (ti + oi) % 2);
            check_case(p, DTS[di], 70, 2080, 203, 1); /* several K blocks, row and token blocks */
            check_case(p, DTS[di], 3, 2080, 203, 0);
            check_case(p, DTS[di], 1, 4864, 37, 1);
            check_case(NULL, DTS[di], 3, QACT_FALLBACK_IN, 3, 1); /* too big for the stack: f32 path */
        }
        rl_matmul_set_compute(RL_COMPUTE_F32);
        fprintf(stderr, "  %s ok\n", PATHS[pi]);
    }
    rl_simd_force(NULL);
    rl_pool_free(p);
}

/* Round trip error of the quantizers: Q8_0 within d/2 (+ f16 scale rounding), Q4_1 within d/2. */
static void test_quantize_roundtrip(void) {
    enum { N = 4096 };
    static float x[N], r[N];
    static uint8_t q[N * 2];
    for (int i = 0; i < N; i++) x[i] = (i % 64 < 32 ? 0.02f : 3.0f) * frand() + (i % 96 < 32 ? 1.0f : 0.0f);
    CHECK(rl_quantize_row(RL_DT_Q8_0, x, q, N) == 0, "q8: %s", rl_errmsg());
    rl_dequantize_row_ref(RL_DT_Q8_0, q, r, N);
    for (int b = 0; b < N; b += RL_QBLOCK) {
        double amax = 0, err = 0;
        for (int i = b; i < b + RL_QBLOCK; i++) { amax = fmax(amax, fabs(x[i])); err = fmax(err, fabs(x[i] - r[i])); }
        CHECK(err <= amax / 127 * 0.502 + 1e-7, "q8 block %d: err %g amax %g", b / RL_QBLOCK, err, amax);
    }
    CHECK(rl_quantize_row(RL_DT_Q4_1, x, q, N) == 0, "q4: %s", rl_errmsg());
    rl_dequantize_row_ref(RL_DT_Q4_1, q, r, N);
    for (int b = 0; b < N; b += RL_QBLOCK) {
        double mn = 1e30, mx = -1e30, err = 0;
        for (int i = b; i < b + RL_QBLOCK; i++) { mn = fmin(mn, x[i]); mx = fmax(mx, x[i]); err = fmax(err, fabs(x[i] - r[i])); }
        CHECK(err <= (mx - mn) / 15 * 0.51 + fabs(mn) * 1e-3 + 1e-7, "q4 block %d: err %g range %g", b / RL_QBLOCK, err, mx - mn);
    }
    /* constant and zero blocks are exact */
    for (int i = 0; i < 64; i++) x[i] = i < 32 ? 0.0f : 0.25f;
    CHECK(rl_quantize_row(RL_DT_Q4_1, x, q, 64) == 0, "q4 const");
    rl_dequantize_row_ref(RL_DT_Q4_1, q, r, 64);
    CHECK(!memcmp(x, r, 64 * sizeof(float)), "q4 constant blocks");
    CHECK(rl_quantize_row(RL_DT_Q8_0, x, q, 64) == 0, "q8 const");
    rl_dequantize_row_ref(RL_DT_Q8_0, q, r, 64);
    CHECK(!memcmp(x, r, 32 * sizeof(float)) && fabsf(r[40] - 0.25f) < 1e-4f, "q8 zero / constant blocks");
    /* errors */
    x[5] = NAN;
    CHECK(rl_quantize_row(RL_DT_Q8_0, x, q, 32) == -1 && strstr(rl_errmsg(), "non-finite"), "nan: %s", rl_errmsg());
    x[5] = 1e9f;
    CHECK(rl_quantize_row(RL_DT_Q8_0, x, q, 32) == -1 && strstr(rl_errmsg(), "f16"), "huge: %s", rl_errmsg());
    CHECK(rl_quantize_row(RL_DT_Q8_0, x, q, 33) == -1, "n not a multiple of 32");
    CHECK(rl_quantize_row(RL_DT_BF16, x, q, 32) == -1, "not a block type");
}

/* The activation quantiser: d = max|x|/127 per block, |x - d*q| <= d/2, s the block sum. */
static void qrow_quantize_on_path(void);
static void test_qrow_quantize(void) {
    for (int pi = 0; pi < N_PATHS; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        qrow_quantize_on_path();
        fprintf(stderr, "  %s quantiser\n", PATHS[pi]);
    }
    rl_simd_force(NULL);
}

/* NaN and inf items on every path: a NaN item codes 0 and is no block maximum; an infinite item
 * makes the block's d infinite and every code 0 (as the scalar loop does). */
static void test_qrow_special(void) {
    static float x[96];
    static unsigned char buf[96 * 2];
    for (int i = 0; i < 96; i++) x[i] = 0.5f * (float)(i % 11) - 2.0f;
    x[2] = NAN;
    x[22] = NAN; /* second half of block 0 */
    x[40] = INFINITY;
    x[70] = 3.0f;
    for (int pi = 0; pi < N_PATHS; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        rl_qrow q = rl_qrow_quantize(buf, x, 96);
        CHECK(q.ds[0] == 3.0f / 127.0f, "%s: NaN block d %g", PATHS[pi], q.ds[0]);
        CHECK(q.q[2] == 0 && q.q[22] == 0 && q.q[3] != 0, "%s: NaN codes %d %d %d", PATHS[pi], q.q[2], q.q[22], q.q[3]);
        CHECK(isinf(q.ds[2]), "%s: inf block d %g", PATHS[pi], q.ds[2]);
        int nz = 0;
        for (int i = 32; i < 64; i++) nz += q.q[i] != 0;
        CHECK(nz == 0, "%s: inf block has %d nonzero codes", PATHS[pi], nz);
        CHECK(q.ds[4] == 3.0f / 127.0f && q.q[70] == 127, "%s: finite block d %g code %d", PATHS[pi], q.ds[4], q.q[70]);
    }
    rl_simd_force(NULL);
}

static void qrow_quantize_on_path(void) {
    enum { N = 1024 };
    static float x[N];
    static unsigned char buf[N * 2];
    for (int i = 0; i < N; i++) x[i] = (i % 96 < 32 ? 0.001f : 5.0f) * frand();
    for (int i = 64; i < 96; i++) x[i] = 0; /* an all-zero block */
    static const float TIES[] = {127.0f, 2.5f, -3.5f, 0.5f, -0.5f, 1.5f, 126.5f, -126.5f}; /* id = 1: halves tie to even */
    for (int i = 0; i < 8; i++) x[96 + i] = TIES[i];
    for (int i = 104; i < 128; i++) x[i] = 0.25f * (float)(i - 116);
    rl_qrow q = rl_qrow_quantize(buf, x, N);
    for (int b = 0; b < N / RL_QBLOCK; b++) { /* the codes are those of nearbyintf in the default mode */
        float amax = 0;
        for (int i = b * 32; i < b * 32 + 32; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = b * 32; i < b * 32 + 32; i++) {
            float v = x[i] * id;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            CHECK(q.q[i] == (int8_t)nearbyintf(v), "item %d: code %d, nearbyintf %g", i, q.q[i], nearbyintf(v));
        }
    }
    CHECK(q.q[97] == 2 && q.q[98] == -4 && q.q[99] == 0 && q.q[100] == 0 && q.q[101] == 2 && q.q[102] == 126 && q.q[103] == -126,
          "ties to even: %d %d %d %d %d %d %d", q.q[97], q.q[98], q.q[99], q.q[100], q.q[101], q.q[102], q.q[103]);
    CHECK(rl_qrow_bytes(N) == N + 2 * 4 * (N / 32), "qrow bytes");
    for (int b = 0; b < N / RL_QBLOCK; b++) {
        double amax = 0, sum = 0;
        for (int i = b * 32; i < b * 32 + 32; i++) { amax = fmax(amax, fabs(x[i])); sum += x[i]; }
        CHECK(fabs(q.ds[2 * b] - amax / 127) <= 1e-6 * amax, "block %d: d %g amax %g", b, q.ds[2 * b], amax);
        CHECK(fabs(q.ds[2 * b + 1] - sum) <= 1e-5 * 32 * amax + 1e-12, "block %d: s %g want %g", b, q.ds[2 * b + 1], sum);
        for (int i = b * 32; i < b * 32 + 32; i++) {
            CHECK(q.q[i] >= -127 && q.q[i] <= 127, "q range");
            CHECK(fabs(x[i] - q.ds[2 * b] * q.q[i]) <= q.ds[2 * b] * 0.5001 + 1e-12, "item %d: %g vs %g", i, x[i], q.ds[2 * b] * q.q[i]);
        }
    }
}

/* Unsupported shapes: in not a multiple of the block fills NaN (like an unknown dtype). */
static void test_quant_edge(void) {
    float x[40] = {0}, y[2] = {0, 0};
    uint8_t w[200] = {0};
    rl_matmul(NULL, y, x, w, RL_DT_Q8_0, NULL, 1, 40, 2);
    CHECK(isnan(y[0]) && isnan(y[1]), "in=40 Q8_0 must give NaN");
    uint64_t nb;
    int64_t sh[2] = {3, 64};
    CHECK(rl_dtype_nbytes(RL_DT_Q8_0, 2, sh, &nb) == 0 && nb == 3 * 2 * 34, "Q8_0 nbytes %llu", (unsigned long long)nb);
    CHECK(rl_dtype_nbytes(RL_DT_Q4_1, 2, sh, &nb) == 0 && nb == 3 * 2 * 20, "Q4_1 nbytes");
    CHECK(rl_dtype_nbytes(RL_DT_BF16, 2, sh, &nb) == 0 && nb == 3 * 64 * 2, "BF16 nbytes");
    sh[1] = 48;
    CHECK(rl_dtype_nbytes(RL_DT_Q8_0, 2, sh, &nb) == -1, "last dim 48 must fail");
    CHECK(rl_dtype_nbytes(RL_DT_Q8_0, 0, sh, &nb) == -1, "scalar block tensor must fail");
    CHECK(rl_dtype_row_bytes(RL_DT_Q4_1, 64) == 40 && rl_dtype_row_bytes(RL_DT_F32, 5) == 20, "row bytes");
    CHECK(rl_dtype_from_name("Q8_0") == RL_DT_Q8_0 && rl_dtype_from_name("Q4_1") == RL_DT_Q4_1, "names");
}

/* The integer kernels (GEMV and the packed GEMM of sweeps) on data where every f32 operation is
 * exact (power-of-two scales, activations that quantise without rounding, small codes): each path
 * must then give exactly the scalar reference, on odd out / T, tails of the token and row tiles. */
static void put_half(uint8_t *p, float v) { uint16_t h = rl_f32_to_f16(v); memcpy(p, &h, 2); }

static void check_exact(rl_pool *p, rl_dtype dt, int T, int in, int out) {
    size_t rb = rl_dtype_row_bytes(dt, in);
    int nb = in / RL_QBLOCK;
    uint8_t *w = malloc(rb * (size_t)out);
    float *x = malloc(sizeof(float) * (size_t)T * in), *y = malloc(sizeof(float) * (size_t)T * out);
    float *bias = malloc(sizeof(float) * (size_t)out);
    for (int o = 0; o < out; o++) {
        bias[o] = (float)(o % 5) - 2.0f;
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = w + (size_t)o * rb + (size_t)b * RL_DTYPES[dt].block_bytes;
            put_half(blk, frand() < 0 ? 1.0f : 2.0f);
            if (dt == RL_DT_Q8_0) {
                for (int i = 0; i < 32; i++) blk[2 + i] = (uint8_t)(int8_t)((int)(frand() * 7.99f));
            } else {
                put_half(blk + 2, -(float)(int)((frand() + 1) * 4.0f));
                for (int i = 0; i < 16; i++) blk[4 + i] = (uint8_t)(rng >> (8 + i) & 0xff);
            }
        }
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < nb; b++) {
            float dx = frand() < 0 ? 0.5f : 1.0f;
            float *xb = x + (size_t)t * in + (size_t)b * 32;
            for (int i = 0; i < 32; i++) xb[i] = dx * (float)(int)(frand() * 126.99f);
            xb[(t + b) % 32] = (b % 2 ? -127.0f : 127.0f) * dx; /* block max: scale dx exactly */
        }
    rl_matmul(p, y, x, w, dt, bias, T, in, out);
    void *qbuf = malloc(rl_qrow_bytes(in));
    int bad = 0;
    for (int t = 0; t < T && !bad; t++) {
        rl_qrow xq = rl_qrow_quantize(qbuf, x + (size_t)t * in, in);
        for (int o = 0; o < out && !bad; o++) {
            float ref = rl_qdot_ref(dt, w + (size_t)o * rb, xq, in) + bias[o];
            if (y[(size_t)t * out + o] != ref) {
                CHECK(0, "%s %s T=%d in=%d out=%d: y[%d][%d]=%.9g, exact reference %.9g", rl_simd_name(),
                      RL_DTYPES[dt].st_name, T, in, out, t, o, y[(size_t)t * out + o], ref);
                bad = 1;
            }
        }
    }
    free(qbuf); free(w); free(x); free(y); free(bias);
}

static void test_qint_exact(void) {
    rl_matmul_set_compute(RL_COMPUTE_BF16); /* Q8_0 sweeps on the integer GEMM too */
    rl_pool *p = rl_pool_new(3);
    CHECK(p != NULL, "pool");
    static const int INS[] = {32, 96, 800, 1024}, TS[] = {1, 3, 4, 5, 7, 13, 67}, OUTS[] = {1, 17, 33, 100};
    static const rl_dtype DTS[] = {RL_DT_Q8_0, RL_DT_Q4_1};
    for (int pi = 0; pi < N_PATHS; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        for (int di = 0; di < 2; di++)
            for (int ii = 0; ii < 4; ii++)
                for (int ti = 0; ti < 7; ti++)
                    for (int oi = 0; oi < 4; oi++) check_exact((ii + ti + oi) % 2 ? p : NULL, DTS[di], TS[ti], INS[ii], OUTS[oi]);
        for (int di = 0; di < 2; di++) check_exact(p, DTS[di], 1100, 96, 37); /* sweeps over several token blocks */
        fprintf(stderr, "  %s exact\n", PATHS[pi]);
    }
    rl_matmul_set_compute(RL_COMPUTE_F32);
    rl_simd_force(NULL);
    rl_pool_free(p);
}

int main(void) {
    RUN(test_quant_edge);
    RUN(test_qint_exact);
    RUN(test_quantize_roundtrip);
    RUN(test_qrow_quantize);
    RUN(test_qrow_special);
    RUN(test_matmul_quant);
    TEST_END();
}
