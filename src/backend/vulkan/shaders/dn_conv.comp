#version 450
// Gated DeltaNet depthwise causal conv + SiLU: out[t][c] = silu(sum_k w[c][k] in[t + k][c]).
#include "common.glsl"
layout(push_constant) uniform P { F32 o; F32 x; F32 w; uint T, C, K; } p;
void main() {
    uint id = g_id();
    if (id >= p.T * p.C) return;
    uint t = id / p.C, c = id % p.C;
    float acc = 0.0;
    for (uint k = 0; k < p.K; k++) acc += p.w.v[c * p.K + k] * p.x.v[(t + k) * p.C + c];
    p.o.v[id] = acc / (1.0 + exp(-acc));
}
