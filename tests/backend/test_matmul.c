/* Tests rl_matmul (every dtype, every SIMD path this CPU has, odd sizes, with/without threads
 * and bias), rl_dot_f32, rl_axpy_f32 and rl_convert_to_f32 against double-precision references. */
#include "test.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static const char *PATHS[] = {"scalar", "avx2", "avx512"};

/* Fills w with n random values of type dt and wf with their exact f32 values. */
static void rand_weights(void *w, float *wf, rl_dtype dt, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = frand();
        if (dt == RL_DT_F32) { ((float *)w)[i] = v; wf[i] = v; }
        else if (dt == RL_DT_BF16) { uint16_t h = rl_f32_to_bf16(v); ((uint16_t *)w)[i] = h; wf[i] = rl_bf16_to_f32(h); }
        else { uint16_t h = rl_f32_to_f16(v); ((uint16_t *)w)[i] = h; wf[i] = rl_f16_to_f32(h); }
    }
}

static int g_xbf16; /* 1: the reference rounds x to bf16 (the --compute bf16 GEMM) */

static int check_case(rl_pool *p, rl_dtype dt, int T, int in, int out, int with_bias) {
    float *x = malloc(sizeof(float) * (size_t)T * in), *wf = malloc(sizeof(float) * (size_t)out * in);
    void *w = malloc(4 * (size_t)out * in);
    float *b = malloc(sizeof(float) * (size_t)out), *y = malloc(sizeof(float) * (size_t)T * out);
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = frand();
    rand_weights(w, wf, dt, (int64_t)out * in);
    for (int o = 0; o < out; o++) b[o] = frand();
    for (int64_t i = 0; i < (int64_t)T * out; i++) y[i] = 1e30f; /* must be overwritten */
    rl_matmul(p, y, x, w, dt, with_bias ? b : NULL, T, in, out);
    int bad = 0;
    for (int t = 0; t < T && !bad; t++)
        for (int o = 0; o < out && !bad; o++) {
            double s = with_bias ? b[o] : 0, mag = fabs(s);
            for (int i = 0; i < in; i++) {
                double xv = x[(size_t)t * in + i];
                if (g_xbf16) xv = rl_bf16_to_f32(rl_f32_to_bf16((float)xv));
                double pr = xv * wf[(size_t)o * in + i];
                s += pr; mag += fabs(pr);
            }
            double got = y[(size_t)t * out + o];
            if (!(fabs(got - s) <= 1e-5 * mag + 1e-6)) {
                CHECK(0, "%s dt=%d T=%d in=%d out=%d bias=%d threads=%d: y[%d][%d]=%g want %g",
                      rl_simd_name(), dt, T, in, out, with_bias, rl_pool_size(p), t, o, got, s);
                bad = 1;
            }
        }
    free(x); free(wf); free(w); free(b); free(y);
    return !bad;
}

static void test_matmul_all(void) {
    rl_pool *p = rl_pool_new(3);
    CHECK(p != NULL, "pool");
    static const int INS[] = {1, 7, 33, 1000}, TS[] = {1, 3, 17, 64}, OUTS[] = {1, 13, 100};
    static const rl_dtype DTS[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16};
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) { fprintf(stderr, "  (skip %s: not supported)\n", PATHS[pi]); continue; }
        for (int di = 0; di < 3; di++)
            for (int ii = 0; ii < 4; ii++)
                for (int ti = 0; ti < 4; ti++)
                    for (int oi = 0; oi < 3; oi++)
                        check_case((ti + oi + ii) % 2 ? p : NULL, DTS[di], TS[ti], INS[ii], OUTS[oi], (ti + oi) % 2);
        /* several K blocks with a tail, several row and token blocks */
        for (int di = 0; di < 3; di++) {
            check_case(p, DTS[di], 70, 2100, 203, 1);
            check_case(p, DTS[di], 2, 2100, 203, 0);
        }
    }
    rl_simd_force(NULL);
    rl_pool_free(p);
}

/* --compute bf16: BF16 weights from 4 tokens on use VDPBF16PS on bf16-rounded activations (exact
 * products of bf16 values, f32 sums): 4..15 tokens on the dot-product kernel, from 16 on the
 * outer-product one (token lanes, 64-token groups, 512-token items, 512-item slices, odd
 * lengths); fewer tokens and other dtypes keep f32 activations. */
static void test_matmul_compute_bf16(void) {
    CHECK(rl_matmul_get_compute() == RL_COMPUTE_F32, "default compute is f32");
    if (!rl_simd_supported("avx512bf16")) { fprintf(stderr, "  (skip: no AVX512-BF16)\n"); return; }
    rl_pool *p = rl_pool_new(2);
    rl_matmul_set_compute(RL_COMPUTE_BF16);
    static const int INS[] = {1, 31, 33, 1000, 2100}, TS[] = {4, 5, 15, 16, 17, 70, 130}, OUTS[] = {1, 7, 100};
    g_xbf16 = 1;
    for (int ii = 0; ii < 5; ii++)
        for (int ti = 0; ti < 7; ti++)
            for (int oi = 0; oi < 3; oi++)
                check_case((ti + oi) % 2 ? p : NULL, RL_DT_BF16, TS[ti], INS[ii], OUTS[oi], (ii + oi) % 2);
    check_case(p, RL_DT_BF16, 600, 1025, 61, 1); /* two token items (512 + 88), the odd item in a later slice */
    check_case(NULL, RL_DT_BF16, 64, 513, 97, 0);
    g_xbf16 = 0;
    check_case(p, RL_DT_BF16, 3, 1000, 13, 1); /* decode: f32 */
    check_case(p, RL_DT_F16, 17, 1000, 13, 1);
    check_case(p, RL_DT_F32, 17, 1000, 13, 1);
    rl_simd_force("avx2"); /* not an AVX-512 path: f32 */
    check_case(p, RL_DT_BF16, 17, 1000, 13, 1);
    rl_simd_force(NULL);
    rl_matmul_set_compute(RL_COMPUTE_F32);
    check_case(p, RL_DT_BF16, 17, 1000, 13, 1);
    rl_pool_free(p);
}

static void test_matmul_edge(void) {
    float y[6] = {9, 9, 9, 9, 9, 9}, b[3] = {1, 2, 3};
    rl_matmul(NULL, y, NULL, NULL, RL_DT_F32, b, 2, 0, 3); /* in = 0: y = bias */
    CHECK(y[0] == 1 && y[4] == 2 && y[5] == 3, "in=0");
    rl_matmul(NULL, y, NULL, NULL, RL_DT_F32, NULL, 0, 5, 3); /* T = 0: no-op */
    CHECK(y[0] == 1, "T=0");
    float x[2] = {1, 2}, w[2] = {3, 4};
    rl_matmul(NULL, y, x, w, RL_DT_I8, NULL, 1, 2, 1);
    CHECK(isnan(y[0]), "unsupported dtype -> NaN");
}

static void test_vec_helpers(void) {
    static const int NS[] = {0, 1, 7, 8, 15, 16, 17, 33, 100, 1001};
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        for (int k = 0; k < 10; k++) {
            int n = NS[k];
            float a[1001], b[1001], y[1001], y0[1001];
            double ref = 0, mag = 0;
            for (int i = 0; i < n; i++) { a[i] = frand(); b[i] = frand(); y[i] = y0[i] = frand(); ref += (double)a[i] * b[i]; mag += fabs((double)a[i] * b[i]); }
            float d = rl_dot_f32(a, b, n);
            CHECK(fabs(d - ref) <= 1e-5 * mag + 1e-7, "%s dot n=%d: %g vs %g", PATHS[pi], n, d, ref);
            rl_axpy_f32(y, 0.37f, a, n);
            for (int i = 0; i < n; i++)
                CHECK(fabs(y[i] - (y0[i] + 0.37 * a[i])) <= 1e-6, "%s axpy n=%d i=%d", PATHS[pi], n, i);
            uint16_t hb[1001], hh[1001];
            float cb[1001], ch[1001], cf[1001];
            for (int i = 0; i < n; i++) { hb[i] = rl_f32_to_bf16(a[i]); hh[i] = rl_f32_to_f16(a[i] * 100); }
            rl_convert_to_f32(cb, hb, RL_DT_BF16, n);
            rl_convert_to_f32(ch, hh, RL_DT_F16, n);
            rl_convert_to_f32(cf, a, RL_DT_F32, n);
            for (int i = 0; i < n; i++) {
                CHECK(cb[i] == rl_bf16_to_f32(hb[i]), "%s cvt bf16 n=%d i=%d", PATHS[pi], n, i);
                CHECK(ch[i] == rl_f16_to_f32(hh[i]), "%s cvt f16 n=%d i=%d", PATHS[pi], n, i);
                CHECK(cf[i] == a[i], "%s cvt f32", PATHS[pi]);
            }
        }
    }
    /* special f16 values: subnormal, inf, negative zero */
    uint16_t sp[16] = {0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x3c00, 0xbc00, 0x7bff,
                       0x0400, 0x1234, 0x5678, 0x0001, 0x8001, 0x3555, 0x4000, 0xc000};
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        float o[16];
        rl_convert_to_f32(o, sp, RL_DT_F16, 16);
        for (int i = 0; i < 16; i++) CHECK(o[i] == rl_f16_to_f32(sp[i]), "%s f16 special %04x", PATHS[pi], sp[i]);
    }
    double dd[3] = {1.5, -2.25, 1e10};
    float od[3];
    rl_convert_to_f32(od, dd, RL_DT_F64, 3);
    CHECK(od[0] == 1.5f && od[1] == -2.25f && od[2] == 1e10f, "f64");
    rl_simd_force(NULL);
}

static void test_simd_force(void) {
    CHECK(rl_simd_force("bogus") == -1, "unknown name refused");
    CHECK(rl_simd_force("scalar") == 0 && !strcmp(rl_simd_name(), "scalar"), "scalar");
    rl_simd_force(NULL);
    fprintf(stderr, "  auto SIMD path: %s\n", rl_simd_name());
}

int main(void) {
    RUN(test_simd_force);
    RUN(test_vec_helpers);
    RUN(test_matmul_edge);
    RUN(test_matmul_all);
    RUN(test_matmul_compute_bf16);
    TEST_END();
}
