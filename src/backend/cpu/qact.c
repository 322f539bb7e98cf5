/* Activation quantiser (per block of 32 to int8; AVX-512 where the avx512* paths run), the exact
 * scalar reference of the integer Q8_0 / Q4_1 dot product, and the scalar integer GEMV built on it. */
#include "backend/cpu/qact.h"
#include "backend/cpu/simd.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* AVX-512: the same codes and d as the scalar loop below, bit for bit (x * id, the clamp, NaN to
 * 0, round to nearest even by cvtps in the default mode); s summed as a tree. */
__attribute__((target("avx512f"))) static void quantize_zmm(int8_t *q, float *ds, const float *x, int64_t nb) {
    const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    for (int64_t b = 0; b < nb; b++) {
        const __m512 a = _mm512_loadu_ps(x + b * RL_QBLOCK), c = _mm512_loadu_ps(x + b * RL_QBLOCK + 16);
        const __m512 fa = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), _mm512_abs_ps(a)); /* NaN: 0 */
        const __m512 fc = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, c, _CMP_ORD_Q), _mm512_abs_ps(c));
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(fa, fc)); /* the scalar loop skips NaN too */
        const float db = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        __m512 va = _mm512_mul_ps(a, vid), vc = _mm512_mul_ps(c, vid);
        va = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(va, va, _CMP_ORD_Q), _mm512_min_ps(_mm512_max_ps(va, lo), hi));
        vc = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(vc, vc, _CMP_ORD_Q), _mm512_min_ps(_mm512_max_ps(vc, lo), hi));
        _mm_storeu_si128((__m128i *)(void *)(q + b * RL_QBLOCK), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(va)));
        _mm_storeu_si128((__m128i *)(void *)(q + b * RL_QBLOCK + 16), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(vc)));
        ds[2 * b] = db;
        ds[2 * b + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a, c));
    }
}
#endif

rl_qrow rl_qrow_quantize(void *buf, const float *x, int64_t n) {
    int64_t nb = n / RL_QBLOCK;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (!strncmp(rl_simd()->name, "avx512", 6)) {
        quantize_zmm(buf, (float *)((char *)buf + n), x, nb);
        return (rl_qrow){buf, (const float *)((char *)buf + n)};
    }
#endif
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
