/* Sampler: greedy, reproducible seeds, top-k / top-p / min-p cut-offs, repetition penalty. */
#include "test.h"
#include "gen/sampler.h"
#include <math.h>

#define V 1000

static void fill(float *l) { for (int i = 0; i < V; i++) l[i] = sinf((float)i * 0.37f) * 3.0f; l[123] = 4.0f; }
static int argmax(const float *l) { int b = 0; for (int i = 1; i < V; i++) if (l[i] > l[b]) b = i; return b; }

static int pick(rl_sampling p, const int32_t *hist, int nh) {
    float l[V];
    fill(l);
    rl_sampler *s = rl_sampler_new(V, &p);
    int t = rl_sampler_pick(s, l, hist, nh);
    rl_sampler_free(s);
    return t;
}

static void test_greedy_and_limits(void) {
    float l[V];
    fill(l);
    int best = argmax(l);
    rl_sampling p = rl_sampling_default();
    CHECK(pick(p, NULL, 0) == best, "greedy");
    p.temperature = 1.0f; p.top_k = 1;
    CHECK(pick(p, NULL, 0) == best, "top_k 1");
    p.top_k = 0; p.top_p = 1e-6f;
    CHECK(pick(p, NULL, 0) == best, "tiny top_p");
    p.top_p = 1; p.min_p = 0.5f;
    CHECK(pick(p, NULL, 0) == best, "min_p ~1");
}

static void test_seed_reproducible_and_varied(void) {
    rl_sampling p = rl_sampling_default();
    p.temperature = 1.5f; p.top_k = 50; p.top_p = 0.95f; p.seed = 7;
    float l[V];
    rl_sampler *a = rl_sampler_new(V, &p), *b = rl_sampler_new(V, &p);
    int same = 1, distinct = 0, seen[V] = {0};
    for (int i = 0; i < 200; i++) {
        fill(l); int x = rl_sampler_pick(a, l, NULL, 0);
        fill(l); int y = rl_sampler_pick(b, l, NULL, 0);
        same &= x == y;
        if (!seen[x]++) distinct++;
    }
    CHECK(same, "same seed, same draws");
    CHECK(distinct > 3, "sampling varies (%d distinct)", distinct);
    rl_sampler_free(a); rl_sampler_free(b);
}

static void test_topk_respected(void) {
    rl_sampling p = rl_sampling_default();
    p.temperature = 5.0f; p.top_k = 5; p.seed = 3;
    float l[V];
    fill(l);
    /* the 5 largest logits */
    int top[5], n = 0;
    float tmp[V];
    memcpy(tmp, l, sizeof tmp);
    for (int k = 0; k < 5; k++) { int b = argmax(tmp); top[n++] = b; tmp[b] = -1e30f; }
    rl_sampler *s = rl_sampler_new(V, &p);
    int ok = 1;
    for (int i = 0; i < 300; i++) {
        fill(l);
        int t = rl_sampler_pick(s, l, NULL, 0), in = 0;
        for (int k = 0; k < 5; k++) in |= t == top[k];
        ok &= in;
    }
    CHECK(ok, "draws stay within the top 5");
    rl_sampler_free(s);
}

static void test_repetition_penalty(void) {
    float l[V];
    fill(l);
    int best = argmax(l);
    rl_sampling p = rl_sampling_default();
    p.repetition_penalty = 100.0f;
    int32_t hist[1] = {best};
    CHECK(pick(p, hist, 1) != best, "penalised token no longer wins");
}

int main(void) {
    RUN(test_greedy_and_limits);
    RUN(test_seed_reproducible_and_varied);
    RUN(test_topk_respected);
    RUN(test_repetition_penalty);
    TEST_END();
}
