#version 450
// y[t][o] = bias[o] + sum_i x[t][i] W[o][i]: one workgroup per output row o and tile of TT
// tokens (z); threads split the row (whole 32-blocks for quantised weights), f32 accumulation.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 y; F32 x; U32 w; F32 bias;
    uint woff, dt, T, in_, out_, ld, rb, has_bias;
} p;
#define TT 8
void main() {
    uint o = wg_id();
    if (o >= p.out_) return;
    uint t0 = gl_WorkGroupID.z * TT;
    uint nt = min(uint(TT), p.T - t0);
    float acc[TT];
    for (uint k = 0; k < TT; k++) acc[k] = 0.0;
    uint rowb = p.woff + o * p.rb;
    if (p.dt == DT_Q8_0 || p.dt == DT_Q4_1) {
        for (uint blk = lid(); blk < p.in_ / 32u; blk += WG) {
            if (p.dt == DT_Q8_0) {
                uint bb = rowb + blk * 34u;
                float d = f16v(rd_u16(p.w, bb));
                for (uint j = 0; j < 32u; j++) {
                    float wv = d * float(int(rd_byte(p.w, bb + 2u + j) << 24) >> 24);
                    uint xi = blk * 32u + j;
                    for (uint k = 0; k < nt; k++) acc[k] += wv * p.x.v[(t0 + k) * p.in_ + xi];
                }
            } else {
                uint bb = rowb + blk * 20u;
                float d = f16v(rd_u16(p.w, bb)), m = f16v(rd_u16(p.w, bb + 2u));
                for (uint j = 0; j < 16u; j++) {
                    uint by = rd_byte(p.w, bb + 4u + j);
                    float w0 = d * float(by & 15u) + m, w1 = d * float(by >> 4) + m;
                    uint xi = blk * 32u + j;
                    for (uint k = 0; k < nt; k++)
                        acc[k] += w0 * p.x.v[(t0 + k) * p.in_ + xi] + w1 * p.x.v[(t0 + k) * p.in_ + xi + 16u];
                }
            }
        }
    } else {
        for (uint i = lid(); i < p.in_; i += WG) {
            float wv = wval(p.w, rowb, p.dt, i);
            for (uint k = 0; k < nt; k++) acc[k] += wv * p.x.v[(t0 + k) * p.in_ + i];
        }
    }
    for (uint k = 0; k < TT; k++) {
        float s = wg_sum(acc[k]);
        if (lid() == 0u && k < nt) p.y.v[(t0 + k) * p.ld + o] = s + (p.has_bias != 0u ? p.bias.v[o] : 0.0);
    }
}
