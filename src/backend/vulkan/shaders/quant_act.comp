#version 450
// Activation rows quantised as ggml-cpu converts them for its integer dot products (see
// src/backend/cpu/ggml_quants.c), one thread per block of one token row, into qa (row_words
// uints per token row):
// kind 3 / 4 (Q8_0 / Q8_1), blocks of 32 -> 10 words: f16-rounded d, f16-rounded d * sum q (Q8_1),
//   8 words of int8 q; d = amax / 127, q = round half even (x * (127 / amax));
// kind 5 (Q8_K), blocks of 256 -> 81 words: d, 64 words of int8 q, 16 block sums of 16 q;
//   max = the first x of largest |x|, iscale = -127 / max, q = min(round half even (iscale x), 127),
//   d = 1 / iscale. Divisions correctly rounded (div_rn), as the cpu's.
#include "common.glsl"
layout(push_constant) uniform P { F32 x; U32 qa; uint T, in_, kind, row_words; } p;
void main() {
    uint n = p.kind == 5u ? 256u : 32u, nb = p.in_ / n, id = g_id();
    if (id >= p.T * nb) return;
    uint t = id / nb, b = id % nb, xb = t * p.in_ + b * n;
    if (p.kind != 5u) {
        uint o = t * p.row_words + b * 10u;
        float amax = 0.0;
        for (uint j = 0; j < 32u; j++) amax = max(amax, abs(p.x.v[xb + j]));
        float d = div_rn(amax, 127.0), id_ = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
        int qsum = 0;
        for (uint k = 0; k < 8u; k++) {
            uint wd = 0u;
            for (uint j = 0; j < 4u; j++) {
                int q = int(roundEven(p.x.v[xb + 4u * k + j] * id_));
                qsum += q;
                wd |= (uint(q) & 255u) << (8u * j);
            }
            p.qa.v[o + 2u + k] = wd;
        }
        p.qa.v[o] = floatBitsToUint(round_f16(d));
        p.qa.v[o + 1u] = floatBitsToUint(round_f16(d * float(qsum)));
        return;
    }
    uint o = t * p.row_words + b * 81u;
    float amax = 0.0, mx = 0.0;
    for (uint j = 0; j < 256u; j++) {
        float a = abs(p.x.v[xb + j]);
        if (a > amax) { amax = a; mx = p.x.v[xb + j]; }
    }
    float is = 0.0, d = 0.0;
    if (amax != 0.0) {
        float s = div_rn(127.0, amax);
        is = mx > 0.0 ? -s : s;          // -127 / max
        float r = div_rn(1.0, s);
        d = is < 0.0 ? -r : r;           // 1 / iscale
    }
    for (uint g = 0; g < 16u; g++) {
        int bs = 0;
        for (uint k = 0; k < 4u; k++) {
            uint wd = 0u;
            for (uint j = 0; j < 4u; j++) {
                int q = min(int(roundEven(is * p.x.v[xb + 16u * g + 4u * k + j])), 127);
                bs += q;
                wd |= (uint(q) & 255u) << (8u * j);
            }
            p.qa.v[o + 1u + 4u * g + k] = wd;
        }
        p.qa.v[o + 65u + g] = uint(bs);
    }
    p.qa.v[o] = floatBitsToUint(d);
}
