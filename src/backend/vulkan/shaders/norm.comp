#version 450
// One workgroup per row. mode 0: RMS norm (x * rsqrt(mean x^2 + eps) * (w or 1 + w));
// mode 1: layer norm ((x - mean) * rsqrt(var + eps) * w + b). out may alias x.
#include "common.glsl"
layout(push_constant) uniform P { F32 o; F32 x; F32 w; F32 b; uint n, mode, has_w, has_b, one_plus; float eps; } p;
void main() {
    uint t = wg_id(), base = t * p.n;
    float s = 0.0;
    if (p.mode == 0u) {
        for (uint i = lid(); i < p.n; i += WG) { float v = p.x.v[base + i]; s += v * v; }
        float sc = 1.0 / sqrt(wg_sum(s) / float(p.n) + p.eps);
        for (uint i = lid(); i < p.n; i += WG) {
            float v = p.x.v[base + i] * sc;
            if (p.has_w != 0u) v *= p.one_plus != 0u ? 1.0 + p.w.v[i] : p.w.v[i];
            p.o.v[base + i] = v;
        }
    } else {
        for (uint i = lid(); i < p.n; i += WG) s += p.x.v[base + i];
        float mean = wg_sum(s) / float(p.n), q = 0.0;
        for (uint i = lid(); i < p.n; i += WG) { float d = p.x.v[base + i] - mean; q += d * d; }
        float sc = 1.0 / sqrt(wg_sum(q) / float(p.n) + p.eps);
        for (uint i = lid(); i < p.n; i += WG) {
            float v = (p.x.v[base + i] - mean) * sc;
            if (p.has_w != 0u) v *= p.w.v[i];
            if (p.has_b != 0u) v += p.b.v[i];
            p.o.v[base + i] = v;
        }
    }
}
