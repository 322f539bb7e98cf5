/* Tests the optional CUDA matmul offload (src/backend/cuda/). On a machine without a usable
 * device (or a build without CUDA=1) it checks the fallback: the offload reports itself off,
 * rl_cuda_matmul declines (returns -1, y untouched) and rl_matmul still computes on the CPU.
 * With a device (make CUDA=1, tests/cuda/device_check.sh) it compares GPU and CPU results for
 * every weight type (F32, F16, BF16, Q8_0, Q4_1), odd sizes, with and without bias (max error
 * relative to the largest |y| <= 1e-4), checks weights read from a registered (pinned, cached on
 * the device) buffer, including a rewrite after rl_cuda_invalidate, and times one prefill-sized
 * product both ways. */
#include "test.h"
#include "backend/cpu/matmul.h"
#include "backend/cuda/cuda.h"
#include "quant/quantize.h"
#include "util/timer.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

/* Random weights of type dt, [out][in]. */
static void *make_w(rl_dtype dt, int in, int out) {
    size_t rb = rl_dtype_row_bytes(dt, in);
    uint8_t *w = malloc(rb * (size_t)out);
    float *row = malloc(sizeof(float) * (size_t)in);
    for (int o = 0; o < out; o++) {
        float sc = 0.05f + 0.1f * (float)(o % 5);
        for (int i = 0; i < in; i++) row[i] = sc * frand();
        uint8_t *dst = w + (size_t)o * rb;
        for (int i = 0; i < in; i++) {
            if (dt == RL_DT_F32) memcpy(dst + 4 * (size_t)i, &row[i], 4);
            else if (dt == RL_DT_BF16) { uint16_t h = rl_f32_to_bf16(row[i]); memcpy(dst + 2 * (size_t)i, &h, 2); }
            else if (dt == RL_DT_F16) { uint16_t h = rl_f32_to_f16(row[i]); memcpy(dst + 2 * (size_t)i, &h, 2); }
        }
        if (rl_dtype_is_block(dt) && rl_quantize_row(dt, row, dst, in)) { free(w); w = NULL; break; }
    }
    free(row);
    return w;
}

/* Max |gpu - cpu| / max |cpu| for one product (GPU forced: no size threshold). Returns -1 if the
 * GPU declined. */
static double compare(rl_pool *p, rl_dtype dt, int T, int in, int out, int with_bias) {
    float *x = malloc(sizeof(float) * (size_t)T * in), *b = malloc(sizeof(float) * (size_t)out);
    float *yg = malloc(sizeof(float) * (size_t)T * out), *yc = malloc(sizeof(float) * (size_t)T * out);
    void *w = make_w(dt, in, out);
    double r = -1;
    if (!x || !b || !yg || !yc || !w) goto done;
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = frand();
    for (int o = 0; o < out; o++) b[o] = frand();
    if (rl_cuda_matmul(yg, x, w, dt, with_bias ? b : NULL, T, in, out, 1)) goto done;
    rl_cuda_request(0); /* CPU reference */
    rl_matmul(p, yc, x, w, dt, with_bias ? b : NULL, T, in, out);
    rl_cuda_request(1);
    double md = 0, mx = 0;
    for (int64_t i = 0; i < (int64_t)T * out; i++) {
        double d = fabs((double)yg[i] - yc[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs(yc[i]) > mx) mx = fabs(yc[i]);
    }
    r = mx > 0 ? md / mx : md;
done:
    free(x); free(b); free(yg); free(yc); free(w);
    return r;
}

/* Max |gpu - cpu| / max |cpu| of y = x W^T for a weight already in place (w may be in a
 * registered buffer); -1 if the GPU declined. */
static double compare_at(rl_pool *p, const void *w, rl_dtype dt, const float *x, int T, int in, int out) {
    float *yg = malloc(sizeof(float) * (size_t)T * out), *yc = malloc(sizeof(float) * (size_t)T * out);
    double r = -1, md = 0, mx = 0;
    if (!yg || !yc || rl_cuda_matmul(yg, x, w, dt, NULL, T, in, out, 1)) goto done;
    rl_cuda_request(0);
    rl_matmul(p, yc, x, w, dt, NULL, T, in, out);
    rl_cuda_request(1);
    for (int64_t i = 0; i < (int64_t)T * out; i++) {
        double d = fabs((double)yg[i] - yc[i]);
        if (!(d <= md)) md = d;
        if (fabs(yc[i]) > mx) mx = fabs(yc[i]);
    }
    r = mx > 0 ? md / mx : md;
done:
    free(yg); free(yc);
    return r;
}

/* Weights inside one registered buffer (as the loader's slots): the first product uploads the
 * whole buffer, the next ones reuse it; after rl_cuda_invalidate and a rewrite the new bytes are
 * used. BF16 (GemmEx path) and Q8_0 (dequantize path) weights side by side. */
static void test_registered(rl_pool *p) {
    const int T = 19, in = 512, o1 = 300, o2 = 77, o3 = 129;
    size_t b1 = rl_dtype_row_bytes(RL_DT_BF16, in) * o1, b2 = rl_dtype_row_bytes(RL_DT_BF16, in) * o2;
    size_t b3 = rl_dtype_row_bytes(RL_DT_Q8_0, in) * o3, off2 = 4096 + b1, off3 = off2 + b2 + 64;
    size_t n = off3 + b3 + 1000;
    uint8_t *buf = NULL;
    float *x = malloc(sizeof(float) * (size_t)T * in);
    CHECK(x && !posix_memalign((void **)&buf, 4096, n), "alloc");
    if (!x || !buf) { free(x); return; }
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = frand();
    memset(buf, 0, n);
    rl_cuda_register(buf, n);
    for (int round = 0; round < 2; round++) {
        if (round) rl_cuda_invalidate(buf); /* contents change from here on */
        void *w1 = make_w(RL_DT_BF16, in, o1), *w2 = make_w(RL_DT_BF16, in, o2), *w3 = make_w(RL_DT_Q8_0, in, o3);
        memcpy(buf + 4096, w1, b1); memcpy(buf + off2, w2, b2); memcpy(buf + off3, w3, b3);
        free(w1); free(w2); free(w3);
        double r2 = compare_at(p, buf + off2, RL_DT_BF16, x, T, in, o2); /* first use: uploads */
        double r1 = compare_at(p, buf + 4096, RL_DT_BF16, x, T, in, o1);
        double r3 = compare_at(p, buf + off3, RL_DT_Q8_0, x, T, in, o3);
        CHECK(r1 >= 0 && r1 <= 1e-4 && r2 >= 0 && r2 <= 1e-4 && r3 >= 0 && r3 <= 1e-4,
              "registered buffer, round %d: rel err %g %g %g", round, r1, r2, r3);
        printf("registered buffer round %d: max rel err %.3g %.3g %.3g\n", round, r1, r2, r3);
    }
    rl_cuda_unregister(buf);
    free(buf); free(x);
}

static void test_offload(void) {
    rl_pool *p = rl_pool_new(0);
    rl_cuda_request(1);
    char desc[1024];
    if (!rl_cuda_active()) {
        /* no device or no CUDA build: declines, leaves y alone, rl_matmul stays correct */
        float x[32 * 2], w[32 * 3], y[2 * 3];
        for (int i = 0; i < 64; i++) x[i] = frand();
        for (int i = 0; i < 96; i++) w[i] = frand();
        for (int i = 0; i < 6; i++) y[i] = 42.0f;
        rl_cuda_register(w, sizeof w); /* no-ops without a device */
        rl_cuda_invalidate(w);
        rl_cuda_unregister(w);
        CHECK(rl_cuda_matmul(y, x, w, RL_DT_F32, NULL, 2, 32, 3, 1) == -1, "declines without a device");
        for (int i = 0; i < 6; i++) CHECK(y[i] == 42.0f, "y untouched");
        rl_matmul(p, y, x, w, RL_DT_F32, NULL, 2, 32, 3);
        for (int t = 0; t < 2; t++)
            for (int o = 0; o < 3; o++) {
                double s = 0;
                for (int i = 0; i < 32; i++) s += (double)x[t * 32 + i] * w[o * 32 + i];
                CHECK(fabs(y[t * 3 + o] - s) < 1e-4, "cpu fallback result");
            }
        printf("cuda offload: skipped (%s)\n", rl_cuda_describe(desc, sizeof desc));
        rl_cuda_request(0);
        rl_pool_free(p);
        return;
    }
    static const rl_dtype DT[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0, RL_DT_Q4_1};
    static const int SZ[][3] = {{1, 32, 1}, {3, 96, 7}, {17, 1000, 257}, {16, 896, 4864}, {131, 4864, 897},
                                {128, 2048, 2048}};
    for (size_t d = 0; d < sizeof DT / sizeof DT[0]; d++) {
        double worst = 0;
        for (size_t s = 0; s < sizeof SZ / sizeof SZ[0]; s++) {
            int T = SZ[s][0], in = SZ[s][1], out = SZ[s][2];
            if (rl_dtype_is_block(DT[d]) && in % RL_QBLOCK) continue;
            for (int wb = 0; wb < 2; wb++) {
                double r = compare(p, DT[d], T, in, out, wb);
                CHECK(r >= 0 && r <= 1e-4, "%s T=%d in=%d out=%d bias=%d: rel err %g", RL_DTYPES[DT[d]].st_name, T,
                      in, out, wb, r);
                if (!(r <= worst)) worst = r;
            }
        }
        printf("cuda vs cpu %-5s max rel err %.3g\n", RL_DTYPES[DT[d]].st_name, worst);
    }
    test_registered(p);
    /* timing of one prefill-sized product (T=128, 4864 x 896 BF16, Qwen2.5-0.5B's MLP up) */
    int T = 128, in = 896, out = 4864;
    void *w = make_w(RL_DT_BF16, in, out);
    float *x = malloc(sizeof(float) * (size_t)T * in), *y = malloc(sizeof(float) * (size_t)T * out);
    for (int64_t i = 0; i < (int64_t)T * in; i++) x[i] = frand();
    double tg = 1e9, tc = 1e9;
    for (int k = 0; k < 5; k++) {
        double t0 = rl_now_s();
        CHECK(rl_cuda_matmul(y, x, w, RL_DT_BF16, NULL, T, in, out, 1) == 0, "gpu timing run");
        double t1 = rl_now_s();
        rl_cuda_request(0);
        rl_matmul(p, y, x, w, RL_DT_BF16, NULL, T, in, out);
        double t2 = rl_now_s();
        rl_cuda_request(1);
        if (t1 - t0 < tg) tg = t1 - t0;
        if (t2 - t1 < tc) tc = t2 - t1;
    }
    printf("matmul T=%d in=%d out=%d bf16: gpu %.3f ms (incl. transfers), cpu %.3f ms (%d threads)\n", T, in, out,
           tg * 1e3, tc * 1e3, rl_pool_size(p));
    /* the same weight in a registered buffer: first product (pinned upload) and reuse */
    size_t wb = rl_dtype_row_bytes(RL_DT_BF16, in) * out;
    uint8_t *rb = NULL;
    if (!posix_memalign((void **)&rb, 4096, wb)) {
        memcpy(rb, w, wb);
        rl_cuda_register(rb, wb);
        double tf = 1e9, tr = 1e9;
        for (int k = 0; k < 5; k++) {
            rl_cuda_invalidate(rb);
            double t0 = rl_now_s();
            CHECK(rl_cuda_matmul(y, x, rb, RL_DT_BF16, NULL, T, in, out, 1) == 0, "gpu registered run");
            double t1 = rl_now_s();
            CHECK(rl_cuda_matmul(y, x, rb, RL_DT_BF16, NULL, T, in, out, 1) == 0, "gpu registered reuse");
            double t2 = rl_now_s();
            if (t1 - t0 < tf) tf = t1 - t0;
            if (t2 - t1 < tr) tr = t2 - t1;
        }
        printf("same, weight in a registered buffer: gpu %.3f ms first use (pinned upload of %.1f MiB), %.3f ms "
               "reuse\n", tf * 1e3, wb / 1048576.0, tr * 1e3);
        rl_cuda_unregister(rb);
        free(rb);
    }
    printf("%s\n", rl_cuda_describe(desc, sizeof desc));
    free(w); free(x); free(y);
    rl_cuda_request(0);
    rl_pool_free(p);
}

int main(void) {
    RUN(test_offload);
    TEST_END();
}
