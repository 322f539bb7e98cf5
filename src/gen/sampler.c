/* Sampling (see sampler.h). Order as transformers applies its logits processors: repetition
 * penalty, temperature, top-k, top-p, min-p; then a draw from the softmax. */
#include "gen/sampler.h"
#include "util/err.h"
#include <math.h>
#include <stdlib.h>

struct rl_sampler {
    int vocab;
    rl_sampling p;
    uint64_t rng;
    int32_t *idx;    /* (vocab) candidate ids */
    float *prob;     /* (vocab) */
    uint8_t *seen;   /* (vocab) penalty marks */
};

rl_sampling rl_sampling_default(void) {
    return (rl_sampling){.temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0, .repetition_penalty = 1, .seed = 0};
}

rl_sampler *rl_sampler_new(int vocab, const rl_sampling *p) {
    rl_sampler *s = calloc(1, sizeof *s);
    if (!s) { rl_err("out of memory"); return NULL; }
    s->vocab = vocab;
    s->p = *p;
    s->rng = p->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    s->idx = malloc((size_t)vocab * sizeof *s->idx);
    s->prob = malloc((size_t)vocab * sizeof *s->prob);
    s->seen = calloc((size_t)vocab, 1);
    if (!s->idx || !s->prob || !s->seen) { rl_sampler_free(s); rl_err("out of memory"); return NULL; }
    return s;
}

void rl_sampler_free(rl_sampler *s) {
    if (!s) return;
    free(s->idx); free(s->prob); free(s->seen); free(s);
}

static uint64_t next_u64(uint64_t *x) { /* xorshift64* */
    *x ^= *x >> 12; *x ^= *x << 25; *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

static int argmax(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (l[i] > l[b]) b = i;
    return b;
}

/* sort helper: descending by logit */
static int cmp_desc(const void *a, const void *b, void *ctx) {
    const float *l = ctx;
    float x = l[*(const int32_t *)a], y = l[*(const int32_t *)b];
    return (x < y) - (x > y);
}

int32_t rl_sampler_pick(rl_sampler *s, float *lg, const int32_t *hist, int nh) {
    int V = s->vocab;
    if (s->p.repetition_penalty != 1.0f && s->p.repetition_penalty > 0) {
        float rp = s->p.repetition_penalty;
        for (int i = 0; i < nh; i++) {
            int32_t t = hist[i];
            if (t < 0 || t >= V || s->seen[t]) continue;
            s->seen[t] = 1;
            lg[t] = lg[t] < 0 ? lg[t] * rp : lg[t] / rp;
        }
        for (int i = 0; i < nh; i++) if (hist[i] >= 0 && hist[i] < V) s->seen[hist[i]] = 0;
    }
    if (s->p.temperature <= 0) return argmax(lg, V);

    float inv_t = 1.0f / s->p.temperature;
    int n = 0;
    for (int i = 0; i < V; i++) { lg[i] *= inv_t; s->idx[n++] = i; }
    /* candidates sorted by logit (top-k first cuts the sort when set) */
    qsort_r(s->idx, (size_t)n, sizeof *s->idx, cmp_desc, lg);
    if (s->p.top_k > 0 && s->p.top_k < n) n = s->p.top_k;
    float mx = lg[s->idx[0]];
    double sum = 0;
    for (int i = 0; i < n; i++) { s->prob[i] = expf(lg[s->idx[i]] - mx); sum += s->prob[i]; }
    for (int i = 0; i < n; i++) s->prob[i] = (float)(s->prob[i] / sum);
    if (s->p.top_p < 1.0f && s->p.top_p > 0) {
        double c = 0;
        int keep = n;
        for (int i = 0; i < n; i++) { c += s->prob[i]; if (c >= s->p.top_p) { keep = i + 1; break; } }
        n = keep;
    }
    if (s->p.min_p > 0) {
        float thr = s->p.min_p * s->prob[0];
        int keep = 1;
        while (keep < n && s->prob[keep] >= thr) keep++;
        n = keep;
    }
    double tot = 0;
    for (int i = 0; i < n; i++) tot += s->prob[i];
    double r = (double)(next_u64(&s->rng) >> 11) / 9007199254740992.0 * tot, c = 0;
    for (int i = 0; i < n; i++) { c += s->prob[i]; if (r < c) return s->idx[i]; }
    return s->idx[n - 1];
}
