// CUDA backend: matmuls over the GGUF block types and the HF pre-quantized formats (see cu_api.h),
// in the numerics of the cpu backend:
// - GGUF (ggml-cpu): F16 / BF16 weights with the activations rounded to f16 / bf16; the block types
//   with each activation row first quantised into the scratch as ggml's vec_dot_type (Q8_0, Q8_1,
//   Q8_K: correctly rounded scales, round half to even, f16 scales, Q8_K's block sums), then
//   integer block dots scaled in f32: (dw dx) sum q qx (+ m sx for Q8_1); k-quants
//   (dw dx) sum_g sc[g] dot_g - (dmin dx) sum_g mn[g] bsums_g. One warp per output row, lanes
//   over the blocks, up to 4 tokens per pass; the tokens of a sweep in passes of what the scratch
//   holds. The same layout and steps as the vulkan shaders (quant_act.comp, matmul.comp).
// - HF formats (src/backend/cpu/hfq.c): each weight dequantised exactly in f32, f32 accumulation;
//   FP8 block / bitsandbytes (row-major) a warp per output row, GPTQ / AWQ (words packed over the
//   inputs) a thread per output row.
#include "backend/cuda/cu_common.cuh"

enum { QW_WARPS = 4, QW_ROWS = 4, HFQ_COL_THREADS = 128 };

uint32_t *rlcu_qact;     // quantised activation rows (placed in the scratch by rlcu_set_scratch)
size_t rlcu_qact_words;

// uint words of one quantised activation row of `in` values: 10 per 32-block (Q8_0 / Q8_1: d,
// d * sum q, 8 words of int8), 81 per 256-block (Q8_K: d, 64 words of int8, 16 block sums); act 0:
// the most any form takes.
size_t rlcu_qact_row_words(int act, size_t in) {
    return act == 5 ? in / 256 * 81 : act >= 3 ? in / 32 * 10 : (in + 255) / 256 * 81;
}

__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float round_f16(float f) { return __half2float(__float2half_rn(f)); }
__device__ __forceinline__ float round_bf16(float f) { return __bfloat162float(__float2bfloat16_rn(f)); }

// one thread per (token, block): see rlcu_qact_row_words for the layout
__global__ void quant_act_kernel(uint32_t *__restrict__ qa, const float *__restrict__ x, int T, int in, int act, int row_words) {
    int n = act == 5 ? 256 : 32, nb = in / n;
    int64_t id = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= (int64_t)T * nb) return;
    int t = (int)(id / nb), b = (int)(id % nb);
    const float *xb = x + (size_t)t * in + (size_t)b * n;
    if (act != 5) {
        uint32_t *o = qa + (size_t)t * row_words + (size_t)b * 10;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = div_rn(amax, 127.0f), id_ = amax != 0.0f ? div_rn(127.0f, amax) : 0.0f;
        int qsum = 0;
        for (int k = 0; k < 8; k++) {
            uint32_t wd = 0;
            for (int j = 0; j < 4; j++) {
                int q = (int)rintf(__fmul_rn(xb[4 * k + j], id_));
                qsum += q;
                wd |= ((uint32_t)q & 255u) << (8 * j);
            }
            o[2 + k] = wd;
        }
        o[0] = __float_as_uint(round_f16(d));
        o[1] = __float_as_uint(round_f16(__fmul_rn(d, (float)qsum)));
        return;
    }
    uint32_t *o = qa + (size_t)t * row_words + (size_t)b * 81;
    float amax = 0.0f, mx = 0.0f;
    for (int j = 0; j < 256; j++) {
        float a = fabsf(xb[j]);
        if (a > amax) { amax = a; mx = xb[j]; }
    }
    float is = 0.0f, d = 0.0f;
    if (amax != 0.0f) {
        float s = div_rn(127.0f, amax);
        is = mx > 0.0f ? -s : s;   // -127 / max
        float r = div_rn(1.0f, s);
        d = is < 0.0f ? -r : r;    // 1 / iscale
    }
    for (int g = 0; g < 16; g++) {
        int bs = 0;
        for (int k = 0; k < 4; k++) {
            uint32_t wd = 0;
            for (int j = 0; j < 4; j++) {
                int q = min((int)rintf(__fmul_rn(is, xb[16 * g + 4 * k + j])), 127);
                bs += q;
                wd |= ((uint32_t)q & 255u) << (8 * j);
            }
            o[1 + 4 * g + k] = wd;
        }
        o[65 + g] = (uint32_t)bs;
    }
    o[0] = __float_as_uint(d);
}

__device__ __forceinline__ int sbyte(uint32_t w, int e) { return (int)(int8_t)(w >> (8 * e)); }

__global__ void gguf_kernel(float *__restrict__ y, const float *__restrict__ x, const uint32_t *__restrict__ qa,
                            const uint8_t *__restrict__ w, const float *__restrict__ bias, int dt, int T, int in,
                            int out, size_t rb, int qrow) {
    int o = blockIdx.x * QW_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (o >= out) return;
    const uint8_t *row = w + (size_t)o * rb;
    int act = gg_act(dt), bbytes = gg_bytes(dt);
    for (int t0 = 0; t0 < T; t0 += QW_ROWS) {
        int nt = T - t0 < QW_ROWS ? T - t0 : QW_ROWS;
        float acc[QW_ROWS] = {0, 0, 0, 0};
        if (act == 5) {
            int gsz = gg_kgsz(dt);
            for (int blk = lane; blk < in / 256; blk += 32) {
                const uint8_t *b = row + (size_t)blk * bbytes;
                int isum[QW_ROWS] = {0, 0, 0, 0}, summ[QW_ROWS] = {0, 0, 0, 0};
                for (int g = 0; g < 256 / gsz; g++) {
                    int2 sm = gg_kscmn(b, dt, g);
                    int wq[32];
                    for (int j = 0; j < gsz; j++) wq[j] = gg_kitem(b, dt, g * gsz + j);
                    for (int k = 0; k < nt; k++) {
                        const uint32_t *qb = qa + (size_t)(t0 + k) * qrow + (size_t)blk * 81;
                        int s = 0;
                        for (int j = 0; j < gsz; j += 4) {
                            uint32_t wd = qb[1 + (g * gsz + j) / 4];
                            for (int e = 0; e < 4; e++) s += wq[j + e] * sbyte(wd, e);
                        }
                        isum[k] += sm.x * s;
                        int bs = (int)qb[65 + g * gsz / 16];
                        if (gsz == 32) bs += (int)qb[66 + 2 * g];
                        summ[k] += sm.y * bs;
                    }
                }
                float dw = gg_kd(b, dt), dm = gg_kdmin(b, dt);
                for (int k = 0; k < nt; k++) {
                    float yd = __uint_as_float(qa[(size_t)(t0 + k) * qrow + (size_t)blk * 81]);
                    acc[k] += __fsub_rn(__fmul_rn(__fmul_rn(dw, yd), (float)isum[k]), __fmul_rn(__fmul_rn(dm, yd), (float)summ[k]));
                }
            }
        } else if (act >= 3) {
            for (int blk = lane; blk < in / 32; blk += 32) {
                const uint8_t *b = row + (size_t)blk * bbytes;
                float dw = gg_d32(b, dt), mw = gg_has_m(dt) ? gg_h(b + 2) : 0.0f;
                int wq[32];
                for (int j = 0; j < 32; j++) wq[j] = gg_q32(b, dt, j);
                for (int k = 0; k < nt; k++) {
                    const uint32_t *qb = qa + (size_t)(t0 + k) * qrow + (size_t)blk * 10;
                    int isum = 0;
                    for (int j = 0; j < 32; j += 4)
                        for (int e = 0; e < 4; e++) isum += wq[j + e] * sbyte(qb[2 + j / 4], e);
                    float v = __fmul_rn(__fmul_rn(dw, __uint_as_float(qb[0])), (float)isum);
                    if (act == 4) v = __fadd_rn(v, __fmul_rn(mw, __uint_as_float(qb[1])));
                    acc[k] += v;
                }
            }
        } else {
            for (int i = lane; i < in; i += 32) {
                float wv = gg_item(row, dt, i);
                for (int k = 0; k < nt; k++) {
                    float xv = x[(size_t)(t0 + k) * in + i];
                    acc[k] += wv * (act == 1 ? round_f16(xv) : round_bf16(xv));
                }
            }
        }
        for (int k = 0; k < nt; k++) {
            float s = rlcu_warp_sum(acc[k]);
            if (lane == 0) y[(size_t)(t0 + k) * out + o] = s + (bias ? bias[o] : 0.0f);
        }
    }
}

void rlcu_matmul_gguf(float *y, const float *x, const void *w, int dt, const float *bias, int T, int in, int out) {
    if (T <= 0 || out <= 0 || in <= 0) return;
    int act = gg_act(dt), n = gg_items(dt);
    if (in % n) { rlcu_fail("matmul: GGUF rows of whole blocks", cudaErrorInvalidValue); return; }
    size_t qrow = act >= 3 ? rlcu_qact_row_words(act, (size_t)in) : 0;
    int tc = T;
    if (act >= 3) {
        size_t fit = rlcu_qact && qrow ? rlcu_qact_words / qrow : 0;
        if (!fit) { rlcu_fail("matmul: GGUF rows wider than the activation scratch planned", cudaErrorInvalidValue); return; }
        if ((size_t)tc > fit) tc = (int)fit;
    }
    size_t rb = rlcu_row_bytes(dt, in);
    for (int t0 = 0; t0 < T; t0 += tc) {
        int nt = T - t0 < tc ? T - t0 : tc;
        const float *xt = x + (size_t)t0 * in;
        if (act >= 3) {
            quant_act_kernel<<<rlcu_blocks((int64_t)nt * (in / (act == 5 ? 256 : 32)), 128), 128, 0, rlcu_stream>>>(
                rlcu_qact, xt, nt, in, act, (int)qrow);
            RLCU_LAUNCHED("matmul (quantise activations)");
        }
        gguf_kernel<<<(out + QW_WARPS - 1) / QW_WARPS, 32 * QW_WARPS, 0, rlcu_stream>>>(
            y + (size_t)t0 * out, xt, rlcu_qact, (const uint8_t *)w, bias, dt, nt, in, out, rb, (int)qrow);
        RLCU_LAUNCHED("matmul (GGUF)");
    }
}

// ---- HF pre-quantized formats ----

__device__ __forceinline__ float ld_f32(const uint8_t *p) { return __uint_as_float(gg_u32(p)); }
__device__ __forceinline__ float f8v(uint32_t b) { // e4m3fn, exact
    uint32_t e = (b >> 3) & 15u, m = b & 7u;
    float v = e == 0u ? (float)m * (1.0f / 512.0f) : __uint_as_float(((e + 120u) << 23) | (m << 20));
    if (e == 15u && m == 7u) v = __uint_as_float(0x7fc00000u);
    return (b & 128u) ? -v : v;
}
__device__ __forceinline__ float hfq_scale(const rlcu_qw &q, size_t k) {
    const uint8_t *s = (const uint8_t *)q.scales;
    if (q.scale_kind == 1) return gg_h(s + 2 * k);
    if (q.scale_kind == 2) return __uint_as_float((uint32_t)(s[2 * k] | s[2 * k + 1] << 8) << 16);
    return ld_f32(s + 4 * k);
}
__device__ __forceinline__ float bnb_absmax(const rlcu_qw &q, size_t b) {
    if (q.scale_kind != 3) return ld_f32((const uint8_t *)q.scales + 4 * b);
    float p = __fmul_rn(ld_f32((const uint8_t *)q.map2 + 4 * ((const uint8_t *)q.scales)[b]),
                        ld_f32((const uint8_t *)q.zeros + 4 * (b / (size_t)q.nested_block)));
    return __fadd_rn(p, q.nested_offset); // two roundings, as bitsandbytes
}
__device__ __forceinline__ float hfq_w(const rlcu_qw &q, int dt, int o, int i) {
    const uint8_t *d = (const uint8_t *)q.data;
    if (dt == DT_FP8_BLK) {
        size_t sc = (size_t)(q.cols + q.blk_c - 1) / q.blk_c;
        return __fmul_rn(f8v(d[(size_t)o * q.cols + i]), hfq_scale(q, (size_t)(o / q.blk_r) * sc + i / q.blk_c));
    }
    if (dt == DT_MXFP4) { // e2m1 (low nibble first) * 2^(e8m0 - 127)
        const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
        int byte = d[(size_t)o * (q.cols / 2) + i / 2], nib = (i & 1) ? byte >> 4 : byte & 15;
        float v = ldexpf(e2m1[nib & 7], (int)((const uint8_t *)q.scales)[(size_t)o * (q.cols / 32) + i / 32] - 127);
        return (nib & 8) ? -v : v;
    }
    if (dt == DT_BNB4) {
        size_t k = (size_t)o * q.cols + i;
        int byte = d[k >> 1], nib = (k & 1) ? byte & 15 : byte >> 4;
        return __fmul_rn(ld_f32((const uint8_t *)q.g_idx + 4 * nib), bnb_absmax(q, k / (size_t)q.group));
    }
    uint32_t qv, z;
    int g;
    if (dt == DT_GPTQ) {
        int bits = q.bits, pf = 32 / bits;
        uint32_t mask = (1u << bits) - 1u;
        g = (int)gg_u32((const uint8_t *)q.g_idx + 4 * (size_t)i);
        if (g < 0 || g >= q.ngroups) return __uint_as_float(0x7fc00000u);
        qv = (gg_u32(d + 4 * ((size_t)(i / pf) * q.rows + o)) >> (bits * (i % pf))) & mask;
        z = ((gg_u32((const uint8_t *)q.zeros + 4 * ((size_t)g * (q.rows / pf) + o / pf)) >> (bits * (o % pf))) & mask) + 1u;
    } else { // AWQ
        const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
        int wc = q.rows / 8, sh = 4 * rev[o % 8];
        g = i / q.group;
        qv = (gg_u32(d + 4 * ((size_t)i * wc + o / 8)) >> sh) & 15u;
        z = (gg_u32((const uint8_t *)q.zeros + 4 * ((size_t)g * wc + o / 8)) >> sh) & 15u;
    }
    return __fmul_rn(gg_h((const uint8_t *)q.scales + 2 * ((size_t)g * q.rows + o)), (float)((int)qv - (int)z));
}

__global__ void hfq_rows_kernel(float *__restrict__ y, const float *__restrict__ x, rlcu_qw q, int dt,
                                const float *__restrict__ bias, int T) {
    int o = blockIdx.x * QW_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31, in = q.cols, out = q.rows;
    if (o >= out) return;
    for (int t0 = 0; t0 < T; t0 += QW_ROWS) {
        int nt = T - t0 < QW_ROWS ? T - t0 : QW_ROWS;
        float acc[QW_ROWS] = {0, 0, 0, 0};
        for (int i = lane; i < in; i += 32) {
            float wv = hfq_w(q, dt, o, i);
            for (int k = 0; k < nt; k++) acc[k] += wv * x[(size_t)(t0 + k) * in + i];
        }
        for (int k = 0; k < nt; k++) {
            float s = rlcu_warp_sum(acc[k]);
            if (lane == 0) y[(size_t)(t0 + k) * out + o] = s + (bias ? bias[o] : 0.0f);
        }
    }
}

__global__ void hfq_cols_kernel(float *__restrict__ y, const float *__restrict__ x, rlcu_qw q, int dt,
                                const float *__restrict__ bias, int T) {
    int o = blockIdx.x * blockDim.x + threadIdx.x, in = q.cols, out = q.rows;
    if (o >= out) return;
    for (int t0 = 0; t0 < T; t0 += QW_ROWS) {
        int nt = T - t0 < QW_ROWS ? T - t0 : QW_ROWS;
        float acc[QW_ROWS] = {0, 0, 0, 0};
        for (int i = 0; i < in; i++) {
            float wv = hfq_w(q, dt, o, i);
            for (int k = 0; k < nt; k++) acc[k] += wv * x[(size_t)(t0 + k) * in + i];
        }
        for (int k = 0; k < nt; k++) y[(size_t)(t0 + k) * out + o] = acc[k] + (bias ? bias[o] : 0.0f);
    }
}

void rlcu_matmul_hfq(float *y, const float *x, const rlcu_qw *q, int dt, const float *bias, int T, int in, int out) {
    int bad = q->rows != out || q->cols != in;
    if (dt == DT_FP8_BLK) bad |= q->blk_r <= 0 || q->blk_c <= 0;
    else if (dt == DT_GPTQ) bad |= (q->bits != 4 && q->bits != 8) || out % (32 / (q->bits == 8 ? 8 : 4)) || q->ngroups <= 0;
    else if (dt == DT_AWQ) bad |= q->bits != 4 || out % 8 || q->group <= 0;
    else if (dt == DT_MXFP4) bad |= in % 32 != 0;
    else bad |= q->group <= 0 || (q->scale_kind == 3 && q->nested_block <= 0);
    if (bad) { rlcu_fail("matmul: a pre-quantized weight descriptor of another shape or unsupported parameters", cudaErrorInvalidValue); return; }
    if (T <= 0 || out <= 0 || in <= 0) return;
    if (dt == DT_GPTQ || dt == DT_AWQ)
        hfq_cols_kernel<<<(q->rows + HFQ_COL_THREADS - 1) / HFQ_COL_THREADS, HFQ_COL_THREADS, 0, rlcu_stream>>>(y, x, *q, dt, bias, T);
    else
        hfq_rows_kernel<<<(q->rows + QW_WARPS - 1) / QW_WARPS, 32 * QW_WARPS, 0, rlcu_stream>>>(y, x, *q, dt, bias, T);
    RLCU_LAUNCHED("matmul (HF pre-quantized)");
}
