/* MoE routing on the CPU (see moe_route.h). */
#include "backend/cpu/moe_route.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ggml_ops.h"
#include <math.h>

void rl_moe_route(float *logits, const float *bias, int T, const rl_route_params *rp, int32_t *idx_out, float *w_out, int ggml) {
    int E = rp->n_experts, K = rp->top_k, G = rp->n_group > 1 ? rp->n_group : 1, per = E / G;
    float choice[RL_MOE_MAX_EXPERTS], gscore[RL_MOE_MAX_EXPERTS];
    for (int t = 0; t < T; t++) {
        float *p = logits + (size_t)t * E;
        if (rp->sigmoid) for (int e = 0; e < E; e++) p[e] = 1.0f / (1.0f + expf(-p[e]));
        else if (ggml) rl_ggml_softmax(p, E);
        else rl_softmax(p, E);
        for (int e = 0; e < E; e++) choice[e] = p[e] + (bias ? bias[e] : 0.0f);
        if (G > 1 && rp->topk_group < G) {
            for (int g = 0; g < G; g++) {
                const float *c = choice + g * per;
                float a = -INFINITY, b = -INFINITY; /* top-2 */
                for (int i = 0; i < per; i++) {
                    if (c[i] > a) { b = a; a = c[i]; } else if (c[i] > b) b = c[i];
                }
                gscore[g] = rp->group_top2 ? a + b : a;
            }
            for (int keep = 0; keep < rp->topk_group; keep++) { /* mark the best groups with +inf */
                int bg = -1;
                for (int g = 0; g < G; g++) if (gscore[g] != INFINITY && (bg < 0 || gscore[g] > gscore[bg])) bg = g;
                gscore[bg] = INFINITY;
            }
            for (int g = 0; g < G; g++)
                if (gscore[g] != INFINITY) for (int i = 0; i < per; i++) choice[g * per + i] = -INFINITY;
        }
        int32_t *idx = idx_out + (size_t)t * K;
        float *w = w_out + (size_t)t * K;
        double sum = 0;
        for (int j = 0; j < K; j++) {
            int best = -1;
            for (int e = 0; e < E; e++)
                if (choice[e] != -INFINITY && (best < 0 || choice[e] > choice[best])) best = e;
            if (best < 0) best = 0; /* all masked: cannot happen with K <= topk_group * per */
            idx[j] = best;
            w[j] = p[best];
            sum += p[best];
            choice[best] = -INFINITY;
        }
        if (ggml && rp->norm_topk) {
            float s = (float)sum;
            if (!(s >= 6.103515625e-5f)) s = 6.103515625e-5f;
            for (int j = 0; j < K; j++) w[j] = (w[j] / s) * rp->scale;
        } else
            for (int j = 0; j < K; j++) w[j] = (rp->norm_topk ? (float)(w[j] / (sum + 1e-20)) : w[j]) * rp->scale;
    }
}
