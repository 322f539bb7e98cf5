// GGUF block types on the device, decoded as the cpu decodes them (src/backend/cpu/gq_tmpl.h):
// block geometry, integer items of the 32-blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) and of the
// k-quants (super-blocks of 256 with integer group scales and mins), and the exact f32 value of
// an item (rl_ggml_dequant: (d sc) a - dmin mn, no fused steps). Byte loads only: blocks sit at
// any offset. Included by cu_common.cuh.
#ifndef RL_CU_GGUF_CUH
#define RL_CU_GGUF_CUH
#include <cuda_fp16.h>
#include <stdint.h>

// rl_dtype values of the GGUF and composite types (backend_cuda.c checks them at compile time)
enum {
    DT_GF16 = 12, DT_GBF16 = 13, DT_GQ8_0 = 14, DT_GQ4_1 = 15, DT_Q4_0 = 16, DT_Q5_0 = 17, DT_Q5_1 = 18,
    DT_Q2_K = 19, DT_Q3_K = 20, DT_Q4_K = 21, DT_Q5_K = 22, DT_Q6_K = 23, DT_IQ4_NL = 24,
    DT_FP8_BLK = 26, DT_GPTQ = 27, DT_AWQ = 28, DT_BNB4 = 29, DT_MXFP4 = 30, DT_GMXFP4 = 31
};

static inline __host__ __device__ int gg_is_k(int dt) { return dt >= DT_Q2_K && dt <= DT_Q6_K; }
static inline __host__ __device__ int gg_is_b32(int dt) {
    return dt == DT_GQ8_0 || dt == DT_GQ4_1 || dt == DT_Q4_0 || dt == DT_Q5_0 || dt == DT_Q5_1 || dt == DT_IQ4_NL || dt == DT_GMXFP4;
}
// a GGUF type (ggml-cpu numerics)
static inline __host__ __device__ int gg_is_gguf(int dt) { return (dt >= DT_GF16 && dt <= DT_IQ4_NL) || dt == DT_GMXFP4; }
// items and bytes per block (1 and the item size for F16 / BF16)
static inline __host__ __device__ int gg_items(int dt) { return gg_is_k(dt) ? 256 : gg_is_b32(dt) ? 32 : 1; }
static inline __host__ __device__ int gg_bytes(int dt) {
    switch (dt) {
    case DT_GQ8_0: return 34;
    case DT_GQ4_1: return 20;
    case DT_Q4_0: case DT_IQ4_NL: return 18;
    case DT_GMXFP4: return 17;
    case DT_Q5_0: return 22;
    case DT_Q5_1: return 24;
    case DT_Q2_K: return 84;
    case DT_Q3_K: return 110;
    case DT_Q4_K: return 144;
    case DT_Q5_K: return 176;
    case DT_Q6_K: return 210;
    default: return 2; // GF16, GBF16
    }
}
// activation form of a type (ggml's vec_dot_type): 1 / 2 rounded to f16 / bf16, 3 Q8_0, 4 Q8_1, 5 Q8_K
static inline __host__ __device__ int gg_act(int dt) {
    return dt == DT_GF16 ? 1 : dt == DT_GBF16 ? 2 : gg_is_k(dt) ? 5 : dt == DT_GQ4_1 || dt == DT_Q5_1 ? 4 : 3;
}

__device__ __forceinline__ float gg_h(const uint8_t *p) { return __half2float(__ushort_as_half((unsigned short)(p[0] | p[1] << 8))); }
__device__ __forceinline__ uint32_t gg_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
__device__ __forceinline__ int gg_has_m(int dt) { return dt == DT_GQ4_1 || dt == DT_Q5_1; }
// the scale of a 32-block: its f16, or MXFP4's e8m0 byte as 2^(e - 128) (ggml's GGML_E8M0_TO_FP32_HALF)
__device__ __forceinline__ float gg_d32(const uint8_t *b, int dt) {
    if (dt != DT_GMXFP4) return gg_h(b);
    uint32_t e = b[0];
    return __uint_as_float(e < 2 ? 0x00200000u << e : (e - 1) << 23);
}

// integer item j (0..31) of a 32-block
__device__ __forceinline__ int gg_q32(const uint8_t *b, int dt, int j) {
    const int8_t IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const int8_t MXFP4V[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    if (dt == DT_GQ8_0) return (int8_t)b[2 + j];
    if (dt == DT_GMXFP4) { int by = b[1 + (j & 15)]; return MXFP4V[j < 16 ? by & 15 : by >> 4]; }
    if (dt == DT_Q5_0 || dt == DT_Q5_1) {
        int o = dt == DT_Q5_0 ? 2 : 4, by = b[o + 4 + (j & 15)];
        int q = (j < 16 ? (by & 15) : (by >> 4)) | (int)((gg_u32(b + o) >> j) & 1u) << 4;
        return dt == DT_Q5_0 ? q - 16 : q;
    }
    int by = b[(dt == DT_GQ4_1 ? 4 : 2) + (j & 15)], q = j < 16 ? (by & 15) : (by >> 4);
    return dt == DT_GQ4_1 ? q : dt == DT_Q4_0 ? q - 8 : IQ4NL[q];
}

// k-quants: group size, super scale and min, integer item i (0..255), (scale, min) of group g
__device__ __forceinline__ int gg_kgsz(int dt) { return dt == DT_Q4_K || dt == DT_Q5_K ? 32 : 16; }
__device__ __forceinline__ float gg_kd(const uint8_t *b, int dt) {
    return gg_h(b + (dt == DT_Q2_K ? 80 : dt == DT_Q3_K ? 108 : dt == DT_Q6_K ? 208 : 0));
}
__device__ __forceinline__ float gg_kdmin(const uint8_t *b, int dt) {
    return dt == DT_Q2_K ? gg_h(b + 82) : dt == DT_Q4_K || dt == DT_Q5_K ? gg_h(b + 2) : 0.0f;
}
__device__ __forceinline__ int gg_kitem(const uint8_t *b, int dt, int i) {
    int l = i & 31;
    if (dt == DT_Q2_K) return (b[16 + 32 * (i >> 7) + l] >> (2 * ((i >> 5) & 3))) & 3;
    if (dt == DT_Q3_K) {
        int h = i >> 7, s = (i >> 5) & 3, q = (b[32 + 32 * h + l] >> (2 * s)) & 3;
        return (b[l] & (1 << (4 * h + s))) ? q : q - 4;
    }
    if (dt == DT_Q4_K || dt == DT_Q5_K) {
        int j = i >> 6, hi = (i >> 5) & 1, by = b[(dt == DT_Q4_K ? 16 : 48) + 32 * j + l];
        int q = hi ? by >> 4 : by & 15;
        if (dt == DT_Q5_K) q += ((b[16 + l] >> (2 * j + hi)) & 1) << 4;
        return q;
    }
    int h = i >> 7, s = (i >> 5) & 3, ql = b[64 * h + l + 32 * (s & 1)];
    int lo = s >= 2 ? ql >> 4 : ql & 15, qh = (b[128 + 32 * h + l] >> (2 * s)) & 3;
    return (lo | qh << 4) - 32;
}
__device__ __forceinline__ int2 gg_kscmn(const uint8_t *b, int dt, int g) {
    if (dt == DT_Q2_K) return make_int2(b[g] & 15, b[g] >> 4);
    if (dt == DT_Q3_K) {
        int lo = g < 8 ? b[96 + g] & 15 : b[96 + g - 8] >> 4, hi = (b[104 + (g & 3)] >> (2 * (g >> 2))) & 3;
        return make_int2((lo | hi << 4) - 32, 0);
    }
    if (dt == DT_Q6_K) return make_int2((int8_t)b[192 + g], 0);
    const uint8_t *q = b + 4;
    if (g < 4) return make_int2(q[g] & 63, q[g + 4] & 63);
    return make_int2((q[g + 4] & 15) | (q[g - 4] >> 6) << 4, (q[g + 4] >> 4) | (q[g] >> 6) << 4);
}

// item i of a row of a GGUF type, exactly as rl_ggml_dequant
__device__ __forceinline__ float gg_item(const uint8_t *row, int dt, int64_t i) {
    if (dt == DT_GF16) return gg_h(row + 2 * i);
    if (dt == DT_GBF16) return __uint_as_float((uint32_t)(row[2 * i] | row[2 * i + 1] << 8) << 16);
    if (gg_is_k(dt)) {
        const uint8_t *b = row + (i >> 8) * gg_bytes(dt);
        int j = (int)(i & 255);
        int2 sm = gg_kscmn(b, dt, j / gg_kgsz(dt));
        float dl = __fmul_rn(gg_kd(b, dt), (float)sm.x), ml = __fmul_rn(gg_kdmin(b, dt), (float)sm.y);
        return __fsub_rn(__fmul_rn(dl, (float)gg_kitem(b, dt, j)), ml);
    }
    const uint8_t *b = row + (i >> 5) * gg_bytes(dt);
    float v = __fmul_rn(gg_d32(b, dt), (float)gg_q32(b, dt, (int)(i & 31)));
    return gg_has_m(dt) ? __fadd_rn(v, gg_h(b + 2)) : v;
}
#endif
