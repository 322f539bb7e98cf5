#version 450
// Row ops. mode 0 row_norm_div: workgroup per weight row r, out[t][r] /= max(||W[r]||, 1e-12);
// mode 1 row_gate: workgroup per row t, out[t] *= sigmoid(x[t] . g);
// mode 2 scale_rows: workgroup per row t, out[t] *= g[t].
#include "common.glsl"
#include "kquants.glsl"
layout(push_constant) uniform P { F32 o; F32 x; F32 g; U32 w; uint woff, dt, rb, T, rows, cols, mode, ld; } p;
void main() {
    uint r = wg_id();
    if (p.mode == 0u) {
        if (r >= p.rows) return;
        float s = 0.0;
        for (uint i = lid(); i < p.cols; i += WG) { float v = wval_any(p.w, p.woff + r * p.rb, p.dt, i); s += v * v; }
        float nrm = sqrt(wg_sum(s)), inv = 1.0 / max(nrm, 1e-12);
        for (uint t = lid(); t < p.T; t += WG) p.o.v[t * p.ld + r] *= inv;
    } else if (p.mode == 2u) {
        if (r >= p.T) return;
        float s = p.g.v[r];
        for (uint i = lid(); i < p.cols; i += WG) p.o.v[r * p.cols + i] *= s;
    } else {
        if (r >= p.T) return;
        float s = 0.0;
        for (uint i = lid(); i < p.cols; i += WG) s += p.x.v[r * p.cols + i] * p.g.v[i];
        float sg = sigm(wg_sum(s));
        for (uint i = lid(); i < p.cols; i += WG) p.o.v[r * p.cols + i] *= sg;
    }
}
