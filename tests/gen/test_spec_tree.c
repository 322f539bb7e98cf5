/* Speculative decoding with a draft model and token trees (gen/spec_tree.c):
 * - greedy output ids and the logits rows of the fed-back tokens are those of plain decoding,
 *   at several budgets, with the model itself and a 4-bit copy of it as drafts (stories260K,
 *   whose 4-bit copy is made here with `quantize`), and on llama and qwen3_moe fixtures, and on
 *   the sliding-window gemma2 / gemma3 fixtures (window 8: trees deeper than it; linear and ring
 *   caches);
 * - the cache afterwards holds prompt + fed-back tokens;
 * - sampling: under one seed the ids equal plain sampling's (the target's own sampler picks
 *   every token, so the draws are the same); and statistically, over independent seeds, the
 *   first three generated tokens of draft runs follow plain sampling's distribution: a
 *   chi-square homogeneity test at the 0.1 % level on the joint (first, second) token counts
 *   (bins with fewer than 5 expected merged);
 * - MLA models (deepseek_v2) and GLM-5's DSA (glm_moe_dsa) run trees; models without token
 *   trees (recurrent: qwen3_5, qwen3_5_moe, whose state is checkpointed before each
 *   verification) speculate with chains, as target, as draft, and a chain draft for a tree
 *   target: greedy ids and logits rows unchanged, seeded sampling too;
 * - a draft of another vocabulary size is refused. */
#include "test.h"
#include "gen/generate.h"
#include "quant/qcache.h"
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct { float *rows; int n, cap, vocab; } rows_t;

static int keep_rows(void *ctx, const float *r, int n, int vocab) {
    rows_t *R = ctx;
    if (R->n + n > R->cap) return 1;
    memcpy(R->rows + (size_t)R->n * vocab, r, (size_t)n * vocab * sizeof(float));
    R->n += n;
    R->vocab = vocab;
    return 0;
}

static int g_batch; /* max_batch of the models opened (0 = default; small: ring caches for sliding layers) */

static rl_model *open_dir(const char *dir) {
    rl_model_opts mo = {.max_batch = g_batch};
    rl_model *m = rl_model_open(dir, &mo);
    CHECK(m != NULL, "open %s: %s", dir, rl_last_error());
    return m;
}

/* Generates N tokens after prompt; draft may be NULL. Returns the count. */
static int gen(const char *dir, const char *draft_dir, int budget, const rl_sampling *sp, const int32_t *prompt, int P,
               int N, int32_t *out, rows_t *R, rl_gen_stats *st) {
    rl_model *m = open_dir(dir), *d = draft_dir ? open_dir(draft_dir) : NULL;
    int n = 0;
    if (m && (!draft_dir || d)) {
        if (R) { R->vocab = rl_model_vocab(m); R->cap = P + N + 8; R->n = 0; R->rows = malloc((size_t)R->cap * R->vocab * sizeof(float)); }
        rl_gen_opts o = {.max_new = N, .sampling = *sp, .ignore_eos = 1, .draft_model = d, .draft_tokens = budget, .draft_fixed = 1,
                         .on_logits = R ? keep_rows : NULL, .ctx = R};
        CHECK(rl_generate(m, prompt, P, &o, out, &n, st) == 0, "generate: %s", rl_last_error());
        CHECK(rl_model_pos(m) == P + n - 1, "cache holds prompt + fed-back tokens: %d (want %d)", rl_model_pos(m), P + n - 1);
    }
    rl_model_close(d);
    rl_model_close(m);
    return n;
}

static int g_fewer = 1; /* check_greedy: the draft must save sweeps (0: another model, may not) */

static void check_greedy(const char *dir, const char *draft, int budget) {
    int32_t prompt[4] = {1, 40, 47, 61}, a[48], b[48]; /* ids below every fixture's vocabulary */
    rows_t ra = {0}, rb = {0};
    rl_gen_stats sa, sb;
    rl_sampling g = rl_sampling_default();
    g.temperature = 0;
    int na = gen(dir, NULL, 0, &g, prompt, 4, 40, a, &ra, &sa), nb = gen(dir, draft, budget, &g, prompt, 4, 40, b, &rb, &sb);
    CHECK(na == 40 && nb == 40 && !memcmp(a, b, sizeof(int32_t) * 40), "%s budget %d: greedy ids differ", dir, budget);
    double w = 0;
    CHECK(ra.n == rb.n, "rows %d vs %d", ra.n, rb.n);
    for (size_t i = 0; ra.n == rb.n && i < (size_t)ra.n * ra.vocab; i++) w = fmax(w, fabs(ra.rows[i] - rb.rows[i]));
    CHECK(w <= 1e-4, "%s budget %d: logits rows differ by %g", dir, budget, w);
    CHECK(!g_fewer || sb.sweeps < sa.sweeps, "fewer sweeps with the draft (%d vs %d)", sb.sweeps, sa.sweeps);
    fprintf(stderr, "  %s, draft %s, budget %d: %d sweeps instead of %d, %.2f accepted/sweep\n", dir, draft, budget,
            sb.sweeps, sa.sweeps, sb.sweeps ? (double)sb.accepted / sb.sweeps : 0);
    free(ra.rows); free(rb.rows);
}

static char g_s4[64];

/* Greedy cases: target and draft fixtures ("s4": the 4-bit stories260K copy), budget, --batch
 * (32: ring caches of 8 + 32 - 1 rows for the window-8 models), whether the draft must save
 * sweeps (not for another model as draft). */
static void test_greedy(void) {
    static const struct { const char *t, *d; int budget, batch, fewer; } C[] = {
        {"stories260K", "stories260K", 8, 0, 1}, {"stories260K", "stories260K", 32, 0, 1},
        {"stories260K", "stories260K", 128, 0, 1}, {"stories260K", "s4", 16, 0, 1},
        {"llama", "llama", 16, 0, 1}, {"qwen3_moe", "qwen3_moe", 16, 0, 1},
        /* sliding-window models (window 8): trees deeper than the window, linear and ring caches */
        {"gemma2", "gemma2", 32, 0, 1}, {"gemma3", "gemma3", 16, 0, 1}, {"gemma2", "gemma2", 32, 32, 1},
        {"gemma3", "gemma3", 8, 32, 1},
        /* MLA: trees on its latent cache */
        {"deepseek_v2", "deepseek_v2", 8, 0, 1}, {"deepseek_v2", "deepseek_v2", 32, 0, 1},
        /* GLM-5's DSA: trees (the indexer's top-k over the prefix and each node's ancestors) */
        {"glm_moe_dsa", "glm_moe_dsa", 8, 0, 1}, {"glm_moe_dsa", "glm_moe_dsa", 32, 0, 1},
        /* no token trees: chains proposed and verified (recurrent state checkpointed) */
        {"qwen3_5", "qwen3_5", 8, 0, 1}, {"qwen3_5_moe", "qwen3_5_moe", 32, 0, 1},
        /* another model of the same vocabulary size (256) as draft: tree / chain pairs */
        {"gemma2", "deepseek_v2", 8, 0, 0}, {"deepseek_v2", "gemma2", 8, 0, 0}, {"gemma2", "qwen3_5", 8, 0, 0},
        {"qwen3_5", "deepseek_v2", 8, 0, 0},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char t[512], d[512];
        snprintf(t, sizeof t, "%s/fixtures/%s", t_shared(), C[i].t);
        if (!strcmp(C[i].d, "s4")) snprintf(d, sizeof d, "%s", g_s4);
        else snprintf(d, sizeof d, "%s/fixtures/%s", t_shared(), C[i].d);
        g_batch = C[i].batch;
        g_fewer = C[i].fewer;
        check_greedy(t, d, C[i].budget);
    }
    g_batch = 0;
    g_fewer = 1;
}

static void test_sampling(void) {
    char s[512];
    snprintf(s, sizeof s, "%s/fixtures/stories260K", t_shared());
    rl_sampling sp = rl_sampling_default();
    sp.temperature = 1.2f;
    sp.top_p = 1.0f;
    int32_t prompt[3] = {1, 403, 407}, a[8], b[8];
    /* same seed: the same draws, the same ids */
    int same = 1;
    for (int seed = 1; seed <= 20; seed++) {
        sp.seed = (uint64_t)seed;
        gen(s, NULL, 0, &sp, prompt, 3, 8, a, NULL, NULL);
        gen(s, g_s4, 16, &sp, prompt, 3, 8, b, NULL, NULL);
        same &= !memcmp(a, b, sizeof a);
    }
    CHECK(same, "seeded sampling with a draft gives plain sampling's ids");
    char d2[512]; /* MLA trees, recurrent chains: the same */
    const char *dn[2] = {"deepseek_v2", "qwen3_5"};
    for (int k = 0; k < 2; k++) {
        snprintf(d2, sizeof d2, "%s/fixtures/%s", t_shared(), dn[k]);
        for (int seed = 1; seed <= 5; seed++) {
            sp.seed = (uint64_t)seed;
            int32_t pc[3] = {1, 40, 47};
            gen(d2, NULL, 0, &sp, pc, 3, 8, a, NULL, NULL);
            gen(d2, d2, 8, &sp, pc, 3, 8, b, NULL, NULL);
            CHECK(!memcmp(a, b, sizeof a), "%s: seeded sampling with a draft (seed %d) gives plain sampling's ids", dn[k], seed);
        }
    }
    /* independent seeds: joint counts of the first two tokens, chi-square homogeneity */
    enum { RUNS = 400, BINS = 512 * 512 };
    static int ca[BINS], cb[BINS]; /* joint (first, second) token */
    memset(ca, 0, sizeof ca); memset(cb, 0, sizeof cb);
    for (int r = 0; r < RUNS; r++) {
        sp.seed = 1000 + (uint64_t)r;
        gen(s, NULL, 0, &sp, prompt, 1, 2, a, NULL, NULL); /* from BOS alone: a broad first token */
        ca[(a[0] * 512 + a[1]) % BINS]++;
        sp.seed = 900000 + (uint64_t)r;
        gen(s, g_s4, 16, &sp, prompt, 1, 2, b, NULL, NULL);
        cb[(b[0] * 512 + b[1]) % BINS]++;
    }
    double chi = 0;
    int df = -1, sa = 0, sb = 0;
    for (int i = 0; i < BINS; i++) { /* bins with < 10 total (5 expected each) pooled into one */
        if (ca[i] + cb[i] >= 10) {
            double e = (ca[i] + cb[i]) / 2.0;
            chi += (ca[i] - e) * (ca[i] - e) / e + (cb[i] - e) * (cb[i] - e) / e;
            df++;
        } else { sa += ca[i]; sb += cb[i]; }
    }
    if (sa + sb > 0) { double e = (sa + sb) / 2.0; chi += (sa - e) * (sa - e) / e + (sb - e) * (sb - e) / e; df++; }
    /* 0.1 % critical value of chi-square with df degrees of freedom (Wilson-Hilferty) */
    double z = 3.09, k = df > 0 ? df : 1, crit = k * pow(1 - 2 / (9 * k) + z * sqrt(2 / (9 * k)), 3);
    CHECK(chi <= crit, "draft sampling distribution: chi-square %.1f > %.1f (df %d)", chi, crit, df);
    fprintf(stderr, "  sampling: chi-square %.1f with %d df (0.1%% critical %.1f)\n", chi, df, crit);
}

static void test_vocab_mismatch(void) {
    char s[512], l[512];
    snprintf(s, sizeof s, "%s/fixtures/stories260K", t_shared());
    snprintf(l, sizeof l, "%s/fixtures/qwen3", t_shared());
    rl_model *m = open_dir(s), *d = open_dir(l);
    if (m && d && rl_model_vocab(m) != rl_model_vocab(d)) {
        int32_t p[2] = {1, 2}, out[4];
        int n;
        rl_gen_opts o = {.max_new = 4, .sampling = rl_sampling_default(), .draft_model = d};
        CHECK(rl_generate(m, p, 2, &o, out, &n, NULL) == -1 && strstr(rl_last_error(), "vocabulary"), "mismatch: %s", rl_last_error());
    }
    rl_model_close(d); rl_model_close(m);
}

int main(void) {
    if (t_have_shared()) { /* a 4-bit copy of stories260K as the draft */
        char src[512];
        snprintf(src, sizeof src, "%s/fixtures/stories260K", t_shared());
        snprintf(g_s4, sizeof g_s4, "/tmp/rl_s4_XXXXXX");
        CHECK(mkdtemp(g_s4) != NULL, "mkdtemp");
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rmdir '%s'", g_s4);
        CHECK(system(cmd) == 0, "rmdir");
        CHECK(rl_qcache_build(src, 4, g_s4, NULL) == 0, "quantize: %s", rl_last_error());
    }
    RUN_SHARED(test_greedy);
    RUN_SHARED(test_sampling);
    RUN_SHARED(test_vocab_mismatch);
    if (t_have_shared()) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_s4);
        if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    }
    TEST_END();
}
