// Shared by every compute shader of the vulkan backend: buffer references (device addresses
// come in push constants), the workgroup size, workgroup reductions (subgroup operations when
// built with SG=1, shared memory otherwise), weight decoding and a few math helpers.
#extension GL_EXT_buffer_reference : require
#if SG
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#define WG 64
layout(local_size_x = WG) in;
layout(buffer_reference, std430, buffer_reference_align = 4) coherent buffer F32 { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer U32 { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer I32 { int v[]; };

// dtype codes (rl_dtype of src/format/dtype.h)
#define DT_F32 0u
#define DT_F16 1u
#define DT_BF16 2u
#define DT_Q8_0 10u
#define DT_Q4_1 11u
#define DT_Q4_0 16u
#define DT_Q5_0 17u
#define DT_Q5_1 18u
#define DT_Q2_K 19u
#define DT_Q3_K 20u
#define DT_Q4_K 21u
#define DT_Q5_K 22u
#define DT_Q6_K 23u
#define DT_IQ4_NL 24u
#define DT_GMXFP4 31u
#define NEG_BIG -3.0e38

uint lid() { return gl_LocalInvocationID.x; }
// workgroups are laid out over x and y (x at most 65535)
uint wg_id() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }
uint g_id() { return wg_id() * WG + gl_LocalInvocationID.x; }

shared float red_[WG];
float wg_sum(float v) {
#if SG
    float s = subgroupAdd(v);
    if (subgroupElect()) red_[gl_SubgroupID] = s;
    barrier();
    float t = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) t += red_[i];
    barrier();
    return t;
#else
    red_[lid()] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid() < s) red_[lid()] += red_[lid() + s];
        barrier();
    }
    float t = red_[0];
    barrier();
    return t;
#endif
}
float wg_max(float v) {
#if SG
    float s = subgroupMax(v);
    if (subgroupElect()) red_[gl_SubgroupID] = s;
    barrier();
    float t = red_[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) t = max(t, red_[i]);
    barrier();
    return t;
#else
    red_[lid()] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid() < s) red_[lid()] = max(red_[lid()], red_[lid() + s]);
        barrier();
    }
    float t = red_[0];
    barrier();
    return t;
#endif
}

// bytes of a weight buffer (any alignment)
uint rd_byte(U32 w, uint b) { return (w.v[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
uint rd_u16(U32 w, uint b) {
    if ((b & 1u) == 0u) return (w.v[b >> 2] >> ((b & 2u) * 8u)) & 0xffffu;
    return rd_byte(w, b) | (rd_byte(w, b + 1u) << 8);
}
uint rd_u32(U32 w, uint b) {
    if ((b & 3u) == 0u) return w.v[b >> 2];
    return rd_u16(w, b) | (rd_u16(w, b + 2u) << 16);
}
float f16v(uint h) { return unpackHalf2x16(h).x; }
float bf16v(uint h) { return uintBitsToFloat(h << 16); }
const int IQ4NL[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
const int MXFP4V[16] = int[16](0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
uint blk_bytes(uint dt) {
    return dt == DT_Q8_0 ? 34u : dt == DT_Q4_1 ? 20u : dt == DT_Q5_0 ? 22u : dt == DT_Q5_1 ? 24u : dt == DT_GMXFP4 ? 17u : 18u;
}
// the scale d of a 32-block: its f16, or MXFP4's e8m0 byte as 2^(e - 128) (ggml's kvalues are doubled)
float blk_d(U32 w, uint bb, uint dt) {
    if (dt != DT_GMXFP4) return f16v(rd_u16(w, bb));
    uint e = rd_byte(w, bb);
    return uintBitsToFloat(e < 2u ? 0x00200000u << e : (e - 1u) << 23);
}
// 1 for the 32-blocks with a second f16 (the min m: value d q + m)
bool blk_has_m(uint dt) { return dt == DT_Q4_1 || dt == DT_Q5_1; }
// integer item j (0..31) of a 32-block at byte bb: Q8_0 q, Q4_1 nibble, Q4_0 nibble - 8, IQ4_NL
// table, Q5_1 nibble + 16 x its bit of qh, Q5_0 that - 16
int blk_q(U32 w, uint bb, uint dt, uint j) {
    if (dt == DT_Q8_0) return int(rd_byte(w, bb + 2u + j) << 24) >> 24;
    if (dt == DT_Q5_0 || dt == DT_Q5_1) {
        uint o = dt == DT_Q5_0 ? 2u : 4u, by = rd_byte(w, bb + o + 4u + (j & 15u));
        uint q = (j < 16u ? (by & 15u) : (by >> 4)) | (((rd_u32(w, bb + o) >> j) & 1u) << 4);
        return dt == DT_Q5_0 ? int(q) - 16 : int(q);
    }
    uint by = rd_byte(w, bb + (dt == DT_Q4_1 ? 4u : dt == DT_GMXFP4 ? 1u : 2u) + (j & 15u));
    uint q = j < 16u ? (by & 15u) : (by >> 4);
    if (dt == DT_GMXFP4) return MXFP4V[q];
    if (dt == DT_Q4_1) return int(q);
    if (dt == DT_Q4_0) return int(q) - 8;
    return IQ4NL[q];
}
// element i of a row of dtype dt that starts at byte b
float wval(U32 w, uint b, uint dt, uint i) {
    if (dt == DT_F32) return uintBitsToFloat(rd_u32(w, b + 4u * i));
    if (dt == DT_F16) return f16v(rd_u16(w, b + 2u * i));
    if (dt == DT_BF16) return bf16v(rd_u16(w, b + 2u * i));
    uint bb = b + (i >> 5) * blk_bytes(dt);
    float q = float(blk_q(w, bb, dt, i & 31u)), d = blk_d(w, bb, dt);
    return blk_has_m(dt) ? d * q + f16v(rd_u16(w, bb + 2u)) : d * q;
}

// f32 -> f16 bits, round to nearest even (as rl_f32_to_f16)
uint f2h(float f) {
    uint x = floatBitsToUint(f), s = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x7f800000u) return s | (a > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (a >= 0x477ff000u) return s | 0x7c00u;
    if (a < 0x38800000u) {
        if (a < 0x33000000u) return s;
        uint m = (a & 0x7fffffu) | 0x800000u, sh = 126u - (a >> 23);
        uint h = m >> sh, rem = m & ((1u << sh) - 1u), mid = 1u << (sh - 1u);
        if (rem > mid || (rem == mid && (h & 1u) != 0u)) h++;
        return s | h;
    }
    uint h = (a - 0x38000000u) >> 13, rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;
    return s | h;
}
float round_f16(float f) { return f16v(f2h(f)); }
float round_bf16(float f) { // as rl_f32_to_bf16
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uintBitsToFloat(((u >> 16) | 0x40u) << 16);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uintBitsToFloat((u >> 16) << 16);
}
// a / b correctly rounded for finite positive a, b (the quotient or a neighbour, whichever leaves
// the smallest exact residual a - q b: Dekker's product, no reliance on a fused fma)
float resid(float a, float q, float b) {
    precise float cq = 4097.0 * q, qh = cq - (cq - q), ql = q - qh;
    precise float cb = 4097.0 * b, bh = cb - (cb - b), bl = b - bh;
    precise float pr = q * b, e = ((qh * bh - pr) + qh * bl + ql * bh) + ql * bl;
    precise float r = (a - pr) - e;
    return abs(r);
}
float div_rn(float a, float b) {
    float q = a / b;
    if (!(a > 0.0) || !(b > 0.0) || isinf(q) || q < 1e-30 || q > 1e30) return q;
    float best = q, rb = resid(a, q, b);
    for (int k = -1; k <= 1; k += 2) {
        float c = uintBitsToFloat(uint(int(floatBitsToUint(q)) + k));
        float rc = resid(a, c, b);
        if (rc < rb) { best = c; rb = rc; }
    }
    return best;
}

float tanh_s(float x) { // odd polynomial near 0 (no cancellation), 1 - 2 / (e^2|x| + 1) beyond
    float a = abs(x), t;
    if (a < 0.625) {
        float z = x * x;
        return ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z -
                3.33332819422e-1) * z * x + x;
    }
    t = a > 44.0 ? 1.0 : 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    return x < 0.0 ? -t : t;
}
float sigm(float x) { return 1.0 / (1.0 + exp(-x)); }
float erfc_p(float z) { // erfc for z >= 0 with relative error < 1.2e-7 (Chebyshev fit, Numerical Recipes)
    float t = 1.0 / (1.0 + 0.5 * z);
    return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
               t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
}
float erf_s(float x) { return x >= 0.0 ? 1.0 - erfc_p(x) : erfc_p(-x) - 1.0; }
