#version 450
// Causal attention, one workgroup per (head x, token y): keys in chunks of WG (one per thread),
// online softmax (running max and sum), each thread accumulating value dims lid + WG k.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 o; F32 q; F32 k; F32 v;
    uint T, pos0, nh, nkv, hd, vd; float scale, cap; int window;
} p;
#define MAXK 8
shared float pj_[WG];
void main() {
    uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, kvh = h / (p.nh / p.nkv);
    int i = int(p.pos0 + t);
    int j0 = p.window > 0 && i - p.window + 1 > 0 ? i - p.window + 1 : 0;
    uint qb = (t * p.nh + h) * p.hd;
    float m = NEG_BIG, l = 0.0, acc[MAXK];
    for (uint k = 0; k < MAXK; k++) acc[k] = 0.0;
    for (int c0 = j0; c0 <= i; c0 += WG) {
        int j = c0 + int(lid());
        float s = NEG_BIG;
        if (j <= i) {
            uint kb = (uint(j) * p.nkv + kvh) * p.hd;
            float d = 0.0;
            for (uint e = 0; e < p.hd; e++) d += p.q.v[qb + e] * p.k.v[kb + e];
            s = d * p.scale;
            if (p.cap > 0.0) s = p.cap * tanh_s(s / p.cap);
        }
        float mn = max(m, wg_max(s));
        float pj = j <= i ? exp(s - mn) : 0.0, corr = exp(m - mn);
        l = l * corr + wg_sum(pj);
        pj_[lid()] = pj;
        barrier();
        int nj = min(WG, i - c0 + 1);
        for (uint k = 0; k < MAXK; k++) {
            uint d = lid() + WG * k;
            if (d < p.vd) {
                float a = acc[k] * corr;
                for (int jj = 0; jj < nj; jj++) a += pj_[jj] * p.v.v[(uint(c0 + jj) * p.nkv + kvh) * p.vd + d];
                acc[k] = a;
            }
        }
        barrier();
        m = mn;
    }
    uint ob = (t * p.nh + h) * p.vd;
    for (uint k = 0; k < MAXK; k++) {
        uint d = lid() + WG * k;
        if (d < p.vd) p.o.v[ob + d] = acc[k] / l;
    }
}
