/* ggml-cpu's f32 building blocks (ggml_math.h): rl_ggml_v_expf's power-of-two step gives ldexpf's
 * bits everywhere (its fast form covers only the exponents whose result is a normal float). */
#include "test.h"
#include "backend/cpu/ggml_math.h"
#include "backend/cpu/ggml_ops.h"
#include "backend/cpu/simd.h"
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* The power of two by ldexpf, over the same polynomial. */
static float ref_v_expf(float x) {
    float j;
    int e;
    if (!rl_ggml_v_expf_poly(x, &j, &e)) return e <= 0 ? 0.0f : INFINITY;
    return ldexpf(j, e);
}

static void test_v_expf(void) {
    long bad = 0;
    for (uint32_t i = 0; i < (1u << 24); i++) { /* every 256th float pattern, both signs */
        uint32_t u = i << 8;
        float x;
        memcpy(&x, &u, 4);
        if (x != x) continue;
        float a = rl_ggml_v_expf(x), b = ref_v_expf(x);
        if (memcmp(&a, &b, 4)) bad++;
    }
    for (float x = -200.0f; x <= 200.0f; x += 0.001953125f) { /* the whole active range, finely */
        float a = rl_ggml_v_expf(x), b = ref_v_expf(x);
        if (memcmp(&a, &b, 4)) bad++;
    }
    CHECK(bad == 0, "%ld inputs differ from the ldexpf form", bad);
    CHECK(rl_ggml_v_expf(0.0f) == 1.0f, "exp(0)");
    CHECK(rl_ggml_v_expf(-100.0f) > 0.0f && rl_ggml_v_expf(-100.0f) < 1e-40f, "a subnormal result");
    CHECK(rl_ggml_v_expf(-200.0f) == 0.0f && rl_ggml_v_expf(100.0f) == INFINITY, "the ends");
}

/* rl_ggml_silu_mul's AVX-512 runs give the scalar form's bits (x from -120 to 120 finely, the
 * ends of v_expf's range, a tail of 7 items, with and without up). */
static void test_silu_zmm(void) {
    enum { N = 61447 };
    float *x = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float)), *a = malloc(N * sizeof(float)),
          *b = malloc(N * sizeof(float));
    CHECK(x && u && a && b, "memory");
    if (!x || !u || !a || !b) { free(x); free(u); free(a); free(b); return; }
    for (int i = 0; i < N; i++) { x[i] = -120.0f + 240.0f * (float)i / N; u[i] = 0.5f + (float)(i % 13) / 7.0f; }
    x[3] = -1e30f; x[5] = 1e30f; x[7] = 0.0f; x[9] = -0.0f; x[11] = 133.0f; x[13] = -133.0f;
    if (rl_simd_force("avx512") != 0) { fprintf(stderr, "  (skip: no avx512)\n"); free(x); free(u); free(a); free(b); return; }
    for (int up = 0; up < 2; up++) {
        memcpy(a, x, N * sizeof(float));
        memcpy(b, x, N * sizeof(float));
        rl_ggml_silu_mul(a, up ? u : NULL, N);
        rl_simd_force("scalar");
        rl_ggml_silu_mul(b, up ? u : NULL, N);
        rl_simd_force("avx512");
        long bad = 0;
        for (int i = 0; i < N; i++) bad += memcmp(&a[i], &b[i], 4) != 0;
        CHECK(bad == 0, "up=%d: %ld items differ from the scalar form", up, bad);
    }
    rl_simd_force(NULL);
    free(x); free(u); free(a); free(b);
}

int main(void) {
    RUN(test_v_expf);
    RUN(test_silu_zmm);
    TEST_END();
}
