#version 450
// y[t][o] = sum_i x[t][i] W[i][o] (MLA's absorbed attention): W (in, out) of dtype dt, rows rb
// bytes apart from byte woff; one thread per output o and tile of TT tokens (z), the sum over i
// in order (f32, as the cpu's row-by-row axpy).
#include "common.glsl"
#include "kquants.glsl"
layout(push_constant) uniform P { F32 y; F32 x; U32 w; uint woff, dt, T, in_, out_, rb; } p;
#define TT 8
void main() {
    uint o = g_id(), t0 = gl_WorkGroupID.z * TT;
    if (o >= p.out_) return;
    uint nt = min(uint(TT), p.T - t0);
    float acc[TT];
    for (uint k = 0; k < TT; k++) acc[k] = 0.0;
    for (uint i = 0; i < p.in_; i++) {
        float wv = wval_any(p.w, p.woff + i * p.rb, p.dt, o);
        for (uint k = 0; k < nt; k++) acc[k] += p.x.v[(t0 + k) * p.in_ + i] * wv;
    }
    for (uint k = 0; k < nt; k++) p.y.v[(t0 + k) * p.out_ + o] = acc[k];
}
