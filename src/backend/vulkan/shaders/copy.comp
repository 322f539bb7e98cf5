#version 450
// Strided copy of 4-byte words: rows of rw words, src rows ss words apart (0 repeats a row),
// dst rows ds apart; mode 1 fills n words of dst with zero.
#include "common.glsl"
layout(push_constant) uniform P { U32 d; U32 s; uint rw, rows, ss, ds, mode; } p;
void main() {
    uint id = g_id();
    if (p.mode == 1u) { if (id < p.rw) p.d.v[id] = 0u; return; }
    if (id >= p.rw * p.rows) return;
    uint r = id / p.rw, c = id % p.rw;
    p.d.v[r * p.ds + c] = p.s.v[r * p.ss + c];
}
