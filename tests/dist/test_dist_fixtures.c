/* The MPI pipeline (src/dist) against the goldens of ../shared/fixtures: every fixture's prefill
 * and decode logits within 1e-3, greedy ids identical, with the layers split over the ranks of
 * mpirun (tests/dist/mpi_fixtures.sh runs it with -np 2 and -np 3); batched sequences in
 * micro-batches, rewinds and replays, chunked prefill, --pp-split and errors from other ranks.
 * Outside mpirun, or in a build without MPI=1, everything is skipped. */
#include "test.h"
#include "engine/golden_cmp.h"
#include "rabbitllm.h"
#include "dist/dist.h"
#include "engine/model.h"
#include "util/json.h"
#include "util/fileio.h"
#include <math.h>

static rl_model_opts opts1(void) { return (rl_model_opts){.n_threads = 1}; }

static void check_fixture(const char *name) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    fixture_golden gg;
    if (golden_load(dir, name, &gg)) return;
    const int P = gg.P, V = gg.V;
    rl_model_opts mo = opts1();
    rl_model *m = rl_model_open(dir, &mo);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (m) CHECK(m->dist != NULL && m->l0 == 0 && m->l1 <= m->d.n_layers, "%s: not a pipeline (layers %d..%d)", name, m->l0, m->l1);
    if (!m) { free(gg.logits); return; }
    double worst = golden_compare(m, name, gg.prompt, P, gg.greedy, gg.G, gg.logits, gg.rows, V);
    fprintf(stderr, "  %s [%d ranks, rank 0 layers 0..%d of %d]: max abs diff %.2g over %d rows\n", name, rl_dist_size(), m->l1,
            m->d.n_layers, worst, gg.rows);
    /* the same prompt in three sequences of one batch (micro-batches over the ranks): each
     * item's logits are the golden's last prompt row */
    rl_model_close(m);
    rl_model_opts bo = opts1();
    bo.n_seq = 3;
    m = rl_model_open(dir, &bo);
    CHECK(m != NULL, "%s: open with 3 sequences: %s", name, rl_last_error());
    if (m) { /* every family batches (recurrent state, MLA caches and DSA keys per sequence) */
        rl_batch_item it[3] = {{0, gg.prompt, P}, {1, gg.prompt, P}, {2, gg.prompt, P}};
        float *lg = malloc((size_t)3 * V * sizeof(float));
        CHECK(rl_model_eval_batch(m, it, 3, lg) == 0, "%s: batch: %s", name, rl_last_error());
        double w = 0;
        for (int s = 0; s < 3; s++)
            for (int i = 0; i < V; i++) w = fmax(w, fabs(lg[(size_t)s * V + i] - gg.logits[(size_t)(P - 1) * V + i]));
        CHECK(w <= 1e-3, "%s: batched max abs diff %g", name, w);
        free(lg);
    }
    rl_model_close(m);
    free(gg.logits);
}

/* Every folder of ../shared/fixtures (listed, not named here). */
static void test_fixtures(void) {
    char root[512];
    snprintf(root, sizeof root, "%s/fixtures", t_shared());
    char *names[256];
    int n = fixture_dirs(root, NULL, names, 256);
    if (n < 0) return;
    CHECK(n >= 30, "only %d fixtures under %s", n, root);
    const char *only = getenv("RL_DIST_ONLY"); /* one fixture (debugging) */
    for (int i = 0; i < n; i++) {
        if (!only || !strcmp(only, names[i])) check_fixture(names[i]);
        free(names[i]);
    }
}

/* Hybrid (recurrent) state across the ranks: prefill in sweeps of 5 (overlapping over the
 * ranks), decode, rewind with replay, rewind to 0, rewinds to a state checkpoint (replayed as
 * sweeps of their own, and inside the next sweep) — each equal to one full prefill. */
static void test_rewind_replay(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model_opts o = opts1(), f = opts1();
    o.max_batch = 5;
    rl_model *a = rl_model_open(dir, &o), *b = rl_model_open(dir, &f);
    CHECK(a && b, "open: %s", rl_last_error());
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a);
    int32_t seq[24];
    for (int i = 0; i < 24; i++) seq[i] = (int32_t)((i * 37 + 11) % V);
    float *la = malloc((size_t)V * 24 * sizeof(float)), *lb = malloc((size_t)V * 24 * sizeof(float));
    CHECK(rl_model_eval(b, seq, 24, lb, 1) == 0, "full: %s", rl_last_error());
    CHECK(rl_model_eval(a, seq, 17, la, 1) == 0, "chunked: %s", rl_last_error());
    double w = 0;
    for (size_t i = 0; i < (size_t)V * 17; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "chunked prefill differs by %g", w);
    for (int i = 17; i < 24; i++) CHECK(rl_model_eval(a, &seq[i], 1, la, 0) == 0, "decode");
    w = 0;
    for (int i = 0; i < V; i++) w = fmax(w, fabs(la[i] - lb[(size_t)23 * V + i]));
    CHECK(w < 1e-4, "decode differs by %g", w);
    CHECK(rl_model_rewind(a, 12) == 0 && rl_model_pos(a) == 12, "rewind");
    CHECK(rl_model_eval(a, &seq[12], 12, la, 1) == 0, "replay: %s", rl_last_error());
    w = 0;
    for (size_t i = 0; i < (size_t)V * 12; i++) w = fmax(w, fabs(la[i] - lb[(size_t)12 * V + i]));
    CHECK(w < 1e-4, "rewind replay differs by %g", w);
    CHECK(rl_model_rewind(a, 0) == 0, "rewind to 0");
    CHECK(rl_model_eval(a, seq, 3, la, 1) == 0, "restart: %s", rl_last_error());
    w = 0;
    for (size_t i = 0; i < (size_t)V * 3; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "rewind to 0 differs by %g", w);
    /* a state checkpoint on every rank: eval 3 + 6, rewind to 3 + 2, the rest of seq[5..24) */
    CHECK(rl_model_seq_checkpoint(a, 0) == 0, "checkpoint: %s", rl_last_error());
    int32_t junk[6] = {1, 2, 3, 4, 5, 6};
    CHECK(rl_model_eval(a, seq + 3, 2, NULL, 0) == 0 && rl_model_eval(a, junk, 6, NULL, 0) == 0, "draft: %s", rl_last_error());
    CHECK(rl_model_rewind(a, 5) == 0, "rewind after the checkpoint");
    CHECK(rl_model_eval(a, seq + 5, 19, la, 1) == 0, "after the checkpoint: %s", rl_last_error());
    w = 0;
    for (size_t i = 0; i < (size_t)V * 19; i++) w = fmax(w, fabs(la[i] - lb[(size_t)5 * V + i]));
    CHECK(w < 1e-4, "rewind to a checkpoint differs by %g", w);
    /* the kept tokens replayed inside the next sweep: checkpoint at 24, 3 drafts, keep 1, one more */
    CHECK(rl_model_seq_checkpoint(a, 0) == 0 && rl_model_eval(a, junk, 3, NULL, 0) == 0 && rl_model_rewind(a, 25) == 0, "draft 2");
    int32_t two[2] = {junk[0], 9};
    CHECK(rl_model_eval(a, &two[1], 1, la, 0) == 0 && rl_model_eval(b, two, 2, lb, 0) == 0, "after: %s", rl_last_error());
    w = 0;
    for (int i = 0; i < V; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "replay inside the sweep differs by %g", w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

/* Last-row logits of prefix + path (a chain on c, sequence 0 from empty). */
static void chain_logits(rl_model *c, const int32_t *prefix, int np, const int32_t *path, int n, float *out) {
    int32_t all[64];
    memcpy(all, prefix, (size_t)np * sizeof(int32_t));
    memcpy(all + np, path, (size_t)n * sizeof(int32_t));
    CHECK(rl_model_rewind(c, 0) == 0 && rl_model_eval(c, all, np + n, out, 0) == 0, "chain: %s", rl_last_error());
}

/* One case of trees through the pipeline: two sequences (prefixes of 5 and 4 tokens) evaluate
 * their trees in one sweep, each node's logits equal a chain of its path; then each commits a
 * path and feeds one token in a batched step, whose logits equal the chain of prefix, path and
 * token (every rank's caches as if the paths had been evaluated). */
typedef struct {
    const char *name;
    int32_t tok[2][6], par[2][6];
    int n[2];
    int32_t path[2][4];   /* the committed nodes */
    int k[2];
} tree_case;

static void check_trees(const tree_case *tc) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), tc->name);
    rl_model_opts o = opts1(), o2 = opts1();
    o2.n_seq = 2;
    rl_model *m = rl_model_open(dir, &o2), *c = rl_model_open(dir, &o);
    CHECK(m && c, "open: %s", rl_last_error());
    if (!m || !c) { rl_model_close(m); rl_model_close(c); return; }
    int V = rl_model_vocab(m);
    int32_t pre[2][5] = {{1, 17, 99, 7, 250 % V}, {1, 33, 8, 61, 0}};
    int np[2] = {5, 4};
    rl_batch_item bi[2] = {{0, pre[0], np[0]}, {1, pre[1], np[1]}};
    rl_tree_item ti[2] = {{0, tc->tok[0], tc->par[0], tc->n[0]}, {1, tc->tok[1], tc->par[1], tc->n[1]}};
    float *tl = malloc((size_t)(tc->n[0] + tc->n[1]) * V * sizeof(float)), *cl = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval_batch(m, bi, 2, NULL) == 0 && rl_model_eval_tree_batch(m, ti, 2, tl) == 0, "%s: trees: %s", tc->name,
          rl_last_error());
    double w = 0;
    for (int s = 0, row = 0; s < 2; s++)
        for (int i = 0; i < ti[s].n; i++, row++) { /* node i's path from its root, as a chain */
            int32_t rev[8], path[8], n = 0;
            for (int j = i; j >= 0; j = ti[s].parent[j]) rev[n++] = ti[s].tokens[j];
            for (int j = 0; j < n; j++) path[j] = rev[n - 1 - j];
            chain_logits(c, pre[s], np[s], path, n, cl);
            for (int v = 0; v < V; v++) w = fmax(w, fabs(tl[(size_t)row * V + v] - cl[v]));
        }
    CHECK(w < 1e-4, "%s: tree nodes differ from chains by %g", tc->name, w);
    CHECK(rl_model_seq_tree_commit(m, 0, tc->path[0], tc->k[0]) == 0 && rl_model_seq_tree_commit(m, 1, tc->path[1], tc->k[1]) == 0,
          "%s: commit: %s", tc->name, rl_last_error());
    CHECK(rl_model_seq_pos(m, 0) == np[0] + tc->k[0] && rl_model_seq_pos(m, 1) == np[1] + tc->k[1], "%s: positions after commit",
          tc->name);
    int32_t nx[2] = {42, 77};
    rl_batch_item nb[2] = {{0, &nx[0], 1}, {1, &nx[1], 1}};
    CHECK(rl_model_eval_batch(m, nb, 2, tl) == 0, "%s: after commit: %s", tc->name, rl_last_error());
    double w2 = 0;
    for (int s = 0; s < 2; s++) {
        int32_t path[8];
        for (int j = 0; j < tc->k[s]; j++) path[j] = tc->tok[s][tc->path[s][j]];
        path[tc->k[s]] = nx[s];
        chain_logits(c, pre[s], np[s], path, tc->k[s] + 1, cl);
        for (int v = 0; v < V; v++) w2 = fmax(w2, fabs(tl[(size_t)s * V + v] - cl[v]));
    }
    CHECK(w2 < 1e-4, "%s: committed paths differ from the chains by %g", tc->name, w2);
    fprintf(stderr, "  %s: %s through %d ranks: max diff %.2g, after commits %.2g\n", tc->name,
            rl_model_tree_ok(m) ? "trees" : "chains", rl_dist_size(), w, w2);
    free(tl); free(cl);
    rl_model_close(m); rl_model_close(c);
}

/* Token trees through the pipeline: a dense model, one with sliding-window layers and GLM-5's
 * DSA (its indexer keys committed on every rank); chains of the models without token trees
 * (recurrent layers: Qwen3.5 and its MoE form; sequence 0 keeps 2 of its 4 nodes, so every rank
 * rewinds to its checkpoint, sequence 1 all 3). */
static void test_tree(void) {
    static const tree_case TREE = {NULL, {{5, 9, 11, 13, 21, 30}, {40, 41, 42, 43}}, {{-1, 0, 0, 1, 2, 3}, {-1, -1, 0, 2}},
                                   {6, 4}, {{0, 1, 3}, {1}}, {3, 1}}; /* sequence 1: the second root alone */
    static const tree_case CHAIN = {NULL, {{5, 9, 11, 13}, {40, 41, 42}}, {{-1, 0, 1, 2}, {-1, 0, 1}}, {4, 3},
                                    {{0, 1}, {0, 1, 2}}, {2, 3}};
    const char *names[5] = {"llama", "gemma3", "glm_moe_dsa", "qwen3_5", "qwen3_5_moe"};
    for (int f = 0; f < 5; f++) {
        tree_case tc = f < 3 ? TREE : CHAIN;
        tc.name = names[f];
        check_trees(&tc);
    }
}

/* Sliding-window ring caches across the ranks: sequence 1 of a batch rewound below what its
 * rings still hold (a replay from zero on every rank, whichever ranks' rings lost rows), then a
 * batched step: each sequence equals its chain. */
static void test_ring_rewind(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/gemma2", t_shared());
    rl_model_opts o = opts1(), c1 = opts1();
    o.n_seq = 2; o.max_batch = 8; c1.max_batch = 8;
    rl_model *m = rl_model_open(dir, &o), *c = rl_model_open(dir, &c1);
    CHECK(m && c, "open: %s", rl_last_error());
    if (!m || !c) { rl_model_close(m); rl_model_close(c); return; }
    int V = rl_model_vocab(m);
    int32_t a[32], b[32];
    for (int i = 0; i < 32; i++) { a[i] = (int32_t)((i * 37 + 5) % V); b[i] = (int32_t)((i * 53 + 11) % V); }
    rl_batch_item it[2] = {{0, a, 30}, {1, b, 30}};
    CHECK(rl_model_eval_batch(m, it, 2, NULL) == 0, "prefixes: %s", rl_last_error());
    CHECK(rl_model_seq_rewind(m, 1, 5) == 0, "rewind: %s", rl_last_error());
    int32_t nx[2] = {7, 9};
    rl_batch_item st[2] = {{0, &nx[0], 1}, {1, &nx[1], 1}};
    float *lb = malloc((size_t)2 * V * sizeof(float)), *l1 = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval_batch(m, st, 2, lb) == 0, "step: %s", rl_last_error());
    double w = 0;
    for (int s = 0; s < 2; s++) {
        int32_t ch[32];
        int n = s ? 5 : 30;
        memcpy(ch, s ? b : a, (size_t)n * sizeof(int32_t));
        ch[n] = nx[s];
        CHECK(rl_model_rewind(c, 0) == 0 && rl_model_eval(c, ch, n + 1, l1, 0) == 0, "chain: %s", rl_last_error());
        for (int i = 0; i < V; i++) w = fmax(w, fabs(l1[i] - lb[(size_t)s * V + i]));
    }
    CHECK(w < 1e-4, "ring rewind through the pipeline differs from the chains by %g", w);
    free(lb); free(l1);
    rl_model_close(m); rl_model_close(c);
}

/* --pp-split puts the layers where it says, with the same logits; bad splits and errors on
 * the other ranks come back as errors, and the next model works again. */
static void test_split_and_errors(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/gemma3", t_shared()); /* 6 layers */
    int n = rl_dist_size();
    rl_model_opts o = opts1();
    rl_model *a = rl_model_open(dir, &o);
    CHECK(a != NULL, "open: %s", rl_last_error());
    char spec[64] = "";
    for (int r = 0; r < n; r++) snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%d", r ? "," : "", r == n - 1 ? 6 - (n - 1) : 1);
    CHECK(rl_dist_set_split(spec) == 0, "set split");
    rl_model *b = rl_model_open(dir, &o);
    CHECK(b != NULL && b->l1 == 1, "split %s: %s", spec, b ? "rank 0 layers" : rl_last_error());
    if (a && b) {
        int V = rl_model_vocab(a);
        int32_t seq[9] = {1, 5, 9, 13, 17, 21, 25, 29, 33};
        float *la = malloc((size_t)V * 9 * sizeof(float)), *lb = malloc((size_t)V * 9 * sizeof(float));
        CHECK(rl_model_eval(a, seq, 9, la, 1) == 0 && rl_model_eval(b, seq, 9, lb, 1) == 0, "eval: %s", rl_last_error());
        double w = 0;
        for (size_t i = 0; i < (size_t)V * 9; i++) w = fmax(w, fabs(la[i] - lb[i]));
        CHECK(w < 1e-5, "split %s changes the logits by %g", spec, w);
        free(la); free(lb);
    }
    rl_model_close(b);
    snprintf(spec, sizeof spec, "%s", n == 2 ? "1,2" : "1,1"); /* sums to fewer than 6 layers */
    rl_dist_set_split(spec);
    CHECK(rl_model_open(dir, &o) == NULL && strstr(rl_last_error(), "--pp-split"), "bad split: %s", rl_last_error());
    rl_dist_set_split(NULL);
    rl_model_close(a);
    /* a budget no rank can plan fails everywhere; the message names a rank */
    rl_model_opts big = opts1();
    big.ctx = 1 << 30; /* ~100 GB of KV cache and scratch per rank (1 << 28 fit on a 24 GB host split in two) */
    rl_model *c = rl_model_open(dir, &big);
    CHECK(c == NULL && strstr(rl_last_error(), "rank "), "open error: %s", c ? "opened" : rl_last_error());
    rl_model_close(c);
    rl_model *d = rl_model_open(dir, &o);
    CHECK(d != NULL, "open after a failed open: %s", rl_last_error());
    if (d) {
        int32_t bad = 1 << 30;
        CHECK(rl_model_eval(d, &bad, 1, NULL, 0) == -1, "bad token");
        int32_t t = 3;
        float *lg = malloc((size_t)rl_model_vocab(d) * sizeof(float));
        CHECK(rl_model_eval(d, &t, 1, lg, 0) == 0, "eval after an error: %s", rl_last_error());
        free(lg);
    }
    rl_model_close(d);
}

int main(int argc, char **argv) {
    if (!rl_dist_built() || rl_dist_init(&argc, &argv) || rl_dist_size() < 2) {
        fprintf(stderr, "skip: %s\n", rl_dist_built() ? "not under mpirun with 2 or more ranks" : "built without MPI=1");
        rl_dist_finalize();
        printf("RESULT 0 0 1\n");
        return 0;
    }
    if (rl_dist_rank() > 0) return rl_dist_worker();
    RUN_SHARED(test_fixtures);
    if (!getenv("RL_DIST_ONLY")) {
        RUN_SHARED(test_rewind_replay);
        RUN_SHARED(test_tree);
        RUN_SHARED(test_ring_rewind);
        RUN_SHARED(test_split_and_errors);
    }
    rl_dist_finalize();
    TEST_END();
}
