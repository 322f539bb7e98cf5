#version 450
// Elementwise ops over n values: 0 y += x; 1 y *= s; 2 y = s tanh(y / s); 3 y *= sigmoid(x); 10 y = clamp(y, -s, s);
// 4..6, 8, 9 y = act(y) (* x if has_x): SiLU, GELU tanh, GELU erf, squared ReLU, identity; 7 gpt-oss's clamped SwiGLU:
// g = min(y, 7): g sigmoid(1.702 g) (clamp(x, -7, 7) + 1) (x 0 without has_x).
#include "common.glsl"
layout(push_constant) uniform P { F32 y; F32 x; uint n, op, has_x; float s; } p;
void main() {
    uint i = g_id();
    if (i >= p.n) return;
    float y = p.y.v[i];
    if (p.op == 0u) y += p.x.v[i];
    else if (p.op == 1u) y *= p.s;
    else if (p.op == 2u) y = p.s * tanh_s(y / p.s);
    else if (p.op == 10u) y = clamp(y, -p.s, p.s);
    else if (p.op == 3u) y *= sigm(p.x.v[i]);
    else if (p.op == 7u) {
        float g = min(y, 7.0), u = p.has_x != 0u ? clamp(p.x.v[i], -7.0, 7.0) : 0.0;
        y = g / (1.0 + exp(-1.702 * g)) * (u + 1.0);
    } else {
        if (p.op == 4u) y = y / (1.0 + exp(-y));
        else if (p.op == 5u) y = 0.5 * y * (1.0 + tanh_s(0.7978845608028654 * (y + 0.044715 * y * y * y)));
        else if (p.op == 8u) { float r = max(y, 0.0); y = r * r; }
        else if (p.op == 9u) {} // identity: a plain product
        else y = 0.5 * y * (1.0 + erf_s(y * 0.70710678118654752));
        if (p.has_x != 0u) y *= p.x.v[i];
    }
    p.y.v[i] = y;
}
