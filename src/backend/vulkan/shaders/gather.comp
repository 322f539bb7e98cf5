#version 450
// mode 0 gather: dst[r] = src[rows[r]] (thread per value); mode 1 scatter-add: dst[rows[r]] +=
// w[r] src[r], one thread per column walking r in order (repeated rows add up as on the CPU).
#include "common.glsl"
layout(push_constant) uniform P { F32 d; F32 s; I32 rows; F32 w; uint nr, n, mode; } p;
void main() {
    uint id = g_id();
    if (p.mode == 0u) {
        if (id >= p.nr * p.n) return;
        uint r = id / p.n, c = id % p.n;
        p.d.v[r * p.n + c] = p.s.v[uint(p.rows.v[r]) * p.n + c];
    } else {
        if (id >= p.n) return;
        for (uint r = 0; r < p.nr; r++) {
            uint dr = uint(p.rows.v[r]);
            p.d.v[dr * p.n + id] += p.w.v[r] * p.s.v[r * p.n + id];
        }
    }
}
