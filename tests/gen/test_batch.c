/* Batching: several sequences in one sweep give the same logits and greedy ids as each run
 * alone (dense, sliding-window, MoE and MLA models, GLM-5's DSA indexer too), with fewer sweeps; bad
 * batches are errors; models with recurrent layers refuse several sequences. */
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
}

static void test_unsupported(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model_opts o = {.n_seq = 2};
    CHECK(rl_model_open(dir, &o) == NULL && strstr(rl_last_error(), "not supported"), "recurrent layers batching: %s", rl_last_error());
}

int main(void) {
    RUN_SHARED(test_batch_equals_single);
    RUN_SHARED(test_unsupported);
    TEST_END();
}
