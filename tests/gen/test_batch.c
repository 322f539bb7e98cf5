/* Batching: several sequences in one sweep give the same logits and greedy ids as each run
 * alone (dense, sliding-window, MoE and MLA models, GLM-5's DSA indexer too), with fewer sweeps; bad
 * batches are errors; rewinding one sequence of a batch (a replay for recurrent state and ring
 * caches) leaves the others as they were. */
#include "test.h"
#include "gen/batch.h"
#include <math.h>

#define NP 3
static const int32_t P0[] = {1, 5, 9, 13, 17, 21, 25};
static const int32_t P1[] = {2, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51};
static const int32_t P2[] = {3, 100};
static const int32_t *const PROMPTS[NP] = {P0, P1, P2};
static const int NPROMPT[NP] = {7, 13, 2};

static void check_model(const char *fixture) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    rl_model_opts ob = {.n_seq = NP, .max_batch = 8}; /* prompts span several sweeps */
    rl_model *mb = rl_model_open(dir, &ob), *m1 = rl_model_open(dir, NULL);
    CHECK(mb && m1, "%s: open: %s", fixture, rl_last_error());
    if (!mb || !m1) { rl_model_close(mb); rl_model_close(m1); return; }
    int V = rl_model_vocab(mb), N = 12;
    int32_t ob_[NP][16], o1[16], *outs[NP] = {ob_[0], ob_[1], ob_[2]};
    int n_outs[NP], n1;
    rl_batch_opts bo = {.max_new = N, .sampling = rl_sampling_default(), .ignore_eos = 1};
    rl_gen_stats bst, st1;
    CHECK(rl_generate_batch(mb, PROMPTS, NPROMPT, NP, &bo, outs, n_outs, &bst) == 0, "%s: batch: %s", fixture, rl_last_error());
    int sweeps1 = 0;
    for (int i = 0; i < NP; i++) {
        rl_model_rewind(m1, 0);
        rl_gen_opts go = {.max_new = N, .sampling = rl_sampling_default(), .ignore_eos = 1};
        CHECK(rl_generate(m1, PROMPTS[i], NPROMPT[i], &go, o1, &n1, &st1) == 0, "%s: single: %s", fixture, rl_last_error());
        sweeps1 += st1.sweeps;
        CHECK(n1 == N && n_outs[i] == N && !memcmp(o1, outs[i], (size_t)N * sizeof *o1),
              "%s: sequence %d differs from its run alone", fixture, i);
        CHECK(rl_model_seq_pos(mb, i) == NPROMPT[i] + N - 1, "%s: seq %d pos %d", fixture, i, rl_model_seq_pos(mb, i));
    }
    CHECK(bst.sweeps < sweeps1, "%s: batch used %d decode sweeps vs %d alone", fixture, bst.sweeps, sweeps1);
    /* logits of one batched step equal the single-sequence logits */
    float *lb = malloc((size_t)NP * V * sizeof(float)), *l1 = malloc((size_t)V * sizeof(float));
    rl_batch_item items[NP];
    for (int i = 0; i < NP; i++) { rl_model_seq_rewind(mb, i, 0); items[i] = (rl_batch_item){NP - 1 - i, PROMPTS[NP - 1 - i], NPROMPT[NP - 1 - i]}; }
    CHECK(rl_model_eval_batch(mb, items, NP, lb) == 0, "%s: eval_batch: %s", fixture, rl_last_error());
    double w = 0;
    for (int i = 0; i < NP; i++) {
        rl_model_rewind(m1, 0);
        CHECK(rl_model_eval(m1, items[i].tokens, items[i].n, l1, 0) == 0, "eval");
        for (int v = 0; v < V; v++) w = fmax(w, fabs(l1[v] - lb[(size_t)i * V + v]));
    }
    CHECK(w < 1e-4, "%s: batched logits differ by %g", fixture, w);
    /* errors */
    rl_batch_item dup[2] = {{0, P0, 1}, {0, P1, 1}}, bad = {NP, P0, 1};
    CHECK(rl_model_eval_batch(mb, dup, 2, NULL) == -1 && strstr(rl_last_error(), "twice"), "duplicate seq");
    CHECK(rl_model_eval_batch(mb, &bad, 1, NULL) == -1 && strstr(rl_last_error(), "out of range"), "seq range");
    free(lb); free(l1);
    rl_model_close(mb); rl_model_close(m1);
}

static void test_batch_equals_single(void) {
    check_model("llama");
    check_model("gemma2");      /* sliding window 8 < prompt + generation */
    check_model("qwen3_moe");   /* routed experts per token */
    check_model("deepseek_v2"); /* MLA: each sequence's latent cache */
    check_model("deepseek_v3"); /* MLA with q LoRA, sigmoid routing */
    check_model("glm_moe_dsa"); /* MLA + DSA indexer: an indexer key cache per sequence */
    check_model("qwen3_5");     /* Gated DeltaNet: recurrent and conv state per sequence */
    check_model("qwen3_5_moe");
}

/* Rewinds of single sequences of a batch: a recurrent model (qwen3_5) replays the rewound
 * sequence's kept prefix alone (the others keep their state), a sliding-window model (gemma2,
 * ring caches) does the same when the rewind drops rows its ring still needs; the next batched
 * step equals each sequence's chain. */
static void check_rewind(const char *fixture, int batch, int back) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    rl_model_opts ob = {.n_seq = 2, .max_batch = batch}, o1 = {.max_batch = batch};
    rl_model *mb = rl_model_open(dir, &ob), *m1 = rl_model_open(dir, &o1);
    CHECK(mb && m1, "%s: open: %s", fixture, rl_last_error());
    if (!mb || !m1) { rl_model_close(mb); rl_model_close(m1); return; }
    int V = rl_model_vocab(mb);
    int32_t a[40], b[40];
    for (int i = 0; i < 40; i++) { a[i] = (int32_t)((i * 37 + 5) % V); b[i] = (int32_t)((i * 53 + 11) % V); }
    rl_batch_item it[2] = {{0, a, 30}, {1, b, 36}};
    CHECK(rl_model_eval_batch(mb, it, 2, NULL) == 0, "%s: prefixes: %s", fixture, rl_last_error());
    int keep = 36 - back;
    CHECK(rl_model_seq_rewind(mb, 1, keep) == 0, "%s: rewind: %s", fixture, rl_last_error());
    int32_t nx[2] = {7 % V, 9 % V};
    rl_batch_item st[2] = {{1, &nx[1], 1}, {0, &nx[0], 1}};
    float *lb = malloc((size_t)2 * V * sizeof(float)), *l1 = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval_batch(mb, st, 2, lb) == 0, "%s: step after the rewind: %s", fixture, rl_last_error());
    CHECK(rl_model_seq_pos(mb, 0) == 31 && rl_model_seq_pos(mb, 1) == keep + 1, "%s: positions", fixture);
    double w = 0;
    int32_t c[41];
    for (int s = 0; s < 2; s++) { /* item 0 is sequence 1, item 1 sequence 0 */
        int n = s ? keep : 30;
        memcpy(c, s ? b : a, (size_t)n * sizeof(int32_t));
        c[n] = nx[s];
        rl_model_rewind(m1, 0);
        CHECK(rl_model_eval(m1, c, n + 1, l1, 0) == 0, "chain: %s", rl_last_error());
        for (int v = 0; v < V; v++) w = fmax(w, fabs(l1[v] - lb[(size_t)(1 - s) * V + v]));
    }
    CHECK(w < 1e-4, "%s: after rewinding one sequence by %d the batch differs from the chains by %g", fixture, back, w);
    free(lb); free(l1);
    rl_model_close(mb); rl_model_close(m1);
}

static void test_rewind(void) {
    check_rewind("qwen3_5", 0, 5);
    check_rewind("qwen3_5_moe", 8, 12);
    check_rewind("gemma2", 8, 20); /* ring of 8 + 8 - 1 rows: dropping 20 needs the replay */
}

int main(void) {
    RUN_SHARED(test_batch_equals_single);
    RUN_SHARED(test_rewind);
    TEST_END();
}
