/* ggml's reference block quantizers (see ggml_quant.h): Q8_0 d = amax / 127, q = round(x / d)
 * with 1/d taken before d is rounded to f16; Q4_0 d = (signed value of largest magnitude) / -8,
 * q = min(15, trunc(x / d + 8.5)); Q4_1 d = (max - min) / 15, m = min, q = min(15, trunc((x - m) / d + 0.5)). */
#include "quant/ggml_quant.h"
#include "format/dtype.h"
#include "format/gguf.h"
#include "util/err.h"
#include <math.h>
#include <string.h>

#define QK 32

size_t rl_ggml_row_bytes(uint32_t t, int64_t n) {
    if (n <= 0) return 0;
    switch (t) {
    case RL_GGML_F32: return (size_t)n * 4;
    case RL_GGML_F16: case RL_GGML_BF16: return (size_t)n * 2;
    case RL_GGML_Q8_0: return n % QK ? 0 : (size_t)(n / QK) * 34;
    case RL_GGML_Q4_0: return n % QK ? 0 : (size_t)(n / QK) * 18;
    case RL_GGML_Q4_1: return n % QK ? 0 : (size_t)(n / QK) * 20;
    case RL_GGML_MXFP4: return n % QK ? 0 : (size_t)(n / QK) * 17; /* repacked as it is, never quantized here */
    default: return 0;
    }
}

static void put_f16(uint8_t *p, float v) {
    uint16_t h = rl_f32_to_f16(v);
    memcpy(p, &h, 2);
}

static void q8_0(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < QK; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

static void q4_0(const float *x, uint8_t *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++)
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < QK / 2; j++) {
        int a = (int8_t)(x[j] * id + 8.5f), c = (int8_t)(x[QK / 2 + j] * id + 8.5f);
        b[2 + j] = (uint8_t)((a < 15 ? a : 15) | (c < 15 ? c : 15) << 4);
    }
}

static void q4_1(const float *x, uint8_t *b) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < QK; j++) { mn = fminf(mn, x[j]); mx = fmaxf(mx, x[j]); }
    const float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(b, d);
    put_f16(b + 2, mn);
    for (int j = 0; j < QK / 2; j++) {
        int a = (int8_t)((x[j] - mn) * id + 0.5f), c = (int8_t)((x[QK / 2 + j] - mn) * id + 0.5f);
        b[4 + j] = (uint8_t)((a < 15 ? a : 15) | (c < 15 ? c : 15) << 4);
    }
}

int rl_ggml_quantize_row(uint32_t t, const float *src, void *dst, int64_t n) {
    if (!rl_ggml_row_bytes(t, n)) return rl_err("quantize: cannot write a row of %lld items as %s", (long long)n, rl_ggml_type_name(t));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i])) return rl_err("quantize: non-finite weight %g", (double)src[i]);
    uint8_t *b = dst;
    if (t == RL_GGML_F32) { memcpy(dst, src, (size_t)n * 4); return 0; }
    if (t == RL_GGML_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = rl_f32_to_bf16(src[i]);
            memcpy(b + 2 * i, &h, 2);
        }
        return 0;
    }
    if (t == RL_GGML_F16) {
        for (int64_t i = 0; i < n; i++) {
            if (fabsf(src[i]) > 65504.0f) return rl_err("quantize: weight %g does not fit f16", (double)src[i]);
            put_f16(b + 2 * i, src[i]);
        }
        return 0;
    }
    size_t bb = rl_ggml_row_bytes(t, QK);
    for (int64_t i = 0; i < n; i += QK, b += bb) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(src[i + j]));
        if (amax / (t == RL_GGML_Q8_0 ? 127.0f : 7.5f) > 65504.0f || (t == RL_GGML_Q4_1 && amax > 65504.0f)) return rl_err("quantize: block scale of %g does not fit f16", (double)amax);
        if (t == RL_GGML_Q8_0) q8_0(src + i, b);
        else if (t == RL_GGML_Q4_0) q4_0(src + i, b);
        else q4_1(src + i, b);
    }
    return 0;
}
