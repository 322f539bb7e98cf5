#version 450
// dst[i] = (float)src[i] for n values of dtype dt (src at byte offset woff of w).
#include "common.glsl"
#include "kquants.glsl"
layout(push_constant) uniform P { F32 dst; U32 w; uint woff, dt, n; } p;
void main() {
    uint i = g_id();
    if (i < p.n) p.dst.v[i] = wval_any(p.w, p.woff, p.dt, i);
}
