#version 450
// Mamba-2 selective state update (backend.h ssm_scan), one workgroup per head: the token's B and
// C rows of the head's group in shared memory, thread q = lid + WG k owns row q of the head's
// (head_dim, d_state) state, in the CPU's per-row order. as: A per head and state (Mamba-1), the
// decays in shared memory too.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 S; F32 xbc; F32 dt; F32 alog; F32 dtb; F32 ds; F32 y;
    uint G, NH, N, HP, T; float dtmin, dtmax; uint ad, as;
} p;
#define MAXN 1024
shared float Bs[MAXN], Cs[MAXN], Ds[MAXN];
void main() {
    uint h = gl_WorkGroupID.x, g = h / (p.NH / p.G);
    uint I = p.NH * p.HP, C = I + 2u * p.G * p.N;
    float A = p.as != 0u ? 0.0 : p.ad != 0u ? p.alog.v[h] : -exp(p.alog.v[h]), D = p.ds.v[h];
    for (uint t = 0; t < p.T; t++) {
        uint row = t * C;
        for (uint n = lid(); n < p.N; n += WG) {
            Bs[n] = p.xbc.v[row + I + g * p.N + n];
            Cs[n] = p.xbc.v[row + I + p.G * p.N + g * p.N + n];
        }
        barrier();
        float v = p.dt.v[t * p.NH + h] + p.dtb.v[h];
        float dt = min(max(v > 20.0 ? v : log(1.0 + exp(v)), p.dtmin), p.dtmax);
        float dA = exp(dt * A);
        if (p.as != 0u) {
            for (uint n = lid(); n < p.N; n += WG) {
                float a = p.alog.v[h * p.N + n];
                Ds[n] = exp(dt * (p.ad != 0u ? a : -exp(a)));
            }
            barrier();
        }
        for (uint q = lid(); q < p.HP; q += WG) {
            float x = p.xbc.v[row + h * p.HP + q], dx = dt * x, acc = 0.0;
            uint sb = (h * p.HP + q) * p.N;
            for (uint n = 0; n < p.N; n++) {
                float s = p.S.v[sb + n] * (p.as != 0u ? Ds[n] : dA) + dx * Bs[n];
                p.S.v[sb + n] = s;
                acc += s * Cs[n];
            }
            p.y.v[t * I + h * p.HP + q] = acc + D * x;
        }
        barrier(); // Bs / Cs are rewritten by the next token
    }
}
