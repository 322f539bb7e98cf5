#version 450
// Gated DeltaNet recurrence, one workgroup per value head; each thread owns state columns
// c = lid + WG k (the same per-column order as the CPU), then the gated RMSNorm of the row.
#include "common.glsl"
layout(push_constant) uniform P {
    F32 S; F32 conv; F32 b; F32 a; F32 z; F32 alog; F32 dtb; F32 nw; F32 core;
    uint nk, nv, dk, dv, T; float eps; uint vt, ad;
} p;
#define MAXHD 1024
#define MAXC (MAXHD / WG)
shared float qn[MAXHD], kn[MAXHD];
float softplus(float x) { return x > 20.0 ? x : log(1.0 + exp(x)); }
void main() {
    uint h = gl_WorkGroupID.x, kh = p.vt != 0u ? h % p.nk : h / (p.nv / p.nk);
    uint C = 2u * p.nk * p.dk + p.nv * p.dv, sb = h * p.dk * p.dv;
    float A = p.ad != 0u ? p.alog.v[h] : -exp(p.alog.v[h]), qscale = 1.0 / sqrt(float(p.dk));
    for (uint t = 0; t < p.T; t++) {
        uint row = t * C, qo = row + kh * p.dk, ko = row + p.nk * p.dk + kh * p.dk;
        float sq = 0.0, sk = 0.0;
        for (uint i = lid(); i < p.dk; i += WG) {
            float qv = p.conv.v[qo + i], kv = p.conv.v[ko + i];
            sq += qv * qv; sk += kv * kv;
        }
        float rq = 1.0 / sqrt(wg_sum(sq) + 1e-6) * qscale, rk = 1.0 / sqrt(wg_sum(sk) + 1e-6);
        for (uint i = lid(); i < p.dk; i += WG) { qn[i] = p.conv.v[qo + i] * rq; kn[i] = p.conv.v[ko + i] * rk; }
        barrier();
        float beta = sigm(p.b.v[t * p.nv + h]);
        float decay = exp(A * softplus(p.a.v[t * p.nv + h] + p.dtb.v[h]));
        uint vo = row + 2u * p.nk * p.dk + h * p.dv;
        float oc[MAXC];
        float ss = 0.0;
        for (uint k = 0; k < MAXC; k++) {
            uint c = lid() + WG * k;
            oc[k] = 0.0;
            if (c >= p.dv) continue;
            float kvm = 0.0;
            for (uint i = 0; i < p.dk; i++) {
                float s = p.S.v[sb + i * p.dv + c] * decay;
                p.S.v[sb + i * p.dv + c] = s;
                kvm += kn[i] * s;
            }
            float delta = (p.conv.v[vo + c] - kvm) * beta, o = 0.0;
            for (uint i = 0; i < p.dk; i++) {
                float s = p.S.v[sb + i * p.dv + c] + kn[i] * delta;
                p.S.v[sb + i * p.dv + c] = s;
                o += qn[i] * s;
            }
            oc[k] = o;
            ss += o * o;
        }
        float r = 1.0 / sqrt(wg_sum(ss) / float(p.dv) + p.eps);
        uint zo = t * p.nv * p.dv + h * p.dv;
        for (uint k = 0; k < MAXC; k++) {
            uint c = lid() + WG * k;
            if (c >= p.dv) continue;
            float zz = p.z.v[zo + c];
            p.core.v[zo + c] = oc[k] * r * p.nw.v[c] * (zz / (1.0 + exp(-zz)));
        }
        barrier();
    }
}
