/* Generation loop: speculative verification (prompt lookup) gives exactly the greedy output and
 * the same logits rows as one token per sweep, with fewer sweeps; row counts; budgets; stops. */
#include "test.h"
#include "gen/generate.h"
#include "engine/model.h"
#include <math.h>

typedef struct { float *rows; int n, cap, vocab; } rows_t;

static int keep_rows(void *ctx, const float *r, int n, int vocab) {
    rows_t *R = ctx;
    if (R->n + n > R->cap) return 1;
    memcpy(R->rows + (size_t)R->n * vocab, r, (size_t)n * vocab * sizeof(float));
    R->n += n;
    R->vocab = vocab;
    return 0;
}

static void run(const char *fixture, int draft, const int32_t *prompt, int P, int N, int32_t *out, int *n_out,
                rows_t *R, rl_gen_stats *st) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m != NULL, "open %s: %s", fixture, rl_last_error());
    if (!m) return;
    R->vocab = rl_model_vocab(m);
    R->cap = P + N + 8;
    R->n = 0;
    R->rows = malloc((size_t)R->cap * R->vocab * sizeof(float));
    rl_gen_opts o = {.max_new = N, .sampling = rl_sampling_default(), .ignore_eos = 1, .draft = draft,
                     .on_logits = keep_rows, .ctx = R};
    CHECK(rl_generate(m, prompt, P, &o, out, n_out, st) == 0, "generate: %s", rl_last_error());
    CHECK(rl_model_pos(m) == P + *n_out - 1, "cache holds prompt + fed-back tokens: %d", rl_model_pos(m));
    rl_model_close(m);
}

static void check_same(const char *fixture, const int32_t *prompt, int P, int N) {
    int32_t a[64], b[64];
    int na = 0, nb = 0;
    rows_t ra = {0}, rb = {0};
    rl_gen_stats sa, sb;
    run(fixture, 0, prompt, P, N, a, &na, &ra, &sa);
    run(fixture, 6, prompt, P, N, b, &nb, &rb, &sb);
    CHECK(na == N && nb == N, "%s: %d / %d tokens", fixture, na, nb);
    CHECK(!memcmp(a, b, (size_t)N * sizeof *a), "%s: speculative greedy output differs", fixture);
    CHECK(ra.n == P + N - 1 && rb.n == P + N - 1, "%s: rows %d / %d, want %d", fixture, ra.n, rb.n, P + N - 1);
    double w = 0;
    for (size_t i = 0; ra.rows && rb.rows && i < (size_t)ra.n * ra.vocab; i++) w = fmax(w, fabs(ra.rows[i] - rb.rows[i]));
    CHECK(w < 1e-4, "%s: logits rows differ by %g", fixture, w);
    CHECK(sb.drafted > 0 && sb.sweeps < sa.sweeps, "%s: speculation used (%d drafted, %d accepted, %d vs %d sweeps)",
          fixture, sb.drafted, sb.accepted, sb.sweeps, sa.sweeps);
    fprintf(stderr, "  %s: %d sweeps -> %d, %d/%d drafts accepted\n", fixture, sa.sweeps, sb.sweeps, sb.accepted, sb.drafted);
    free(ra.rows); free(rb.rows);
}

static void test_speculative_greedy_exact(void) {
    /* stories260K continues its own text: the greedy story repeats phrases, so lookups hit */
    int32_t p1[] = {1, 403, 407, 261, 378};
    check_same("stories260K", p1, 5, 48);
    int32_t p2[] = {5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8, 5, 6};
    check_same("qwen3_moe", p2, 14, 24);
}

/* A hybrid model (qwen3_5) after rl_generate keeps a state checkpoint at the prompt's end, so
 * the next turn of a chat rewinding into the answer replays only what follows the prompt; its
 * logits equal the chain's. Prompt lookup on it (checkpoints before each verification) keeps
 * the greedy ids. */
static void test_hybrid_turns(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model *m = rl_model_open(dir, NULL), *c = rl_model_open(dir, NULL);
    CHECK(m && c, "open: %s", rl_last_error());
    if (!m || !c) { rl_model_close(m); rl_model_close(c); return; }
    int V = rl_model_vocab(m);
    int32_t prompt[12], out[8], nx[3] = {3, 4, 5};
    for (int i = 0; i < 12; i++) prompt[i] = (int32_t)((i * 29 + 7) % V);
    int n = 0;
    rl_gen_opts o = {.max_new = 6, .sampling = rl_sampling_default(), .ignore_eos = 1};
    o.sampling.temperature = 0;
    CHECK(rl_generate(m, prompt, 12, &o, out, &n, NULL) == 0 && n == 6, "generate: %s", rl_last_error());
    CHECK(m->ckpt_pos[0] == 12, "checkpoint at the prompt's end: %d", m->ckpt_pos[0]);
    CHECK(rl_model_rewind(m, 14) == 0 && m->replay_seq[0] == 2, "a rewind into the answer replays from the checkpoint");
    float *lm = malloc((size_t)3 * V * sizeof(float)), *lc = malloc((size_t)3 * V * sizeof(float));
    CHECK(rl_model_eval(m, nx, 3, lm, 1) == 0, "next turn: %s", rl_last_error());
    int32_t ch[17];
    memcpy(ch, prompt, sizeof prompt);
    ch[12] = out[0]; ch[13] = out[1];
    memcpy(ch + 14, nx, sizeof nx);
    CHECK(rl_model_eval(c, ch, 14, NULL, 0) == 0 && rl_model_eval(c, ch + 14, 3, lc, 1) == 0, "chain: %s", rl_last_error());
    double w = 0;
    for (size_t i = 0; i < (size_t)3 * V; i++) w = fmax(w, fabs(lm[i] - lc[i]));
    CHECK(w < 1e-4, "the next turn differs from the chain by %g", w);
    free(lm); free(lc);
    rl_model_close(m); rl_model_close(c);
    int32_t p2[] = {5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8, 5, 6};
    int32_t a[24], b[24];
    int na = 0, nb = 0;
    rows_t ra = {0}, rb = {0};
    run("qwen3_5", 0, p2, 14, 20, a, &na, &ra, NULL);
    run("qwen3_5", 6, p2, 14, 20, b, &nb, &rb, NULL);
    CHECK(na == 20 && nb == 20 && !memcmp(a, b, sizeof a[0] * 20), "qwen3_5: prompt lookup changed the greedy ids");
    w = 0;
    for (size_t i = 0; ra.rows && rb.rows && ra.n == rb.n && i < (size_t)ra.n * ra.vocab; i++) w = fmax(w, fabs(ra.rows[i] - rb.rows[i]));
    CHECK(ra.n == rb.n && w < 1e-4, "qwen3_5: prompt lookup logits rows differ by %g", w);
    free(ra.rows); free(rb.rows);
}

static void test_budget_and_stop(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/stories260K", t_shared());
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m != NULL, "open");
    if (!m) return;
    int32_t p[] = {1, 403, 407, 261, 378}, out[16];
    int n = 0;
    rl_gen_stats st;
    rl_gen_opts o = {.max_new = 3, .sampling = rl_sampling_default(), .ignore_eos = 1, .draft = 8};
    CHECK(rl_generate(m, p, 5, &o, out, &n, &st) == 0 && n == 3, "budget of 3 gives %d", n);
    CHECK(rl_model_pos(m) == 5 + 2, "cache after budget: %d", rl_model_pos(m));
    /* stop ids: stop on the second greedy token, whatever it is */
    rl_model_rewind(m, 0);
    int32_t stop = out[1];
    rl_gen_opts o2 = {.max_new = 16, .sampling = rl_sampling_default(), .stop_ids = &stop, .n_stop = 1, .draft = 8};
    CHECK(rl_generate(m, p, 5, &o2, out, &n, &st) == 0 && n == 2 && st.stopped_by_eos, "stop id: %d tokens", n);
    /* seeded sampling with speculation is reproducible */
    int32_t x[16], y[16];
    int nx = 0, ny = 0;
    rl_gen_opts o3 = {.max_new = 16, .sampling = rl_sampling_default(), .ignore_eos = 1, .draft = 4};
    o3.sampling.temperature = 0.8f; o3.sampling.top_p = 0.9f; o3.sampling.seed = 11;
    rl_model_rewind(m, 0);
    CHECK(rl_generate(m, p, 5, &o3, x, &nx, &st) == 0, "sample a");
    rl_model_rewind(m, 0);
    CHECK(rl_generate(m, p, 5, &o3, y, &ny, &st) == 0, "sample b");
    CHECK(nx == 16 && ny == 16 && !memcmp(x, y, sizeof x), "same seed, same speculative sample");
    rl_model_close(m);
}

int main(void) {
    RUN_SHARED(test_speculative_greedy_exact);
    RUN_SHARED(test_budget_and_stop);
    RUN_SHARED(test_hybrid_turns);
    TEST_END();
}
