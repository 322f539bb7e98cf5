/* Speculative decoding for batched sequences (gen/spec_batch.c): three prompts of different
 * lengths generated together with a draft model give the ids of plain batched decoding, greedy
 * (several budgets, fixed and by the cost model, the draft the model itself or another model of
 * the vocabulary) and seeded sampling, in fewer sweeps when the draft agrees; sequences that stop
 * early (eos, a small -n) and a full context stop like plain batches; on stories260K, llama and
 * gemma2 (sliding window, ring caches); chains where either model has no token trees (Qwen3.5),
 * trees on GLM-5's DSA. Refused: a draft with fewer sequences. */
#include "test.h"
#include "gen/batch.h"

#define NP 3
static const int32_t P0[] = {1, 5, 9, 13, 17, 21, 25};
static const int32_t P1[] = {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51};
static const int32_t P2[] = {1, 100};
static const int32_t *const PROMPTS[NP] = {P0, P1, P2};
static const int NPROMPT[NP] = {7, 13, 2};

static rl_model *open_dir(const char *fixture, int n_seq, int batch, int ctx) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    rl_model_opts o = {.n_seq = n_seq, .max_batch = batch, .ctx = ctx};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open %s: %s", fixture, rl_last_error());
    return m;
}

/* Plain vs speculative batched generation of N tokens; returns the speculative sweeps (-1 on a
 * failure), *plain_sweeps the plain ones. */
static int compare(const char *target, const char *draft, int budget, int fixed, rl_sampling sp, int N, int ignore_eos,
                   int batch, int ctx, int *plain_sweeps) {
    rl_model *m = open_dir(target, NP, batch, ctx), *d = open_dir(draft, NP, batch, ctx);
    int rc = -1;
    if (m && d) {
        int32_t a[NP][64], b[NP][64], *oa[NP] = {a[0], a[1], a[2]}, *ob[NP] = {b[0], b[1], b[2]};
        int na[NP], nb[NP];
        rl_gen_stats sa, sb;
        rl_batch_opts o = {.max_new = N, .sampling = sp, .ignore_eos = ignore_eos};
        CHECK(rl_generate_batch(m, PROMPTS, NPROMPT, NP, &o, oa, na, &sa) == 0, "plain: %s", rl_last_error());
        o.draft_model = d; o.draft_tokens = budget; o.draft_fixed = fixed;
        CHECK(rl_generate_batch(m, PROMPTS, NPROMPT, NP, &o, ob, nb, &sb) == 0, "draft: %s", rl_last_error());
        int same = 1;
        for (int i = 0; i < NP; i++) {
            same &= na[i] == nb[i] && !memcmp(a[i], b[i], (size_t)na[i] * sizeof(int32_t));
            CHECK(rl_model_seq_pos(m, i) == NPROMPT[i] + nb[i] - 1 || (ctx && rl_model_seq_pos(m, i) == ctx),
                  "%s: seq %d: cache %d after %d + %d", target, i, rl_model_seq_pos(m, i), NPROMPT[i], nb[i]);
        }
        CHECK(same, "%s (draft %s, budget %d%s, temp %g, N %d): ids differ from plain batched decoding", target, draft,
              budget, fixed ? " fixed" : "", sp.temperature, N);
        fprintf(stderr, "  %s, draft %s, budget %d%s, temp %g: %d sweeps instead of %d, %.2f accepted/sweep\n", target,
                draft, budget, fixed ? " fixed" : "", sp.temperature, sb.sweeps, sa.sweeps,
                sb.sweeps ? (double)sb.accepted / sb.sweeps : 0);
        *plain_sweeps = sa.sweeps;
        rc = sb.sweeps;
    }
    rl_model_close(d);
    rl_model_close(m);
    return rc;
}

static void test_greedy(void) {
    rl_sampling g = rl_sampling_default();
    int ps;
    const int budgets[] = {4, 16, 64};
    for (int k = 0; k < 3; k++) {
        int s = compare("stories260K", "stories260K", budgets[k], 1, g, 40, 1, 0, 0, &ps);
        CHECK(s > 0 && s < ps, "stories260K budget %d: %d sweeps vs %d", budgets[k], s, ps);
    }
    int s = compare("llama", "llama", 16, 1, g, 30, 1, 0, 0, &ps);
    CHECK(s > 0 && s < ps, "llama: %d sweeps vs %d", s, ps);
    s = compare("gemma2", "gemma2", 32, 1, g, 30, 1, 48, 0, &ps); /* ring caches: window 8 + 48 - 1 rows */
    CHECK(s > 0 && s < ps, "gemma2: %d sweeps vs %d", s, ps);
    compare("stories260K", "stories260K", 64, 0, g, 40, 1, 0, 0, &ps); /* the cost model */
    compare("stories260K", "stories260K", 16, 1, g, 40, 0, 0, 0, &ps); /* stops at eos */
    compare("stories260K", "stories260K", 16, 1, g, 3, 1, 0, 0, &ps);  /* -n 3 */
    compare("stories260K", "stories260K", 16, 1, g, 40, 1, 0, 32, &ps); /* the context fills up */
    compare("gemma2", "gemma3", 16, 1, g, 20, 1, 0, 0, &ps);          /* another model of the vocabulary */
}

/* Models without token trees (recurrent layers) on either side: chains, the same ids; fewer
 * sweeps where the draft is the model itself; GLM-5's DSA with trees. */
static void test_chains(void) {
    rl_sampling g = rl_sampling_default(), sp = g;
    sp.temperature = 0.9f;
    sp.seed = 3;
    int ps;
    const char *const self[2] = {"qwen3_5", "glm_moe_dsa"}; /* chains; trees (DSA) */
    for (int k = 0; k < 2; k++) {
        int s = compare(self[k], self[k], 8, 1, g, 24, 1, 0, 0, &ps);
        CHECK(s > 0 && s < ps, "%s as its own draft: %d sweeps vs %d", self[k], s, ps);
    }
    compare("qwen3_5", "qwen3_5_moe", 8, 1, g, 24, 1, 0, 0, &ps);     /* a hybrid draft that disagrees */
    compare("qwen3_5", "qwen3_5", 16, 0, sp, 24, 1, 0, 0, &ps);       /* seeded, the cost model */
    compare("glm_moe_dsa", "qwen3_5", 8, 1, g, 24, 1, 0, 0, &ps);     /* a DSA target, a chain draft */
    compare("deepseek_v3", "qwen3_5", 8, 1, g, 24, 1, 0, 0, &ps);     /* a target with trees, a draft without */
}

static void test_sampling(void) {
    rl_sampling sp = rl_sampling_default();
    sp.temperature = 1.1f;
    sp.top_k = 40;
    int ps;
    for (int seed = 1; seed <= 6; seed++) {
        sp.seed = (uint64_t)seed;
        compare("stories260K", "stories260K", 16, seed % 2, sp, 24, 1, 0, 0, &ps);
    }
}

static void test_refused(void) {
    rl_model *m = open_dir("stories260K", NP, 0, 0), *d1 = open_dir("stories260K", 1, 0, 0);
    int32_t o0[4], o1[4], o2[4], *outs[NP] = {o0, o1, o2};
    int n_outs[NP];
    rl_batch_opts o = {.max_new = 4, .sampling = rl_sampling_default(), .draft_model = d1};
    if (m && d1) CHECK(rl_generate_batch(m, PROMPTS, NPROMPT, NP, &o, outs, n_outs, NULL) == -1 && strstr(rl_last_error(), "sequences"),
                       "a draft of 1 sequence for 3: %s", rl_last_error());
    rl_model_close(m); rl_model_close(d1);
}

int main(void) {
    RUN_SHARED(test_greedy);
    RUN_SHARED(test_sampling);
    RUN_SHARED(test_chains);
    RUN_SHARED(test_refused);
    TEST_END();
}
