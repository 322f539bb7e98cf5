/* Tests rl_attention against a double-precision reference: MHA and GQA, sliding window,
 * softcap, T > 1 with pos0 > 0, v_dim != head_dim, with and without threads, every SIMD path;
 * decode rows (grouped heads of a KV head per work item) and the tiled (flash-style) prefill
 * path with its block edges. */
#include "test.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/attention_kv.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x243f6a8885a308d3ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static void ref_attention(double *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                          int nh, int nkv, int hd, int vd, double scale, double softcap, int window) {
    int ctx = pos0 + T, g = nh / nkv;
    double *s = malloc(sizeof(double) * (size_t)ctx);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            int i = pos0 + t;
            double mx = -INFINITY;
            for (int j = 0; j < ctx; j++) {
                int vis = j <= i && (window <= 0 || i - j < window);
                if (!vis) { s[j] = -INFINITY; continue; }
                double d = 0;
                for (int k = 0; k < hd; k++)
                    d += (double)q[((size_t)t * nh + h) * hd + k] * kc[((size_t)j * nkv + h / g) * hd + k];
                d *= scale;
                if (softcap > 0) d = softcap * tanh(d / softcap);
                s[j] = d;
                if (d > mx) mx = d;
            }
            double sum = 0;
            for (int j = 0; j < ctx; j++) { s[j] = s[j] == -INFINITY ? 0 : exp(s[j] - mx); sum += s[j]; }
            for (int c = 0; c < vd; c++) {
                double o = 0;
                for (int j = 0; j < ctx; j++) o += s[j] / sum * vc[((size_t)j * nkv + h / g) * vd + c];
                out[((size_t)t * nh + h) * vd + c] = o;
            }
        }
    free(s);
}

static void one(rl_pool *p, int T, int pos0, int nh, int nkv, int hd, int vd, float softcap, int window) {
    int ctx = pos0 + T;
    float *q = malloc(sizeof(float) * (size_t)T * nh * hd), *kc = malloc(sizeof(float) * (size_t)ctx * nkv * hd);
    float *vc = malloc(sizeof(float) * (size_t)ctx * nkv * vd), *out = malloc(sizeof(float) * (size_t)T * nh * vd);
    double *ref = malloc(sizeof(double) * (size_t)T * nh * vd);
    for (size_t i = 0; i < (size_t)T * nh * hd; i++) q[i] = 2 * frand();
    for (size_t i = 0; i < (size_t)ctx * nkv * hd; i++) kc[i] = 2 * frand();
    for (size_t i = 0; i < (size_t)ctx * nkv * vd; i++) vc[i] = frand();
    int64_t ns = rl_attention_kv_scratch_floats(rl_pool_size(p), ctx);
    float *scratch = malloc(sizeof(float) * (size_t)ns);
    float scale = 1.0f / sqrtf((float)hd);
    rl_attention(p, out, q, kc, vc, T, pos0, nh, nkv, hd, vd, scale, softcap, window, scratch);
    ref_attention(ref, q, kc, vc, T, pos0, nh, nkv, hd, vd, scale, softcap, window);
    int bad = 0;
    for (size_t i = 0; i < (size_t)T * nh * vd && !bad; i++)
        if (!(fabs(out[i] - ref[i]) <= 2e-5)) {
            CHECK(0, "%s T=%d pos0=%d nh=%d nkv=%d hd=%d vd=%d cap=%g win=%d thr=%d: [%zu] %g vs %g", rl_simd_name(),
                  T, pos0, nh, nkv, hd, vd, softcap, window, rl_pool_size(p), i, out[i], ref[i]);
            bad = 1;
        }
    free(q); free(kc); free(vc); free(out); free(ref); free(scratch);
}

static void test_attention(void) {
    static const char *PATHS[] = {"scalar", "avx2", "avx512"};
    rl_pool *p = rl_pool_new(3);
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        for (int th = 0; th < 2; th++) {
            rl_pool *pp = th ? p : NULL;
            one(pp, 1, 0, 4, 4, 16, 16, 0, 0);        /* first token */
            one(pp, 7, 0, 4, 4, 33, 33, 0, 0);        /* prefill, odd head_dim */
            one(pp, 5, 11, 8, 2, 64, 64, 0, 0);       /* GQA, T > 1 with pos0 > 0 */
            one(pp, 1, 40, 6, 3, 32, 48, 0, 0);       /* decode, v_dim != head_dim */
            one(pp, 9, 20, 4, 1, 16, 16, 0, 6);       /* MQA + sliding window */
            one(pp, 6, 3, 4, 2, 24, 24, 2.5f, 0);     /* softcap */
            one(pp, 17, 30, 8, 4, 128, 128, 30.0f, 16); /* all together */
            one(pp, 3, 0, 2, 2, 8, 8, 0, 1);          /* window 1: attends to itself only */
            /* the tiled path (T >= 8): several query and key blocks, tails, GQA, windows, caps */
            one(pp, 8, 0, 2, 1, 16, 16, 0, 0);
            one(pp, 100, 70, 8, 2, 64, 64, 0, 0);
            one(pp, 100, 70, 8, 2, 64, 48, 50.0f, 50);
            one(pp, 33, 0, 3, 3, 33, 17, 0, 5);       /* odd dims, small window: empty key blocks */
            one(pp, 20, 200, 4, 2, 256, 256, 0, 70);  /* largest tiled dims, window inside the cache */
            one(pp, 10, 5, 2, 1, 300, 40, 0, 0);      /* head_dim above the tile limit: plain path */
            /* decode rows of grouped heads (blocks of heads of a KV head per work item) */
            one(pp, 1, 300, 12, 2, 128, 128, 0, 0);   /* 6 heads per KV head, several key blocks */
            one(pp, 2, 150, 32, 1, 64, 64, 0, 100);   /* a group of 32 > QB: blocks of heads; window */
            one(pp, 1, 90, 14, 2, 64, 80, 20.0f, 0);  /* a group of 7, soft-cap, v_dim != head_dim */
        }
    }
    rl_simd_force(NULL);
    rl_pool_free(p);
    CHECK(rl_attention_scratch_floats(2, 10) >= 20, "scratch size");
}

int main(void) {
    RUN(test_attention);
    TEST_END();
}
