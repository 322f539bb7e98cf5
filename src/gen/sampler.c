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
    int n;           /* candidates of the last distribution */
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

/* Moves the k largest-logit ids of idx[0..n) to the front (a size-k min-heap); returns k. */
static int select_top(int32_t *idx, int n, int k, const float *l) {
    for (int i = 1; i < k; i++) /* heapify the first k (min at root) */
        for (int c = i; c > 0 && l[idx[(c - 1) / 2]] > l[idx[c]]; c = (c - 1) / 2) {
            int32_t t = idx[c]; idx[c] = idx[(c - 1) / 2]; idx[(c - 1) / 2] = t;
        }
    for (int i = k; i < n; i++) {
        if (l[idx[i]] <= l[idx[0]]) continue;
        idx[0] = idx[i];
        for (int c = 0;;) { /* sift down */
            int a = 2 * c + 1, b = a + 1, m = c;
            if (a < k && l[idx[a]] < l[idx[m]]) m = a;
            if (b < k && l[idx[b]] < l[idx[m]]) m = b;
            if (m == c) break;
            int32_t t = idx[c]; idx[c] = idx[m]; idx[m] = t;
            c = m;
        }
    }
    return k;
}

int rl_sampler_dist(rl_sampler *s, float *lg, const int32_t *hist, int nh, const int32_t **ids, const float **probs) {
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
    int n = 0;
    if (s->p.temperature <= 0) {
        s->idx[0] = argmax(lg, V);
        s->prob[0] = 1.0f;
        n = 1;
    } else {
        float inv_t = 1.0f / s->p.temperature;
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) { lg[i] *= inv_t; if (lg[i] > mx) mx = lg[i]; }
        /* Candidates: only tokens that can survive top-p / min-p need sorting. A token with
         * probability at or below (1 - top_p) / V can never be inside the nucleus, and one below
         * min_p * p_max is cut by min-p; with neither set every token stays. */
        double z = 0;
        for (int i = 0; i < V; i++) z += exp((double)(lg[i] - mx));
        double cut = 0;
        /* (after top-k renormalisation that bound no longer holds, so it is used without top-k) */
        if (s->p.top_p > 0 && s->p.top_p < 1.0f && s->p.top_k <= 0) cut = (1.0 - s->p.top_p) / V;
        if (s->p.min_p > 0 && s->p.min_p / z > cut) cut = s->p.min_p / z; /* p_max = 1 / z */
        float lcut = cut > 0 ? mx + (float)log(cut * z) - 1e-3f : -INFINITY; /* conservative */
        for (int i = 0; i < V; i++) if (lg[i] >= lcut) s->idx[n++] = i;
        if (s->p.top_k > 0 && s->p.top_k < n) n = select_top(s->idx, n, s->p.top_k, lg);
        qsort_r(s->idx, (size_t)n, sizeof *s->idx, cmp_desc, lg);
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
        for (int i = 0; i < n; i++) s->prob[i] = (float)(s->prob[i] / tot);
    }
    s->n = n;
    if (ids) *ids = s->idx;
    if (probs) *probs = s->prob;
    return n;
}

double rl_sampler_uniform(rl_sampler *s) { return (double)(next_u64(&s->rng) >> 11) / 9007199254740992.0; }

int32_t rl_sampler_draw(rl_sampler *s, int32_t skip) {
    if (s->p.temperature <= 0 || s->n == 1) return s->idx[0] == skip && s->n > 1 ? s->idx[1] : s->idx[0];
    double tot = 0;
    for (int i = 0; i < s->n; i++) if (s->idx[i] != skip) tot += s->prob[i];
    if (tot <= 0) return s->idx[0];
    double r = rl_sampler_uniform(s) * tot, c = 0;
    int last = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->idx[i] == skip) continue;
        c += s->prob[i];
        last = i;
        if (r < c) return s->idx[i];
    }
    return s->idx[last];
}

int32_t rl_sampler_pick(rl_sampler *s, float *lg, const int32_t *hist, int nh) {
    rl_sampler_dist(s, lg, hist, nh, NULL, NULL);
    return rl_sampler_draw(s, -1);
}
