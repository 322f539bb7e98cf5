#version 450
// Rotary embedding in place: one thread per (token, head, pair); pairing 0 = NeoX (i, i + half),
// 1 = GPT-J (2i, 2i + 1); tables (T, half).
#include "common.glsl"
layout(push_constant) uniform P { F32 x; F32 c; F32 s; uint T, nh, hd, half_, gptj; } p;
void main() {
    uint id = g_id();
    if (id >= p.T * p.nh * p.half_) return;
    uint i = id % p.half_, th = id / p.half_, t = th / p.nh;
    uint base = th * p.hd;
    uint ia = p.gptj != 0u ? 2u * i : i, ib = p.gptj != 0u ? 2u * i + 1u : i + p.half_;
    float c = p.c.v[t * p.half_ + i], s = p.s.v[t * p.half_ + i];
    float a = p.x.v[base + ia], b = p.x.v[base + ib];
    p.x.v[base + ia] = a * c - b * s;
    p.x.v[base + ib] = b * c + a * s;
}
