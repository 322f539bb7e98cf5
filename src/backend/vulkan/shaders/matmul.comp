#version 450
// y[t][o] = bias[o] + sum_i x[t][i] W[o][i]: one workgroup per output row o and tile of TT
// tokens (z); threads split the row (whole 32-blocks for quantised weights), f32 accumulation.
// small = 1 (short rows): one thread per output row instead, no reduction.
// gm (GGUF weights, ggml-cpu numerics): 1 / 2 activations rounded to f16 / bf16; 3 / 4 each
// activation block quantised to Q8_0 / Q8_1 (scale 127 / amax, round half to even, f16 scale)
// and multiplied in integers: (dw dx) sum q qx (+ m sx for Q8_1).
#include "common.glsl"
layout(push_constant) uniform P {
    F32 y; F32 x; U32 w; F32 bias;
    uint woff, dt, T, in_, out_, ld, rb, has_bias, gm, small;
} p;
#define TT 8
float acc[TT];
// acc[k] += the part of row o's dot products with tokens t0 + k (k < nt) that starts at block
// (or item) i0 and steps by st
void row_dot(uint o, uint t0, uint nt, uint i0, uint st) {
    uint rowb = p.woff + o * p.rb;
    if (p.gm >= 3u) {
        uint bbytes = blk_bytes(p.dt);
        for (uint blk = i0; blk < p.in_ / 32u; blk += st) {
            uint bb = rowb + blk * bbytes;
            float dw = f16v(rd_u16(p.w, bb));
            for (uint k = 0; k < nt; k++) {
                uint xb = (t0 + k) * p.in_ + blk * 32u;
                float amax = 0.0;
                for (uint j = 0; j < 32u; j++) amax = max(amax, abs(p.x.v[xb + j]));
                float d = div_rn(amax, 127.0), id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
                int isum = 0, qsum = 0;
                for (uint j = 0; j < 32u; j++) {
                    int qx = int(roundEven(p.x.v[xb + j] * id));
                    isum += qx * blk_q(p.w, bb, p.dt, j);
                    qsum += qx;
                }
                float v = (dw * round_f16(d)) * float(isum);
                if (p.gm == 4u) v += f16v(rd_u16(p.w, bb + 2u)) * round_f16(d * float(qsum));
                acc[k] += v;
            }
        }
    } else if (p.dt == DT_Q8_0 || p.dt == DT_Q4_1 || p.dt == DT_Q4_0 || p.dt == DT_IQ4_NL) {
        uint bbytes = blk_bytes(p.dt);
        for (uint blk = i0; blk < p.in_ / 32u; blk += st) {
            uint bb = rowb + blk * bbytes;
            float d = f16v(rd_u16(p.w, bb)), m = p.dt == DT_Q4_1 ? f16v(rd_u16(p.w, bb + 2u)) : 0.0;
            for (uint j = 0; j < 32u; j++) {
                float wv = d * float(blk_q(p.w, bb, p.dt, j)) + m;
                uint xi = blk * 32u + j;
                for (uint k = 0; k < nt; k++) acc[k] += wv * p.x.v[(t0 + k) * p.in_ + xi];
            }
        }
    } else {
        for (uint i = i0; i < p.in_; i += st) {
            float wv = wval(p.w, rowb, p.dt, i);
            for (uint k = 0; k < nt; k++) {
                float xv = p.x.v[(t0 + k) * p.in_ + i];
                if (p.gm == 1u) xv = round_f16(xv);
                else if (p.gm == 2u) xv = round_bf16(xv);
                acc[k] += wv * xv;
            }
        }
    }
}
void main() {
    uint t0 = gl_WorkGroupID.z * TT;
    uint nt = min(uint(TT), p.T - t0);
    for (uint k = 0; k < TT; k++) acc[k] = 0.0;
    if (p.small != 0u) {
        uint o = g_id();
        if (o >= p.out_) return;
        row_dot(o, t0, nt, 0u, 1u);
        for (uint k = 0; k < nt; k++) p.y.v[(t0 + k) * p.ld + o] = acc[k] + (p.has_bias != 0u ? p.bias.v[o] : 0.0);
        return;
    }
    uint o = wg_id();
    if (o >= p.out_) return;
    row_dot(o, t0, nt, lid(), WG);
    for (uint k = 0; k < nt; k++) { // nt is the same for the whole workgroup
        float s = wg_sum(acc[k]);
        if (lid() == 0u) p.y.v[(t0 + k) * p.ld + o] = s + (p.has_bias != 0u ? p.bias.v[o] : 0.0);
    }
}
