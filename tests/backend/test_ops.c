/* Tests the elementwise/per-row ops (ops.h) against double-precision references. */
#include "test.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x13198a2e03707344ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * (1 + fabs((double)(b))))

static void test_rmsnorm(void) {
    static const int NS[] = {1, 7, 64, 1001};
    for (int k = 0; k < 4; k++) {
        int n = NS[k], T = 3;
        float x[3 * 1001], w[1001], o[3 * 1001], xa[3 * 1001];
        for (int i = 0; i < T * n; i++) x[i] = xa[i] = 3 * frand();
        for (int i = 0; i < n; i++) w[i] = frand();
        for (int op = 0; op < 3; op++) {
            rl_rmsnorm(o, x, op == 2 ? NULL : w, T, n, 1e-6f, op == 1);
            for (int t = 0; t < T; t++) {
                double ss = 0;
                for (int i = 0; i < n; i++) ss += (double)x[t * n + i] * x[t * n + i];
                double r = 1 / sqrt(ss / n + 1e-6);
                for (int i = 0; i < n; i++) {
                    double g = op == 2 ? 1 : op == 1 ? 1 + (double)w[i] : w[i];
                    CHECK(NEAR(o[t * n + i], x[t * n + i] * r * g, 1e-5), "rms n=%d op=%d", n, op);
                }
            }
        }
        rl_rmsnorm(xa, xa, w, T, n, 1e-6f, 0); /* in place */
        rl_rmsnorm(o, x, w, T, n, 1e-6f, 0);
        CHECK(!memcmp(o, xa, sizeof(float) * (size_t)T * n), "rms alias n=%d", n);
    }
}

static void test_layernorm(void) {
    static const int NS[] = {1, 7, 64, 1001};
    for (int k = 0; k < 4; k++) {
        int n = NS[k], T = 2;
        float x[2 * 1001], w[1001], b[1001], o[2 * 1001];
        for (int i = 0; i < T * n; i++) x[i] = 2 * frand() + 0.5f;
        for (int i = 0; i < n; i++) { w[i] = frand(); b[i] = frand(); }
        for (int wb = 0; wb < 3; wb++) {
            rl_layernorm(o, x, wb == 2 ? NULL : w, wb == 0 ? b : NULL, T, n, 1e-5f);
            for (int t = 0; t < T; t++) {
                double m = 0, v = 0;
                for (int i = 0; i < n; i++) m += x[t * n + i];
                m /= n;
                for (int i = 0; i < n; i++) v += (x[t * n + i] - m) * (x[t * n + i] - m);
                v /= n;
                for (int i = 0; i < n; i++) {
                    double r = (x[t * n + i] - m) / sqrt(v + 1e-5);
                    if (wb != 2) r *= w[i];
                    if (wb == 0) r += b[i];
                    CHECK(NEAR(o[t * n + i], r, 1e-5), "ln n=%d wb=%d i=%d: %g vs %g", n, wb, i, o[t * n + i], r);
                }
            }
        }
    }
}

static void test_activations(void) {
    enum { N = 1003 };
    float g[N], u[N], r[N];
    for (int kind = 0; kind < 3; kind++)
        for (int withup = 0; withup < 2; withup++) {
            for (int i = 0; i < N; i++) { g[i] = 12 * frand(); u[i] = frand(); r[i] = g[i]; }
            g[0] = 0; g[1] = -30; g[2] = 30; r[0] = 0; r[1] = -30; r[2] = 30;
            if (kind == 0) rl_silu_mul(g, withup ? u : NULL, N);
            else if (kind == 1) rl_gelu_tanh_mul(g, withup ? u : NULL, N);
            else rl_gelu_erf_mul(g, withup ? u : NULL, N);
            for (int i = 0; i < N; i++) {
                double x = r[i], a;
                if (kind == 0) a = x / (1 + exp(-x));
                else if (kind == 1) a = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
                else a = 0.5 * x * (1 + erf(x / sqrt(2)));
                if (withup) a *= u[i];
                CHECK(NEAR(g[i], a, 1e-5), "act kind=%d up=%d x=%g: %g vs %g", kind, withup, x, g[i], a);
            }
        }
}

/* SiLU on every SIMD path (odd lengths: vector bodies and tails), against double precision,
 * with arguments past exp's range and NaN. */
static void test_silu_paths(void) {
    static const char *PATHS[] = {"scalar", "avx2", "avx512"};
    static const int NS[] = {1, 7, 8, 15, 16, 17, 33, 1003};
    enum { N = 1003 };
    static float g[N], u[N], r[N];
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        for (int ni = 0; ni < 8; ni++) {
            int n = NS[ni];
            for (int i = 0; i < n; i++) { r[i] = 40 * frand(); u[i] = frand(); }
            static const float EXT[] = {0.0f, -87.5f, 88.5f, -100.0f, 100.0f, -1e30f, 1e30f, 1e-30f};
            for (int i = 0; i < 8 && i < n; i++) r[(i * 5) % n] = EXT[i];
            for (int up = 0; up < 2; up++) {
                for (int i = 0; i < n; i++) g[i] = r[i];
                rl_silu_mul(g, up ? u : NULL, n);
                for (int i = 0; i < n; i++) {
                    double x = r[i], a = x / (1 + exp(-x));
                    if (up) a *= u[i];
                    CHECK(NEAR(g[i], a, 2e-6), "%s n=%d up=%d x=%g: %.9g vs %.9g", PATHS[pi], n, up, x, g[i], a);
                }
            }
        }
        g[0] = NAN;
        rl_silu_mul(g, NULL, 17);
        CHECK(isnan(g[0]), "%s: silu(NaN) = %g", PATHS[pi], g[0]);
    }
    rl_simd_force(NULL);
}

static void test_softmax_add_scale(void) {
    static const int NS[] = {1, 2, 17, 1000};
    for (int k = 0; k < 4; k++) {
        int n = NS[k];
        float x[1000], x0[1000];
        for (int i = 0; i < n; i++) x[i] = x0[i] = 20 * frand();
        if (n > 1) x[1] = x0[1] = -INFINITY;
        rl_softmax(x, n);
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < n; i++) if (x0[i] > mx) mx = x0[i];
        for (int i = 0; i < n; i++) s += exp(x0[i] - mx);
        double tot = 0;
        for (int i = 0; i < n; i++) { CHECK(NEAR(x[i], exp(x0[i] - mx) / s, 1e-5), "softmax n=%d i=%d", n, i); tot += x[i]; }
        CHECK(fabs(tot - 1) < 1e-5, "softmax sum %g", tot);
    }
    float big[3] = {1000, 1000, -1000};
    rl_softmax(big, 3);
    CHECK(NEAR(big[0], 0.5, 1e-6) && big[2] == 0, "softmax large");
    float y[5] = {1, 2, 3, 4, 5}, x[5] = {1, 1, 1, 1, 1};
    rl_add(y, x, 5);
    CHECK(y[0] == 2 && y[4] == 6, "add");
    rl_scale(y, 0.5f, 5);
    CHECK(y[0] == 1 && y[4] == 3, "scale");
    rl_add(y, x, 0);
    rl_softmax(y, 0);
}

int main(void) {
    RUN(test_rmsnorm);
    RUN(test_layernorm);
    RUN(test_activations);
    RUN(test_silu_paths);
    RUN(test_softmax_add_scale);
    TEST_END();
}
