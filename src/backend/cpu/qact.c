/* Activation quantiser (per block of 32 to int8), the exact scalar reference of the integer
 * Q8_0 / Q4_1 dot product, and the scalar integer GEMV built on it. */
#include "backend/cpu/qact.h"
#include <math.h>
#include <string.h>

rl_qrow rl_qrow_quantize(void *buf, const float *x, int64_t n) {
    int64_t nb = n / RL_QBLOCK;
    int8_t *q = buf;
    float *ds = (float *)((char *)buf + n); /* n is a multiple of 32: stays 8-byte aligned */
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * RL_QBLOCK;
        float amax = 0, sum = 0;
        for (int i = 0; i < RL_QBLOCK; i++) {
            float a = fabsf(xb[i]);
            amax = a > amax ? a : amax;
            sum += xb[i];
        }
        float db = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = 0; i < RL_QBLOCK; i++) {
            float v = xb[i] * id; /* |v| <= 127 up to rounding; NaN/inf input gives garbage, not UB */
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            /* round to nearest even, as nearbyintf in the default mode (exact for |v| < 2^22),
             * without a libm call per item */
            v = ((v == v ? v : 0.0f) + 0x1.8p23f) - 0x1.8p23f;
            q[b * RL_QBLOCK + i] = (int8_t)v;
        }
        ds[2 * b] = db;
        ds[2 * b + 1] = sum;
    }
    return (rl_qrow){q, ds};
}

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return rl_f16_to_f32(h);
}

float rl_qdot_ref(rl_dtype wt, const uint8_t *w, rl_qrow x, int64_t n) {
    const size_t bb = RL_DTYPES[wt].block_bytes;
    float acc = 0;
    for (int64_t b = 0; b < n / RL_QBLOCK; b++, w += bb) {
        const int8_t *xq = x.q + b * RL_QBLOCK;
        int32_t isum = 0;
        if (wt == RL_DT_Q8_0) {
            for (int i = 0; i < RL_QBLOCK; i++) isum += (int32_t)(int8_t)w[2 + i] * xq[i];
            acc += (float)isum * (half_at(w) * x.ds[2 * b]);
        } else {
            for (int i = 0; i < RL_QBLOCK / 2; i++)
                isum += (w[4 + i] & 15) * xq[i] + (w[4 + i] >> 4) * xq[i + RL_QBLOCK / 2];
            acc += (float)isum * (half_at(w) * x.ds[2 * b]) + half_at(w + 2) * x.ds[2 * b + 1];
        }
    }
    return acc;
}

void rl_qgemv_scalar(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qrow *xq, float *y,
                     const float *bias, int t0, int t1, int o0, int o1) {
    const size_t rb = rl_dtype_row_bytes(wt, in);
    for (int o = o0; o < o1; o++)
        for (int t = t0; t < t1; t++)
            y[(size_t)t * out + o] = rl_qdot_ref(wt, w + (size_t)o * rb, xq[t], in) + (bias ? bias[o] : 0.0f);
}
