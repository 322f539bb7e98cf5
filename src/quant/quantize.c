/* Q8_0 / Q4_1 block quantization and the scalar reference dequantizer (see quantize.h). */
#include "quant/quantize.h"
#include "util/err.h"
#include <math.h>
#include <string.h>

#define F16_MAX 65504.0f

static void put_half(uint8_t *p, float v) {
    uint16_t h = rl_f32_to_f16(v);
    memcpy(p, &h, sizeof h);
}
static float get_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return rl_f16_to_f32(h);
}
/* The f16 value nearest v (what the kernels will see). */
static float round_half(float v) { return rl_f16_to_f32(rl_f32_to_f16(v)); }

static int quant_q8_0(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int i = 0; i < RL_QBLOCK; i++) {
        if (!isfinite(x[i])) return rl_err("quantize: non-finite weight %g", (double)x[i]);
        amax = fmaxf(amax, fabsf(x[i]));
    }
    float d = amax / 127.0f;
    if (d > F16_MAX) return rl_err("quantize: block scale %g does not fit f16", (double)d);
    float dr = round_half(d), id = dr > 0.0f ? 1.0f / dr : 0.0f;
    put_half(b, dr);
    for (int i = 0; i < RL_QBLOCK; i++) {
        float q = roundf(x[i] * id);
        q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
        b[2 + i] = (uint8_t)(int8_t)q;
    }
    return 0;
}

/* Nibbles of x for scale d and min m (both as stored); returns the squared error. */
static double assign_q4(const float *x, float d, float m, uint8_t *q) {
    float id = d > 0.0f ? 1.0f / d : 0.0f;
    double sse = 0;
    for (int i = 0; i < RL_QBLOCK; i++) {
        float v = roundf((x[i] - m) * id);
        q[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 15.0f ? 15.0f : v);
        double e = (double)x[i] - ((double)d * q[i] + m);
        sse += e * e;
    }
    return sse;
}

/* Q4_1: start from min / range / 15 (scale rounded up so the max stays on the grid), then a
 * few least-squares refits of (d, m) to the current nibbles, keeping the best of them. */
static int quant_q4_1(const float *x, uint8_t *b) {
    float mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < RL_QBLOCK; i++) {
        if (!isfinite(x[i])) return rl_err("quantize: non-finite weight %g", (double)x[i]);
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    if (fabsf(mn) > F16_MAX || fabsf(mx) > F16_MAX) return rl_err("quantize: weight %g does not fit f16", (double)(fabsf(mn) > fabsf(mx) ? mn : mx));
    float mr = round_half(mn);
    float d = (mx - mr) / 15.0f;
    if (d > F16_MAX) return rl_err("quantize: block scale %g does not fit f16", (double)d);
    uint16_t dh = rl_f32_to_f16(d);
    if (rl_f16_to_f32(dh) < d && dh < 0x7bff) dh++;
    float best_d = rl_f16_to_f32(dh), best_m = mr;
    uint8_t q[RL_QBLOCK], bq[RL_QBLOCK];
    double best = assign_q4(x, best_d, best_m, bq);
    memcpy(q, bq, sizeof q);
    for (int it = 0; it < 3 && best > 0; it++) {
        double sq = 0, sqq = 0, sx = 0, sqx = 0, n = RL_QBLOCK;
        for (int i = 0; i < RL_QBLOCK; i++) { sq += q[i]; sqq += (double)q[i] * q[i]; sx += x[i]; sqx += (double)q[i] * x[i]; }
        double det = n * sqq - sq * sq;
        if (det <= 0) break;
        double dd = (n * sqx - sq * sx) / det, mm = (sx - dd * sq) / n;
        if (!(dd > 0) || dd > F16_MAX || fabs(mm) > F16_MAX) break;
        float dr = round_half((float)dd), m2 = round_half((float)mm);
        double e = assign_q4(x, dr, m2, q);
        if (e < best) { best = e; best_d = dr; best_m = m2; memcpy(bq, q, sizeof q); }
        else break;
    }
    put_half(b, best_d);
    put_half(b + 2, best_m);
    for (int i = 0; i < RL_QBLOCK / 2; i++) b[4 + i] = (uint8_t)(bq[i] | bq[i + RL_QBLOCK / 2] << 4);
    return 0;
}

int rl_quantize_row(rl_dtype t, const float *src, void *dst, int64_t n) {
    if (t != RL_DT_Q8_0 && t != RL_DT_Q4_1) return rl_err("quantize: dtype %d is not a block type", (int)t);
    if (n % RL_QBLOCK) return rl_err("quantize: row of %lld items is not a multiple of %d", (long long)n, RL_QBLOCK);
    uint8_t *b = dst;
    size_t bb = RL_DTYPES[t].block_bytes;
    for (int64_t i = 0; i < n; i += RL_QBLOCK, b += bb)
        if ((t == RL_DT_Q8_0 ? quant_q8_0 : quant_q4_1)(src + i, b)) return -1;
    return 0;
}

void rl_dequantize_row_ref(rl_dtype t, const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    size_t bb = RL_DTYPES[t].block_bytes;
    for (int64_t i = 0; i + RL_QBLOCK <= n; i += RL_QBLOCK, b += bb) {
        float d = get_half(b);
        if (t == RL_DT_Q8_0) {
            for (int k = 0; k < RL_QBLOCK; k++) dst[i + k] = d * (float)(int8_t)b[2 + k];
        } else {
            float m = get_half(b + 2);
            for (int k = 0; k < RL_QBLOCK / 2; k++) {
                dst[i + k] = d * (float)(b[4 + k] & 15) + m;
                dst[i + k + RL_QBLOCK / 2] = d * (float)(b[4 + k] >> 4) + m;
            }
        }
    }
}
