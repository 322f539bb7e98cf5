// The norm shader's body (norm.comp: f32 / double-float; norm64.comp: with F64).
// One workgroup per row. mode 0: RMS norm (x * rsqrt(mean x^2 + eps) * (w or 1 + w));
// mode 1: layer norm ((x - mean) * rsqrt(var + eps) * w + b). out may alias x.
// The RMS norm reproduces the cpu's rounding (which is ggml's): f32 squares summed exactly (a
// double-float sum: GGUF models quantise the normed rows, where one ulp can flip a rounding),
// mean, sqrt and reciprocal each correctly rounded to f32; with F64 (devices with shaderFloat64,
// norm64.comp) the sum is a double as on the cpu and mean / sqrt / reciprocal are rounded from
// double results.
#include "common.glsl"
layout(push_constant) uniform P { F32 o; F32 x; F32 w; F32 b; uint n, mode, has_w, has_b, one_plus; float eps; } p;
#if F64
shared double red64_[WG];
#endif
shared vec2 dfs_[WG];
vec2 two_sum(float a, float b) { precise float s = a + b, bb = s - a, e = (a - (s - bb)) + (b - bb); return vec2(s, e); }
vec2 df_add(vec2 a, vec2 b) { vec2 s = two_sum(a.x, b.x); return two_sum(s.x, s.y + a.y + b.y); }
vec2 df_wg_sum(vec2 v) {
    dfs_[lid()] = v;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (lid() < s) dfs_[lid()] = df_add(dfs_[lid()], dfs_[lid() + s]);
        barrier();
    }
    vec2 t = dfs_[0];
    barrier();
    return t;
}
float sqrt_rn(float a) { precise float s = sqrt(a), r = fma(-s, s, a); return fma(r, 0.5 / s, s); }
void main() {
    uint t = wg_id(), base = t * p.n;
    float s = 0.0;
    if (p.mode == 0u) {
#if F64
        double acc = 0.0;
        for (uint i = lid(); i < p.n; i += WG) { precise float v = p.x.v[base + i], sq = v * v; acc += double(sq); }
        red64_[lid()] = acc;
        barrier();
        for (uint h = WG / 2; h > 0; h >>= 1) {
            if (lid() < h) red64_[lid()] += red64_[lid() + h];
            barrier();
        }
        float mean = float(red64_[0] / double(p.n));
        precise float me = mean + p.eps;
        float sc = float(1.0lf / double(float(sqrt(double(me)))));
#else
        vec2 acc = vec2(0.0);
        for (uint i = lid(); i < p.n; i += WG) { precise float v = p.x.v[base + i], sq = v * v; acc = df_add(acc, vec2(sq, 0.0)); }
        vec2 ss = df_wg_sum(acc);
        precise float fn = float(p.n), q0 = ss.x / fn, r = fma(-q0, fn, ss.x) + ss.y;
        precise float mean = q0 + r / fn, me = mean + p.eps;
        float sc = div_rn(1.0, sqrt_rn(me));
#endif
        for (uint i = lid(); i < p.n; i += WG) {
            precise float v = p.x.v[base + i] * sc;
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
