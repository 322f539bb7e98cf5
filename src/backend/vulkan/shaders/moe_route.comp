#version 450
// MoE router, one thread per token (as the CPU: scores, group-limited choice with the bias,
// top-k with ties to the lower expert id, renormalisation, scaling).
#include "common.glsl"
layout(push_constant) uniform P {
    F32 lg; F32 bias; I32 idx; F32 w;
    uint T, E, K, sigm_, G, topk_group, top2, norm, has_bias; float scale;
} p;
#define MAXG 64
#define MAXSEL 64
void main() {
    uint t = g_id();
    if (t >= p.T) return;
    uint b = t * p.E;
    if (p.sigm_ != 0u) {
        for (uint e = 0; e < p.E; e++) p.lg.v[b + e] = sigm(p.lg.v[b + e]);
    } else {
        float mx = p.lg.v[b];
        for (uint e = 1; e < p.E; e++) mx = max(mx, p.lg.v[b + e]);
        float s = 0.0;
        for (uint e = 0; e < p.E; e++) { float v = exp(p.lg.v[b + e] - mx); p.lg.v[b + e] = v; s += v; }
        float inv = 1.0 / s;
        for (uint e = 0; e < p.E; e++) p.lg.v[b + e] *= inv;
    }
    bool kept[MAXG];
    uint per = p.E / max(p.G, 1u);
    bool grouped = p.G > 1u && p.topk_group < p.G;
    for (uint g = 0; g < MAXG; g++) kept[g] = true;
    if (grouped) {
        float gs[MAXG];
        for (uint g = 0; g < p.G; g++) {
            float a = NEG_BIG, c = NEG_BIG;
            for (uint i = 0; i < per; i++) {
                uint e = g * per + i;
                float v = p.lg.v[b + e] + (p.has_bias != 0u ? p.bias.v[e] : 0.0);
                if (v > a) { c = a; a = v; } else if (v > c) c = v;
            }
            gs[g] = p.top2 != 0u ? a + c : a;
            kept[g] = false;
        }
        for (uint k = 0; k < p.topk_group; k++) {
            int bg = -1;
            for (uint g = 0; g < p.G; g++)
                if (!kept[g] && (bg < 0 || gs[g] > gs[bg])) bg = int(g);
            kept[bg] = true;
        }
    }
    uint sel[MAXSEL];
    float sum = 0.0;
    for (uint j = 0; j < p.K; j++) {
        int best = -1;
        float cb = 0.0;
        for (uint e = 0; e < p.E; e++) {
            if (grouped && !kept[e / per]) continue;
            bool used = false;
            for (uint q = 0; q < j; q++) if (sel[q] == e) used = true;
            if (used) continue;
            float c = p.lg.v[b + e] + (p.has_bias != 0u ? p.bias.v[e] : 0.0);
            if (best < 0 || c > cb) { best = int(e); cb = c; }
        }
        if (best < 0) best = 0;
        sel[j] = uint(best);
        sum += p.lg.v[b + uint(best)];
    }
    for (uint j = 0; j < p.K; j++) {
        float wv = p.lg.v[b + sel[j]];
        if (p.norm != 0u) wv = wv / (sum + 1e-20);
        p.idx.v[t * p.K + j] = int(sel[j]);
        p.w.v[t * p.K + j] = wv * p.scale;
    }
}
