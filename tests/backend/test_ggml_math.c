/* ggml-cpu's f32 building blocks (ggml_math.h): rl_ggml_v_expf's power-of-two step gives ldexpf's
 * bits everywhere (its fast form covers only the exponents whose result is a normal float). */
#include "test.h"
#include "backend/cpu/ggml_math.h"
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

int main(void) {
    RUN(test_v_expf);
    TEST_END();
}
