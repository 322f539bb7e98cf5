/* Engine against the llama.cpp goldens of ../shared/fixtures: every prefill and decode logits
 * row within 1e-3 absolute, greedy ids identical. */
#include "test.h"
#include "golden_cmp.h"
#include "rabbitllm.h"
#include "engine/model.h"
#include "backend/backend.h"
#include "engine/moe.h"
#include "util/json.h"
#include "util/fileio.h"
#include <math.h>

static const char *BACKENDS[] = {"cpu", "cpu-staged",
#ifdef RL_VULKAN_BUILD
                                 "vulkan",
#endif
#ifdef RL_CUDA_BUILD
                                 "cuda",
#endif
                                 NULL};

/* One fixture with opts mo (what: how it runs, for the log). Returns the bytes of two cached
 * experts per MoE layer of the model (0 for a dense one), for the placement runs. */
static size_t check_fixture_opts(const char *name, rl_model_opts mo, const char *what) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    fixture_golden gg;
    if (golden_load(dir, name, &gg)) return 0;
    rl_model *m = rl_model_open(dir, &mo);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m) { free(gg.logits); return 0; }
    CHECK(rl_model_vocab(m) == gg.V, "%s: vocab", name);
    double worst = golden_compare(m, name, gg.prompt, gg.P, gg.greedy, gg.G, gg.logits, gg.rows, gg.V);
    fprintf(stderr, "  %s [%s%s]: max abs diff %.2g over %d rows\n", name, mo.backend, what, worst, gg.rows);
    size_t two = 2 * rl_moe_slot_bytes(m);
    free(gg.logits);
    rl_model_close(m);
    return two;
}

static size_t check_fixture(const char *name, const char *backend, size_t budget) {
    return check_fixture_opts(name, (rl_model_opts){.backend = backend, .mem_budget = budget}, budget ? ", resident" : "");
}

/* Every folder of ../shared/fixtures (listed, not named here), on each backend. */
static void test_fixtures(void) {
    char root[512];
    snprintf(root, sizeof root, "%s/fixtures", t_shared());
    char *names[256];
    int n = fixture_dirs(root, NULL, names, 256);
    if (n < 0) return;
    CHECK(n >= 30, "only %d fixtures under %s", n, root);
    /* device backends built in but without a device (no ICD, no GPU): named and left out;
     * lavapipe is slow under ASan: release build only */
    int have[8] = {0};
    for (int b = 0; BACKENDS[b]; b++) {
        if (!strncmp(BACKENDS[b], "cpu", 3)) { have[b] = 1; continue; }
        if (getenv("RL_SANITIZED")) continue;
        rl_backend *be = rl_backend_open(BACKENDS[b], 1);
        if (be) have[b] = 1;
        else { t_skipped++; fprintf(stderr, "  %s fixtures skipped: %s\n", BACKENDS[b], rl_last_error()); }
        rl_backend_close(be);
    }
    for (int i = 0; i < n; i++) {
        for (int b = 0; BACKENDS[b]; b++) {
            int gpu = strncmp(BACKENDS[b], "cpu", 3) != 0;
            if (!have[b]) continue;
            size_t two = check_fixture(names[i], BACKENDS[b], 0);
            if (gpu) check_fixture(names[i], BACKENDS[b], (size_t)1 << 40);
            /* MoE: two experts per layer cached (evictions); on a GPU the one-row misses on
             * the CPU, the others uploaded (engine/moe_place.c) */
            if (two && strcmp(BACKENDS[b], "cpu-staged"))
                check_fixture_opts(names[i], (rl_model_opts){.backend = BACKENDS[b], .expert_cache = two, .moe_cpu_rows = 1},
                                   ", 2 experts cached per layer");
        }
        free(names[i]);
    }
}

/* The cache path equals recomputing the whole sequence: logits of the last token after
 * prefill+decode equal a fresh prefill of the full sequence. */
static void test_cache_equals_recompute(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen2", t_shared());
    rl_model *a = rl_model_open(dir, NULL), *b = rl_model_open(dir, NULL);
    CHECK(a && b, "open: %s", rl_last_error());
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[24];
    for (int i = 0; i < 24; i++) seq[i] = (int32_t)((i * 37 + 11) % V);
    float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * 24 * sizeof(float));
    CHECK(rl_model_eval(a, seq, 10, la, 0) == 0, "prefill");
    for (int i = 10; i < 24; i++) CHECK(rl_model_eval(a, &seq[i], 1, la, 0) == 0, "decode");
    CHECK(rl_model_eval(b, seq, 24, lb, 1) == 0, "full");
    double w = 0;
    for (int i = 0; i < V; i++) w = fmax(w, fabs(la[i] - lb[(size_t)23 * V + i]));
    CHECK(w < 1e-4, "cache vs recompute differ by %g", w);
    /* rewind and replay gives the same logits */
    rl_model_rewind(a, 12);
    CHECK(rl_model_pos(a) == 12, "rewind");
    CHECK(rl_model_eval(a, &seq[12], 12, la, 0) == 0, "replay");
    w = 0;
    for (int i = 0; i < V; i++) w = fmax(w, fabs(la[i] - lb[(size_t)23 * V + i]));
    CHECK(w < 1e-4, "rewind replay differs by %g", w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Prompts split over several sweeps (max_batch smaller than the prompt) give the same rows. */
static void test_chunked_prefill(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/mistral", t_shared());
    rl_model_opts o = {.max_batch = 5};
    rl_model *a = rl_model_open(dir, &o), *b = rl_model_open(dir, NULL);
    CHECK(a && b, "open: %s", rl_last_error());
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[17];
    for (int i = 0; i < 17; i++) seq[i] = (int32_t)((i * 53 + 7) % V);
    float *la = malloc((size_t)V * 17 * sizeof(float)), *lb = malloc((size_t)V * 17 * sizeof(float));
    CHECK(rl_model_eval(a, seq, 17, la, 1) == 0, "a");
    CHECK(rl_model_eval(b, seq, 17, lb, 1) == 0, "b");
    double w = 0;
    for (size_t i = 0; i < (size_t)V * 17; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "chunked prefill differs by %g", w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Hybrid (Qwen3.5 Gated DeltaNet) state: prefill in sweeps of 5 tokens (the conv and recurrent
 * state carry across sweeps), decode, rewind (the state is rebuilt from the token history) and
 * rewind to 0 all give the logits of one fresh full prefill. */
static void test_hybrid_state(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model_opts o = {.max_batch = 5};
    rl_model *a = rl_model_open(dir, &o), *b = rl_model_open(dir, NULL);
    CHECK(a && b, "open: %s", rl_last_error());
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[24];
    for (int i = 0; i < 24; i++) seq[i] = (int32_t)((i * 37 + 11) % V);
    float *la = malloc((size_t)V * 24 * sizeof(float)), *lb = malloc((size_t)V * 24 * sizeof(float));
    CHECK(rl_model_eval(b, seq, 24, lb, 1) == 0, "full: %s", rl_last_error());
    CHECK(rl_model_eval(a, seq, 17, la, 1) == 0, "chunked prefill: %s", rl_last_error());
    double w = 0;
    for (size_t i = 0; i < (size_t)V * 17; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "chunked prefill differs by %g", w);
    for (int i = 17; i < 24; i++) CHECK(rl_model_eval(a, &seq[i], 1, la, 0) == 0, "decode");
    w = 0;
    for (int i = 0; i < V; i++) w = fmax(w, fabs(la[i] - lb[(size_t)23 * V + i]));
    CHECK(w < 1e-4, "cache vs recompute differ by %g", w);
    rl_model_rewind(a, 12);
    CHECK(rl_model_pos(a) == 12, "rewind pos %d", rl_model_pos(a));
    CHECK(rl_model_eval(a, &seq[12], 12, la, 1) == 0, "replay: %s", rl_last_error());
    w = 0;
    for (size_t i = 0; i < (size_t)V * 12; i++) w = fmax(w, fabs(la[i] - lb[(size_t)12 * V + i]));
    CHECK(w < 1e-4, "rewind replay differs by %g", w);
    rl_model_rewind(a, 0);
    CHECK(rl_model_pos(a) == 0, "rewind to 0");
    CHECK(rl_model_eval(a, seq, 3, la, 1) == 0, "restart: %s", rl_last_error());
    w = 0;
    for (size_t i = 0; i < (size_t)V * 3; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "rewind to 0 differs by %g", w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Largest |a - b| over n values. */
static double maxdiff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

/* The chain's rows: b rewound to 0, then n0 tokens of p0 and n1 of p1 (all rows into lb). */
static int chain(rl_model *b, const int32_t *p0, int n0, const int32_t *p1, int n1, float *lb) {
    int32_t ch[64];
    memcpy(ch, p0, (size_t)n0 * sizeof(int32_t));
    memcpy(ch + n0, p1, (size_t)n1 * sizeof(int32_t));
    return rl_model_rewind(b, 0) || rl_model_eval(b, ch, n0 + n1, lb, 1);
}

/* Hybrid state checkpoints (speculative decoding's rejected drafts): a rewind to the checkpoint
 * or after it restores the saved state and replays only the tokens after it, inside the next
 * eval's sweep or, for another sequence of a batch, as a replay of its own; a rewind below the
 * checkpoint replays the whole kept prefix. Every case equals the chain's logits (one fresh
 * prefill of prefix + kept tokens + the new ones). */
static void test_hybrid_checkpoint(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model_opts o2 = {.n_seq = 2};
    rl_model *a = rl_model_open(dir, &o2), *b = rl_model_open(dir, NULL);
    CHECK(a && b, "open: %s", rl_last_error());
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[40], alt[8];
    for (int i = 0; i < 40; i++) seq[i] = (int32_t)((i * 37 + 11) % V);
    for (int i = 0; i < 8; i++) alt[i] = (int32_t)((i * 53 + 5) % V);
    float *la = malloc((size_t)V * 8 * sizeof(float)), *lb = malloc((size_t)V * 40 * sizeof(float));
    /* after the checkpoint: seq[0..12) checkpoint, 5 drafts, keep 2, then alt[0..3) */
    CHECK(chain(b, seq, 14, alt, 3, lb) == 0, "chain: %s", rl_last_error());
    CHECK(rl_model_eval(a, seq, 12, NULL, 0) == 0 && rl_model_seq_checkpoint(a, 0) == 0, "checkpoint: %s", rl_last_error());
    CHECK(rl_model_eval(a, seq + 12, 5, la, 1) == 0 && rl_model_rewind(a, 14) == 0 && rl_model_pos(a) == 14, "draft, rewind");
    CHECK(rl_model_eval(a, alt, 3, la, 1) == 0, "after the rewind: %s", rl_last_error());
    double w = maxdiff(la, lb + (size_t)14 * V, (size_t)V * 3);
    CHECK(w < 1e-4, "rewind to after the checkpoint differs from the chain by %g", w);
    /* exactly to the checkpoint, then again (the checkpoint stays valid) */
    CHECK(rl_model_rewind(a, 12) == 0 && rl_model_eval(a, seq + 12, 2, NULL, 0) == 0 && rl_model_rewind(a, 14) == 0, "again");
    CHECK(rl_model_eval(a, alt, 3, la, 1) == 0, "after the second rewind: %s", rl_last_error());
    w = maxdiff(la, lb + (size_t)14 * V, (size_t)V * 3);
    CHECK(w < 1e-4, "second rewind differs from the chain by %g", w);
    /* below the checkpoint: the whole prefix replays */
    CHECK(chain(b, seq, 6, alt, 2, lb) == 0, "chain 2: %s", rl_last_error());
    CHECK(rl_model_rewind(a, 6) == 0 && rl_model_eval(a, alt, 2, la, 1) == 0, "below: %s", rl_last_error());
    w = maxdiff(la, lb + (size_t)6 * V, (size_t)V * 2);
    CHECK(w < 1e-4, "rewind below the checkpoint differs from the chain by %g", w);
    /* sequence 1 of a batch: checkpoint, two tokens, rewind by one, a batched step */
    rl_batch_item it = {1, seq, 10}, two = {1, alt, 2}, step[2] = {{0, seq + 20, 1}, {1, alt + 5, 1}};
    CHECK(rl_model_eval_batch(a, &it, 1, NULL) == 0 && rl_model_seq_checkpoint(a, 1) == 0, "seq 1: %s", rl_last_error());
    CHECK(rl_model_eval_batch(a, &two, 1, NULL) == 0 && rl_model_seq_rewind(a, 1, 11) == 0, "seq 1 rewind: %s", rl_last_error());
    CHECK(rl_model_eval_batch(a, step, 2, la) == 0, "batched step: %s", rl_last_error());
    int32_t tail[2] = {alt[0], alt[5]};
    CHECK(chain(b, seq, 10, tail, 2, lb) == 0, "chain 3");
    w = maxdiff(la + V, lb + (size_t)11 * V, (size_t)V);
    CHECK(w < 1e-4, "sequence 1 after its checkpoint rewind differs from the chain by %g", w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Keeping some or all stages resident (memory budget) gives the same logits as streaming. */
static void test_resident_budget(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_moe", t_shared());
    rl_model_opts half = {.mem_budget = 1}, all = {.mem_budget = (size_t)1 << 40};
    rl_model *a = rl_model_open(dir, NULL), *c = rl_model_open(dir, &all);
    CHECK(a && c, "open: %s", rl_last_error());
    if (!a || !c) { rl_model_close(a); rl_model_close(c); return; }
    size_t total = 0;
    for (int i = 0; i < a->n_stages; i++) total += a->stages[i].bytes;
    half.mem_budget = total / 2;
    rl_model *b = rl_model_open(dir, &half);
    CHECK(b != NULL, "open half: %s", rl_last_error());
    if (!b) { rl_model_close(a); rl_model_close(c); return; }
    int nb, nc;
    size_t rb = rl_loader_resident_bytes(b->ld, &nb), rc = rl_loader_resident_bytes(c->ld, &nc);
    CHECK(nb > 0 && nb < b->n_stages && rb <= half.mem_budget, "half resident: %d stages, %zu bytes", nb, rb);
    CHECK(nc == c->n_stages && rc == total, "all resident: %d of %d", nc, c->n_stages);
    CHECK(rl_loader_resident_bytes(a->ld, &nb) == 0 && nb == 0, "budget 0 streams everything");
    int V = rl_model_vocab(a);
    float *la = malloc((size_t)V * 12 * sizeof(float)), *lb = malloc((size_t)V * 12 * sizeof(float)), *lc = malloc((size_t)V * 12 * sizeof(float));
    int32_t seq[12];
    for (int i = 0; i < 12; i++) seq[i] = (int32_t)((i * 41 + 5) % V);
    int same = 1;
    for (int round = 0; round < 3; round++) { /* prefill, then decode steps over several sweeps */
        int n = round == 0 ? 8 : 1, p = round == 0 ? 0 : 7 + round;
        CHECK(rl_model_eval(a, seq + p, n, la, 1) == 0 && rl_model_eval(b, seq + p, n, lb, 1) == 0 &&
              rl_model_eval(c, seq + p, n, lc, 1) == 0, "eval: %s", rl_last_error());
        same &= !memcmp(la, lb, (size_t)V * n * sizeof(float)) && !memcmp(la, lc, (size_t)V * n * sizeof(float));
    }
    CHECK(same, "resident stages change the logits");
    free(la); free(lb); free(lc);
    rl_model_close(a); rl_model_close(b); rl_model_close(c);
}

static void test_errors(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/llama", t_shared());
    rl_model_opts o = {.ctx = 8};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open: %s", rl_last_error());
    if (!m) return;
    int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(rl_model_eval(m, toks, 9, NULL, 0) == -1, "context exceeded");
    CHECK(strstr(rl_last_error(), "context") != NULL, "message: %s", rl_last_error());
    int32_t bad = 100000;
    CHECK(rl_model_eval(m, &bad, 1, NULL, 0) == -1, "bad id");
    CHECK(strstr(rl_last_error(), "vocabulary") != NULL, "message: %s", rl_last_error());
    CHECK(rl_model_pos(m) == 0, "nothing appended on error");
    rl_model_close(m);
    CHECK(rl_model_open("/nonexistent-model", NULL) == NULL, "missing dir");
    CHECK(strstr(rl_last_error(), "config.json") != NULL, "names file: %s", rl_last_error());
}

int main(void) {
    RUN_SHARED(test_fixtures);
    RUN_SHARED(test_cache_equals_recompute);
    RUN_SHARED(test_chunked_prefill);
    RUN_SHARED(test_hybrid_state);
    RUN_SHARED(test_hybrid_checkpoint);
    RUN_SHARED(test_resident_budget);
    RUN_SHARED(test_errors);
    TEST_END();
}
