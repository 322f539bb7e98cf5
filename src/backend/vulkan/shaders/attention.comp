#version 450
// Causal attention, one workgroup per (head x, token y): keys in chunks of WG (one per thread),
// online softmax (running max and sum), each thread accumulating value dims lid + WG k.
// The cache: rows of dtype dt (F32, F16, BF16, Q8_0) krb / vrb bytes apart from byte koff / voff
// past the word-aligned k / v, position j in row j (ring 0) or j % ring; kv head g's keys start at
// item g hd of a row (values g vd). tree 1: token t is node t of a token tree at rows pos0..
// (parents par, -1 for a root) and sees the keys [0, pos0) then its ancestors' rows from the
// root down and its own; window > 0: only the keys within window of its position pos0 + depth - 1.
// tree bit 1: attention sinks (sink[h] joins head h's softmax as a key of value zero).
#include "common.glsl"
layout(push_constant) uniform P {
    F32 o; F32 q; U32 k; U32 v; I32 par; F32 sink;
    uint T, pos0, nh, nkv, hd, vd; float scale, cap; int window;
    uint dt, krb, vrb, ring, koff, voff, tree;
} p;
#define MAXK 8
#define MAXD 260
shared float pj_[WG];
shared uint jr_[WG];
shared int path_[MAXD];
shared int depth_;
uint item_bytes(uint n) { // bytes of n items of a row (a whole number of blocks for Q8_0)
    return p.dt == DT_F32 ? 4u * n : p.dt == DT_Q8_0 ? (n >> 5) * 34u : 2u * n;
}
void main() {
    uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, kvh = h / (p.nh / p.nkv);
    int i = int(p.pos0 + t), x0 = 0, x1 = i, skip = 0;
    bool tree = (p.tree & 1u) != 0u;
    if (tree) {
        if (lid() == 0u) { // the node's ancestors, root first
            int d = 0;
            for (int u = int(t); u >= 0 && u < int(p.T) && d < MAXD; u = p.par.v[u]) d++;
            int k = d;
            for (int u = int(t); u >= 0 && u < int(p.T) && k > 0; u = p.par.v[u]) path_[--k] = u;
            depth_ = d;
        }
        barrier();
        int d = depth_, ii = int(p.pos0) + d - 1;
        if (p.window > 0) { // the first d - window ancestors and the prefix before ii - window + 1 drop out
            skip = d > p.window ? d - p.window : 0;
            x0 = ii - p.window + 1 > 0 ? ii - p.window + 1 : 0;
            if (x0 > int(p.pos0)) x0 = int(p.pos0);
        }
        x1 = int(p.pos0) + d - skip - 1;
    } else if (p.window > 0 && i - p.window + 1 > 0) x0 = i - p.window + 1;
    uint qb = (t * p.nh + h) * p.hd, kg = p.koff + item_bytes(kvh * p.hd), vg = p.voff + item_bytes(kvh * p.vd);
    float m = NEG_BIG, l = 0.0, acc[MAXK];
    for (uint k = 0; k < MAXK; k++) acc[k] = 0.0;
    for (int c0 = x0; c0 <= x1; c0 += WG) {
        int x = c0 + int(lid());
        float s = NEG_BIG;
        if (x <= x1) {
            int j = tree && x >= int(p.pos0) ? int(p.pos0) + path_[x - int(p.pos0) + skip] : x;
            uint r = p.ring > 0u ? uint(j) % p.ring : uint(j);
            jr_[lid()] = r;
            uint kb = kg + r * p.krb;
            float d = 0.0;
            if (p.dt == DT_F32)
                for (uint e = 0; e < p.hd; e++) d += p.q.v[qb + e] * uintBitsToFloat(p.k.v[(kb >> 2) + e]);
            else
                for (uint e = 0; e < p.hd; e++) d += p.q.v[qb + e] * wval(p.k, kb, p.dt, e);
            s = d * p.scale;
            if (p.cap > 0.0) s = p.cap * tanh_s(s / p.cap);
        }
        float mn = max(m, wg_max(s));
        float pj = x <= x1 ? exp(s - mn) : 0.0, corr = exp(m - mn);
        l = l * corr + wg_sum(pj);
        pj_[lid()] = pj;
        barrier();
        int nj = min(WG, x1 - c0 + 1);
        for (uint k = 0; k < MAXK; k++) {
            uint d = lid() + WG * k;
            if (d < p.vd) {
                float a = acc[k] * corr;
                if (p.dt == DT_F32)
                    for (int jj = 0; jj < nj; jj++) a += pj_[jj] * uintBitsToFloat(p.v.v[((vg + jr_[jj] * p.vrb) >> 2) + d]);
                else
                    for (int jj = 0; jj < nj; jj++) a += pj_[jj] * wval(p.v, vg + jr_[jj] * p.vrb, p.dt, d);
                acc[k] = a;
            }
        }
        barrier();
        m = mn;
    }
    uint ob = (t * p.nh + h) * p.vd;
    float f = 1.0;
    if ((p.tree & 2u) != 0u) { // the sink's exp(s) joins the sum
        float sk = p.sink.v[h], mx = max(m, sk);
        f = exp(m - mx);
        l = l * f + exp(sk - mx);
    }
    for (uint k = 0; k < MAXK; k++) {
        uint d = lid() + WG * k;
        if (d < p.vd) p.o.v[ob + d] = acc[k] * f / l;
    }
}
