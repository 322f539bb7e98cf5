#version 450
// y[t][o] = bias[o] + sum_i x[t][i] W[o][i]: one workgroup per output row o and tile of TT
// tokens (z); threads split the row (whole blocks for quantised weights), f32 accumulation.
// small = 1 (short rows): one thread per output row instead, no reduction.
// gm (GGUF weights, ggml-cpu numerics): 1 / 2 activations rounded to f16 / bf16; 3 / 4 / 5 the
// activation rows already quantised to Q8_0 / Q8_1 / Q8_K blocks in qa (quant_act.comp, qrow
// words per token row) and multiplied in integers as ggml does: (dw dx) sum q qx (+ m sx for
// Q8_1); k-quants (dw dx) sum_g sc[g] sum q qx - (dmin dx) sum_g mn[g] bsums.
#include "common.glsl"
#include "kquants.glsl"
layout(push_constant) uniform P {
    F32 y; F32 x; U32 w; F32 bias; U32 qa;
    uint woff, dt, T, in_, out_, ld, rb, has_bias, gm, small, qrow;
} p;
#define TT 8
float acc[TT];
// acc[k] += the part of row o's dot products with tokens t0 + k (k < nt) that starts at block
// (or item) i0 and steps by st
void row_dot(uint o, uint t0, uint nt, uint i0, uint st) {
    uint rowb = p.woff + o * p.rb;
    if (p.gm == 5u) { // k-quants: super-blocks of 256, groups of 16 or 32
        uint bbytes = k_bytes(p.dt), gsz = k_gsz(p.dt);
        for (uint blk = i0; blk < p.in_ / 256u; blk += st) {
            uint bb = rowb + blk * bbytes;
            int isum[TT], summ[TT];
            for (uint k = 0; k < TT; k++) { isum[k] = 0; summ[k] = 0; }
            for (uint g = 0; g < 256u / gsz; g++) {
                ivec2 sm = k_scmn(p.w, bb, p.dt, g);
                int wq[32];
                for (uint j = 0; j < gsz; j++) wq[j] = k_item(p.w, bb, p.dt, g * gsz + j);
                for (uint k = 0; k < nt; k++) {
                    uint qb = (t0 + k) * p.qrow + blk * 81u;
                    int s = 0;
                    for (uint j = 0; j < gsz; j += 4u) {
                        uint wd = p.qa.v[qb + 1u + (g * gsz + j) / 4u];
                        for (uint e = 0; e < 4u; e++) s += wq[j + e] * bitfieldExtract(int(wd), int(8u * e), 8);
                    }
                    isum[k] += sm.x * s;
                    int bs = int(p.qa.v[qb + 65u + g * gsz / 16u]);
                    if (gsz == 32u) bs += int(p.qa.v[qb + 66u + g * 2u]);
                    summ[k] += sm.y * bs;
                }
            }
            float dw = k_d(p.w, bb, p.dt), dm = k_dmin(p.w, bb, p.dt);
            for (uint k = 0; k < nt; k++) {
                float yd = uintBitsToFloat(p.qa.v[(t0 + k) * p.qrow + blk * 81u]);
                precise float v = (dw * yd) * float(isum[k]) - (dm * yd) * float(summ[k]);
                acc[k] += v;
            }
        }
    } else if (p.gm >= 3u) { // 32-blocks with Q8_0 / Q8_1 activations
        uint bbytes = blk_bytes(p.dt);
        for (uint blk = i0; blk < p.in_ / 32u; blk += st) {
            uint bb = rowb + blk * bbytes;
            float dw = blk_d(p.w, bb, p.dt), mw = blk_has_m(p.dt) ? f16v(rd_u16(p.w, bb + 2u)) : 0.0;
            int wq[32];
            for (uint j = 0; j < 32u; j++) wq[j] = blk_q(p.w, bb, p.dt, j);
            for (uint k = 0; k < nt; k++) {
                uint qb = (t0 + k) * p.qrow + blk * 10u;
                int isum = 0;
                for (uint j = 0; j < 32u; j += 4u) {
                    uint wd = p.qa.v[qb + 2u + j / 4u];
                    for (uint e = 0; e < 4u; e++) isum += wq[j + e] * bitfieldExtract(int(wd), int(8u * e), 8);
                }
                precise float v = (dw * uintBitsToFloat(p.qa.v[qb])) * float(isum);
                if (p.gm == 4u) v += mw * uintBitsToFloat(p.qa.v[qb + 1u]);
                acc[k] += v;
            }
        }
    } else if (p.dt == DT_Q8_0 || p.dt == DT_Q4_1) {
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
