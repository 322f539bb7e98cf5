#version 450
// y[t][o] = bias[o] + sum_i x[t][i] W[o][i] for the HF pre-quantized formats (rl_qweight of
// backend.h), each weight dequantised exactly in f32 as the cpu does (src/backend/cpu/hfq.c):
//   kind 0 FP8 block: W = e4m3(q[o][i]) * s[o / blk_r][i / blk_c]     (s F32 / BF16 / F16)
//   kind 1 GPTQ v1:   W = f16(sc[g][o]) * (q[i][o] - (qz[g][o] + 1)), g = g_idx[i] (NaN if out of range)
//   kind 2 AWQ:       W = f16(sc[i / group][o]) * (q[i][o] - qz[i / group][o]), AWQ nibble order
//   kind 3 BNB4:      W = map[nibble k] * absmax[k / group], k = o * in + i; absmax F32, or
//                     nested_map[u8] * nested_absmax[b / nested_block] + nested_offset
//   kind 4 MXFP4:     W = e2m1(nibble i of row o, low nibble first) * 2^(scales[o][i / 32] - 127)
// Row-major kinds (FP8, BNB4): one workgroup per output row, threads split the row (as matmul.comp).
// Packed-column kinds (GPTQ, AWQ: words of [in / pf, out]): one thread per output row, so a
// workgroup's threads read adjacent words. TT tokens per z tile; f32 accumulation.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 y; F32 x; F32 bias; U32 data; U32 scales; U32 zeros; U32 gidx; U32 map2;
    uint offs;   // byte offsets (0..3) of data, scales, zeros, gidx, map2: 2 bits each
    uint flags;  // kind | scale_dt << 4 (0 F32, 1 F16, 2 BF16; BNB4: 3 = U8 double quant) | bits << 8 | has_bias << 16
    uint T, in_, out_, group, ngroups, blk_r, blk_c, nested_block;
    float nested_offset;
} p;
#define TT 8
uint off(uint k) { return (p.offs >> (2u * k)) & 3u; }
uint kind() { return p.flags & 15u; }
uint sdt() { return (p.flags >> 4) & 15u; }
float f8v(uint b) { // e4m3fn, exact
    uint e = (b >> 3) & 15u, m = b & 7u;
    float v = e == 0u ? float(m) * (1.0 / 512.0) : uintBitsToFloat(((e + 120u) << 23) | (m << 20));
    if (e == 15u && m == 7u) v = uintBitsToFloat(0x7fc00000u);
    return (b & 128u) != 0u ? -v : v;
}
float scale_at(uint k) {
    uint d = sdt();
    if (d == 1u) return f16v(rd_u16(p.scales, off(1) + 2u * k));
    if (d == 2u) return bf16v(rd_u16(p.scales, off(1) + 2u * k));
    return uintBitsToFloat(rd_u32(p.scales, off(1) + 4u * k));
}
float bnb_absmax(uint b) {
    if (sdt() != 3u) return uintBitsToFloat(rd_u32(p.scales, off(1) + 4u * b));
    precise float q = uintBitsToFloat(rd_u32(p.map2, off(4) + 4u * rd_byte(p.scales, off(1) + b))) *
                      uintBitsToFloat(rd_u32(p.zeros, off(2) + 4u * (b / p.nested_block)));
    precise float r = q + p.nested_offset; // two roundings, as bitsandbytes
    return r;
}
// W[o][i] of the packed-column kinds
float wcol(uint o, uint i) {
    uint bits = (p.flags >> 8) & 255u, pf = 32u / bits, mask = (1u << bits) - 1u;
    uint qv, z, g;
    if (kind() == 1u) {
        int gi = int(rd_u32(p.gidx, off(3) + 4u * i));
        if (gi < 0 || gi >= int(p.ngroups)) return uintBitsToFloat(0x7fc00000u);
        g = uint(gi);
        qv = (rd_u32(p.data, off(0) + 4u * ((i / pf) * p.out_ + o)) >> (bits * (i % pf))) & mask;
        z = ((rd_u32(p.zeros, off(2) + 4u * (g * (p.out_ / pf) + o / pf)) >> (bits * (o % pf))) & mask) + 1u;
    } else {
        const uint rev[8] = uint[8](0u, 4u, 1u, 5u, 2u, 6u, 3u, 7u);
        uint wc = p.out_ / 8u, sh = 4u * rev[o % 8u];
        g = i / p.group;
        qv = (rd_u32(p.data, off(0) + 4u * (i * wc + o / 8u)) >> sh) & 15u;
        z = (rd_u32(p.zeros, off(2) + 4u * (g * wc + o / 8u)) >> sh) & 15u;
    }
    return f16v(rd_u16(p.scales, off(1) + 2u * (g * p.out_ + o))) * float(int(qv) - int(z));
}
// W[o][i] of the row-major kinds
float wrow(uint o, uint i) {
    if (kind() == 0u) {
        uint sc = (p.in_ + p.blk_c - 1u) / p.blk_c;
        return f8v(rd_byte(p.data, off(0) + o * p.in_ + i)) * scale_at((o / p.blk_r) * sc + i / p.blk_c);
    }
    uint k = o * p.in_ + i, byte = rd_byte(p.data, off(0) + (k >> 1));
    if (kind() == 4u) {
        const float e2m1[8] = float[8](0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0);
        uint nb = (i & 1u) != 0u ? byte >> 4 : byte & 15u;
        float v = e2m1[nb & 7u] * exp2(float(int(rd_byte(p.scales, off(1) + o * (p.in_ >> 5) + (i >> 5))) - 127));
        return (nb & 8u) != 0u ? -v : v;
    }
    uint nib = (k & 1u) != 0u ? byte & 15u : byte >> 4;
    return uintBitsToFloat(rd_u32(p.gidx, off(3) + 4u * nib)) * bnb_absmax(k / p.group);
}
void main() {
    uint t0 = gl_WorkGroupID.z * TT, nt = min(uint(TT), p.T - t0);
    float acc[TT];
    for (uint k = 0; k < TT; k++) acc[k] = 0.0;
    bool has_b = ((p.flags >> 16) & 1u) != 0u;
    if (kind() == 1u || kind() == 2u) {
        uint o = g_id();
        if (o >= p.out_) return;
        for (uint i = 0; i < p.in_; i++) {
            float wv = wcol(o, i);
            for (uint k = 0; k < nt; k++) acc[k] += wv * p.x.v[(t0 + k) * p.in_ + i];
        }
        for (uint k = 0; k < nt; k++) p.y.v[(t0 + k) * p.out_ + o] = acc[k] + (has_b ? p.bias.v[o] : 0.0);
        return;
    }
    uint o = wg_id();
    if (o >= p.out_) return;
    for (uint i = lid(); i < p.in_; i += WG) {
        float wv = wrow(o, i);
        for (uint k = 0; k < nt; k++) acc[k] += wv * p.x.v[(t0 + k) * p.in_ + i];
    }
    for (uint k = 0; k < nt; k++) {
        float s = wg_sum(acc[k]);
        if (lid() == 0u) p.y.v[(t0 + k) * p.out_ + o] = s + (has_b ? p.bias.v[o] : 0.0);
    }
}
