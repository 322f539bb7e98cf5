/* Portable scalar instantiation of the kernel template (mm_tmpl.h). */
#include "format/dtype.h"
#include <stdint.h>

#define SFX(n) n##_scalar
#define QGEMV rl_qgemv_scalar
#define QGEMM rl_qgemm_scalar
#define SFX_NAME "scalar"
#define TGT
#define V float
#define VW 1
#define MR 4
#define NR 4
#define V_ZERO() 0.0f
#define V_LOAD(p) (*(p))
#define V_STORE(p, v) (*(p) = (v))
#define V_ADD(a, b) ((a) + (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_SET1(s) (s)
#define V_HSUM(v) (v)
#define V_LOAD_BF16(p) rl_bf16_to_f32(*(p))
#define V_LOAD_F16(p) rl_f16_to_f32(*(p))
#define V_LOAD_I8(p) ((float)*(const int8_t *)(p))
#define V_LOAD_U4LO(p) ((float)(*(p) & 15))
#define V_LOAD_U4HI(p) ((float)(*(p) >> 4))
#define H2F(h) rl_f16_to_f32(h)
#include <math.h>

static float exp_shift_scalar(float *s, int n, float mx) {
    float sum = 0;
    for (int c = 0; c < n; c++) {
        float e = s[c] == -INFINITY ? 0.0f : expf(s[c] - mx);
        s[c] = e;
        sum += e;
    }
    return sum;
}
/* decay_exp_axpy_dot (simd.h): libm's expf. */
static float decay_exp_axpy_dot_scalar(float *s, const float *a, float dt, float b, const float *x, const float *c, int n) {
    float r = 0;
    for (int i = 0; i < n; i++) {
        s[i] = s[i] * expf(dt * a[i]) + b * x[i];
        r += s[i] * c[i];
    }
    return r;
}
/* silu_mul (simd.h): libm's expf. */
static void silu_mul_scalar(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i] / (1.0f + expf(-gate[i]));
        gate[i] = up ? g * up[i] : g;
    }
}
#include "backend/cpu/mm_tmpl.h"
