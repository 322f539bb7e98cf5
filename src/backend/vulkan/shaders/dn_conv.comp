#version 450
// Depthwise causal conv + SiLU (Gated DeltaNet, Mamba-2): out[t][c] = silu(b[c] + sum_k w[c][k]
// in[t + k][c]); b only when hb != 0; no SiLU when silu == 0 (LFM2's short conv).
#include "common.glsl"
layout(push_constant) uniform P { F32 o; F32 x; F32 w; F32 b; uint T, C, K, hb, silu; } p;
void main() {
    uint id = g_id();
    if (id >= p.T * p.C) return;
    uint t = id / p.C, c = id % p.C;
    float acc = p.hb != 0u ? p.b.v[c] : 0.0;
    for (uint k = 0; k < p.K; k++) acc += p.w.v[c * p.K + k] * p.x.v[(t + k) * p.C + c];
    p.o.v[id] = p.silu != 0u ? acc / (1.0 + exp(-acc)) : acc;
}
