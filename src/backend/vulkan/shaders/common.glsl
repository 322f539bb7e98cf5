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
// element i of a row of dtype dt that starts at byte b
float wval(U32 w, uint b, uint dt, uint i) {
    if (dt == DT_F32) return uintBitsToFloat(rd_u32(w, b + 4u * i));
    if (dt == DT_F16) return f16v(rd_u16(w, b + 2u * i));
    if (dt == DT_BF16) return bf16v(rd_u16(w, b + 2u * i));
    uint blk = i >> 5, j = i & 31u;
    if (dt == DT_Q8_0) {
        uint bb = b + blk * 34u;
        int q = int(rd_byte(w, bb + 2u + j) << 24) >> 24;
        return f16v(rd_u16(w, bb)) * float(q);
    }
    uint bb = b + blk * 20u; // Q4_1
    uint by = rd_byte(w, bb + 4u + (j & 15u));
    uint q = j < 16u ? (by & 15u) : (by >> 4);
    return f16v(rd_u16(w, bb)) * float(q) + f16v(rd_u16(w, bb + 2u));
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
