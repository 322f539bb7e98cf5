#version 450
// KV cache rows: `rows` f32 rows of `width` values (src, consecutive) stored as the cache's dtype
// (F32, F16, BF16, or Q8_0 blocks exactly as rl_quantize_row: d = amax / 127 rounded to f16,
// q = round-half-away(x / d) clamped to +-127) at the bytes [off0, off0 + rows * rb) past the
// word-aligned address d. One thread per 4-byte word; a word the rows cover only in part keeps
// its other bytes (no other thread of the dispatch touches it).
#include "common.glsl"
layout(push_constant) uniform P { U32 d; F32 s; uint off0, rb, width, dt, nbytes; } p;

uint kv_byte(uint gb) {
    uint r = gb / p.rb, o = gb % p.rb, sb = r * p.width;
    if (p.dt == DT_F32) return (floatBitsToUint(p.s.v[sb + (o >> 2)]) >> ((o & 3u) * 8u)) & 0xffu;
    if (p.dt == DT_F16) return (f2h(p.s.v[sb + (o >> 1)]) >> ((o & 1u) * 8u)) & 0xffu;
    if (p.dt == DT_BF16) return (floatBitsToUint(round_bf16(p.s.v[sb + (o >> 1)])) >> (16u + (o & 1u) * 8u)) & 0xffu;
    uint blk = o / 34u, bo = o % 34u, xb = sb + blk * 32u;
    float amax = 0.0;
    for (uint j = 0; j < 32u; j++) amax = max(amax, abs(p.s.v[xb + j]));
    float d = div_rn(amax, 127.0);
    if (bo < 2u) return (f2h(d) >> (bo * 8u)) & 0xffu;
    float dr = round_f16(d), id = dr > 0.0 ? div_rn(1.0, dr) : 0.0;
    precise float v = p.s.v[xb + bo - 2u] * id;
    float a = abs(v), t = trunc(a);
    if (a - t >= 0.5) t += 1.0;
    int q = int(min(t, 127.0));
    return uint(v < 0.0 ? -q : q) & 0xffu;
}

void main() {
    uint w = g_id();
    if (w >= (p.off0 + p.nbytes + 3u) / 4u) return;
    uint word = 0u, keep = 0u;
    for (uint i = 0; i < 4u; i++) {
        int gb = int(4u * w + i) - int(p.off0);
        if (gb < 0 || uint(gb) >= p.nbytes) keep |= 0xffu << (8u * i);
        else word |= kv_byte(uint(gb)) << (8u * i);
    }
    if (keep != 0u) word |= p.d.v[w] & keep;
    p.d.v[w] = word;
}
