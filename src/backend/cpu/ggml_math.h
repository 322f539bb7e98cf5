/* ggml-cpu's f32 building blocks as its AVX-512 build computes them (GGUF numerics): the lane
 * reduction _mm512_reduce_add_ps and the vector exponential ggml_v_expf, one lane at a time. */
#ifndef RL_CPU_GGML_MATH_H
#define RL_CPU_GGML_MATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float rl_ggml_hsum16(const float c[16]) { /* _mm512_reduce_add_ps */
    return (((c[0] + c[8]) + (c[4] + c[12])) + ((c[2] + c[10]) + (c[6] + c[14]))) +
           (((c[1] + c[9]) + (c[5] + c[13])) + ((c[3] + c[11]) + (c[7] + c[15])));
}

/* ggml_v_expf's first two steps: e = x / ln 2 rounded, j = its polynomial for exp(x - e ln 2).
 * Returns 0 where |e| > 192 (then the result is 0 for e <= 0, else inf; e is set to -1 or 1). */
static inline int rl_ggml_v_expf_poly(float x, float *j, int *e) {
    const float r = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, r), n = z - r;
    if (!(fabsf(n) <= 192)) { *e = n <= 0 ? -1 : 1; return 0; }
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x)), u = b * b;
    *j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
              fmaf(0x1.ffffecp-1f, b, 1.0f));
    *e = (int)n;
    return 1;
}

/* ggml_v_expf, AVX-512 form (scalef: j x 2^e): ~1 ulp, not libm's expf. */
static inline float rl_ggml_v_expf(float x) {
    float j;
    int e;
    if (!rl_ggml_v_expf_poly(x, &j, &e)) return e <= 0 ? 0.0f : INFINITY;
    if (e >= -125 && e <= 126) { /* j * 2^e is a normal float: the product by the power of two is exact (= ldexpf) */
        uint32_t bits = (uint32_t)(e + 127) << 23;
        float p2;
        memcpy(&p2, &bits, 4);
        return j * p2;
    }
    return ldexpf(j, e);
}

/* ggml_v_silu: x / (1 + v_expf(-x)). */
static inline float rl_ggml_v_silu(float x) { return x / (1.0f + rl_ggml_v_expf(0.0f - x)); }

#endif
