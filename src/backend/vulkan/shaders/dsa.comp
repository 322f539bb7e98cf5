#version 450
// DSA attention, one workgroup per query token t = t0 + wg: index scores of keys 0..i into
// scratch, the top-K keys (value descending, then position ascending, as the CPU) flagged, then
// per head an online-softmax attention over the flagged keys (all keys while i + 1 <= K);
// query head h reads kv head h / (nh / nkv), key / value rows ks / vs floats apart. tree > 0:
// token t is node t of a token tree of `tree` nodes at rows pos0.. (parents par, -1 for a root) whose keys are
// the rows [0, pos0) and then its ancestors' rows root first and its own (key x of the node:
// row x below pos0, else pos0 + its path's node x - pos0), selected and attended the same way.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 o; F32 q; F32 k; F32 v; F32 iq; F32 iw; F32 ik; F32 scr; I32 par;
    uint t0, pos0, nh, hd, vd, ih, ihd, topk, ctx; float scale; uint nkv, ks, vs, tree;
} p;
#define MAXK 8
#define MAXD 260
shared float pj_[WG];
shared int path_[MAXD];
shared int depth_;
uint row(int x) { return p.tree != 0u && x >= int(p.pos0) ? p.pos0 + uint(path_[x - int(p.pos0)]) : uint(x); }
void main() {
    uint t = p.t0 + gl_WorkGroupID.x;
    uint sb = gl_WorkGroupID.x * 2u * p.ctx, fb = sb + p.ctx;
    int i = int(p.pos0 + t), n = i + 1;
    if (p.tree != 0u) {
        if (lid() == 0u) { // the node's ancestors, root first
            int d = 0;
            for (int u = int(t); u >= 0 && u < int(p.tree) && d < MAXD; u = p.par.v[u]) d++;
            int k = d;
            for (int u = int(t); u >= 0 && u < int(p.tree) && k > 0; u = p.par.v[u]) path_[--k] = u;
            depth_ = d;
        }
        barrier();
        n = int(p.pos0) + depth_;
    }
    bool sel = n > int(p.topk);
    if (sel) {
        float qs = 1.0 / sqrt(float(p.ihd));
        for (int j = int(lid()); j < n; j += WG) {
            float val = 0.0;
            for (uint h = 0; h < p.ih; h++) {
                float d = 0.0;
                uint qb = (t * p.ih + h) * p.ihd, kb = row(j) * p.ihd;
                for (uint e = 0; e < p.ihd; e++) d += p.iq.v[qb + e] * p.ik.v[kb + e];
                d *= qs;
                if (d > 0.0) val += d * p.iw.v[t * p.ih + h];
            }
            p.scr.v[sb + uint(j)] = val;
        }
        memoryBarrierBuffer();
        barrier();
        for (int j = int(lid()); j < n; j += WG) {
            float sj = p.scr.v[sb + uint(j)];
            uint rank = 0;
            for (int j2 = 0; j2 < n; j2++) {
                float s2 = p.scr.v[sb + uint(j2)];
                if (s2 > sj || (s2 == sj && j2 < j)) rank++;
            }
            p.scr.v[fb + uint(j)] = rank < p.topk ? 1.0 : 0.0;
        }
        memoryBarrierBuffer();
        barrier();
    }
    for (uint h = 0; h < p.nh; h++) {
        uint qb = (t * p.nh + h) * p.hd, kvh = h / (p.nh / p.nkv);
        float m = NEG_BIG, l = 0.0, acc[MAXK];
        for (uint k = 0; k < MAXK; k++) acc[k] = 0.0;
        for (int c0 = 0; c0 < n; c0 += WG) {
            int j = c0 + int(lid());
            bool use = j < n && (!sel || p.scr.v[fb + uint(j)] != 0.0);
            float s = NEG_BIG;
            if (use) {
                uint kb = row(j) * p.ks + kvh * p.hd;
                float d = 0.0;
                for (uint e = 0; e < p.hd; e++) d += p.q.v[qb + e] * p.k.v[kb + e];
                s = d * p.scale;
            }
            float mn = max(m, wg_max(s));
            float pj = use ? exp(s - mn) : 0.0, corr = exp(m - mn);
            l = l * corr + wg_sum(pj);
            pj_[lid()] = pj;
            barrier();
            int nj = min(WG, n - c0);
            for (uint k = 0; k < MAXK; k++) {
                uint d = lid() + WG * k;
                if (d < p.vd) {
                    float a = acc[k] * corr;
                    for (int jj = 0; jj < nj; jj++)
                        if (pj_[jj] != 0.0) a += pj_[jj] * p.v.v[row(c0 + jj) * p.vs + kvh * p.vd + d];
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
}
