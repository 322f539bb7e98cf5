/* Token trees (rl_model_eval_tree / rl_model_tree_commit) on stories260K and the llama fixture,
 * on the cpu and cpu-staged backends (and vulkan where it is built in and a device opens, release
 * build only: lavapipe is slow under the sanitizers): every node's logits equal a plain causal run of its path
 * (prefix + ancestors + itself), and committing a path leaves the cache as if the path had been
 * evaluated normally; bad trees and commits are errors; models without tree support say so.
 * Sliding-window models (gemma2, gemma3: window 8; ring caches with a small --batch, linear
 * caches otherwise): a long prefix and a path deeper than the window, so both the prefix and
 * the ancestors are cut by the window; the same checks, then a rewind after the tree.
 * Batched sequences (rl_model_eval_tree_batch): three sequences with their own prefixes and
 * trees in one sweep, each node vs its chain; commits per sequence, then a batched eval.
 * MLA models (DeepSeek V2 / V3) on their latent cache and, with a quantized kv_b, on the
 * expanded cache; GLM-5's DSA indexer (its top-k selection over the prefix and the node's
 * ancestors: the deep tree of the sliding-window check, whose paths pass the top-k); Qwen3.5's
 * recurrent layers refuse branching trees. */
#include "test.h"
#include "rabbitllm.h"
#include "backend/backend.h"
#include <stdlib.h>
#include <math.h>
#include <string.h>

static double max_diff(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

static int g_batch; /* max_batch of the models opened (0 = default); small: ring caches */

/* Logits of the last token of prefix + path in a fresh model. */
static int chain(const char *dir, const char *be, const int32_t *prefix, int np, const int32_t *path, int n, float *out) {
    rl_model_opts o = {.backend = be, .max_batch = g_batch};
    rl_model *m = rl_model_open(dir, &o);
    if (!m) return -1;
    int32_t all[64];
    memcpy(all, prefix, (size_t)np * sizeof *all);
    memcpy(all + np, path, (size_t)n * sizeof *all);
    int rc = rl_model_eval(m, all, np + n, out, 0);
    rl_model_close(m);
    return rc;
}

static void check_model(const char *name, const char *be) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    rl_model_opts o = {.backend = be};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m) return;
    CHECK(rl_model_tree_ok(m), "%s: trees supported", name);
    int V = rl_model_vocab(m);
    int32_t prefix[5] = {1, 17 % V, 99 % V, 7, 250 % V};
    /*   0:a -> 1:b -> 3:d -> 5:f
     *        \-> 2:c -> 4:e
     *   6:g (a second root) */
    int32_t tok[7] = {11 % V, 42 % V, 43 % V, 5 % V, 6 % V, 77 % V, 12 % V};
    int32_t par[7] = {-1, 0, 0, 1, 2, 3, -1};
    float *lg = malloc((size_t)7 * V * sizeof(float)), *ref = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval(m, prefix, 5, NULL, 0) == 0, "prefix: %s", rl_last_error());
    CHECK(rl_model_eval_tree(m, tok, par, 7, lg) == 0, "%s: eval_tree: %s", name, rl_last_error());
    CHECK(rl_model_pos(m) == 5, "a tree keeps nothing before its commit");
    double worst = 0;
    for (int i = 0; i < 7; i++) {
        int32_t path[8];
        int d = 0;
        for (int u = i; u >= 0; u = par[u]) path[d++] = tok[u];
        for (int x = 0; x < d / 2; x++) { int32_t t = path[x]; path[x] = path[d - 1 - x]; path[d - 1 - x] = t; }
        CHECK(chain(dir, be, prefix, 5, path, d, ref) == 0, "chain: %s", rl_last_error());
        worst = fmax(worst, max_diff(lg + (size_t)i * V, ref, V));
    }
    CHECK(worst <= 1e-4, "%s [%s]: tree node logits vs their chains: max abs diff %g", name, be, worst);
    /* commit a -> b -> d -> f, then one more token: as if a, b, d, f had been fed */
    int32_t bad[2] = {0, 3}, nodes[4] = {0, 1, 3, 5}; /* d is b's child, not a's */
    CHECK(rl_model_tree_commit(m, bad, 2) == -1, "a path that is not a chain of the tree is refused");
    CHECK(rl_model_tree_commit(m, nodes, 4) == 0 && rl_model_pos(m) == 9, "commit: %s", rl_last_error());
    int32_t next = 33 % V, path[5] = {tok[0], tok[1], tok[3], tok[5], next};
    CHECK(rl_model_eval(m, &next, 1, lg, 0) == 0, "after commit: %s", rl_last_error());
    CHECK(chain(dir, be, prefix, 5, path, 5, ref) == 0, "chain: %s", rl_last_error());
    double w = max_diff(lg, ref, V);
    CHECK(w <= 1e-4, "%s [%s]: after a commit: max abs diff %g", name, be, w);
    CHECK(rl_model_tree_commit(m, nodes, 1) == -1, "a second commit of the same tree is refused");
    int32_t cyc[2] = {3, 3}, pc[2] = {-1, 0};
    pc[0] = 1;
    CHECK(rl_model_eval_tree(m, cyc, pc, 2, NULL) == -1, "a parent that is not an earlier node is refused");
    fprintf(stderr, "  %s [%s]: tree vs chains %.2g, after commit %.2g\n", name, be, worst, w);
    free(lg); free(ref);
    rl_model_close(m);
}

/* A sliding-window model: prefix of 20, a chain of 12 nodes (deeper than the window of 8) with
 * a branch at depth 3 and a second root; every node vs its chain, a commit of the chain's
 * first 10 nodes then one token, and a rewind of 3 after another tree. (Also GLM-5's DSA: its
 * top-k of 8 binds along every path.) */
static void check_sliding(const char *name, const char *be, int batch) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    g_batch = batch;
    rl_model_opts o = {.backend = be, .max_batch = batch};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m) { g_batch = 0; return; }
    CHECK(rl_model_tree_ok(m), "%s: trees supported (sliding window)", name);
    int V = rl_model_vocab(m);
    enum { NP = 20, NT = 15 };
    int32_t prefix[NP], tok[NT], par[NT];
    for (int i = 0; i < NP; i++) prefix[i] = (int32_t)((i * 37 + 5) % V);
    for (int i = 0; i < 12; i++) { tok[i] = (int32_t)((i * 53 + 11) % V); par[i] = i - 1; }
    tok[12] = 3 % V; par[12] = 2;   /* a branch below depth 2 */
    tok[13] = 9 % V; par[13] = 12;
    tok[14] = 21 % V; par[14] = -1; /* a second root */
    float *lg = malloc((size_t)NT * V * sizeof(float)), *ref = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval(m, prefix, NP, NULL, 0) == 0, "prefix: %s", rl_last_error());
    CHECK(rl_model_eval_tree(m, tok, par, NT, lg) == 0, "%s: eval_tree: %s", name, rl_last_error());
    double worst = 0;
    for (int i = 0; i < NT; i++) {
        int32_t path[NT];
        int d = 0;
        for (int u = i; u >= 0; u = par[u]) path[d++] = tok[u];
        for (int x = 0; x < d / 2; x++) { int32_t t = path[x]; path[x] = path[d - 1 - x]; path[d - 1 - x] = t; }
        CHECK(chain(dir, be, prefix, NP, path, d, ref) == 0, "chain: %s", rl_last_error());
        worst = fmax(worst, max_diff(lg + (size_t)i * V, ref, V));
    }
    CHECK(worst <= 1e-4, "%s [%s, batch %d]: tree node logits vs their chains: max abs diff %g", name, be, batch, worst);
    int32_t nodes[10], path[NP + 11];
    for (int i = 0; i < 10; i++) nodes[i] = i;
    CHECK(rl_model_tree_commit(m, nodes, 10) == 0 && rl_model_pos(m) == NP + 10, "commit: %s", rl_last_error());
    int32_t next = 33 % V;
    CHECK(rl_model_eval(m, &next, 1, lg, 0) == 0, "after commit: %s", rl_last_error());
    memcpy(path, tok, 10 * sizeof *path);
    path[10] = next;
    CHECK(chain(dir, be, prefix, NP, path, 11, ref) == 0, "chain: %s", rl_last_error());
    double w = max_diff(lg, ref, V);
    CHECK(w <= 1e-4, "%s [%s, batch %d]: after a commit: max abs diff %g", name, be, batch, w);
    /* another tree, nothing committed, then a rewind of 3 and a token: as the chain says */
    CHECK(rl_model_eval_tree(m, tok, par, NT, NULL) == 0, "second tree: %s", rl_last_error());
    CHECK(rl_model_rewind(m, NP + 8) == 0, "rewind: %s", rl_last_error());
    CHECK(rl_model_eval(m, &next, 1, lg, 0) == 0, "after rewind: %s", rl_last_error());
    memcpy(path, tok, 8 * sizeof *path);
    path[8] = next;
    CHECK(chain(dir, be, prefix, NP, path, 9, ref) == 0, "chain: %s", rl_last_error());
    double w2 = max_diff(lg, ref, V);
    CHECK(w2 <= 1e-4, "%s [%s, batch %d]: a rewind after a tree: max abs diff %g", name, be, batch, w2);
    fprintf(stderr, "  %s [%s, batch %d]: tree vs chains %.2g, after commit %.2g, after rewind %.2g\n", name, be, batch,
            worst, w, w2);
    free(lg); free(ref);
    rl_model_close(m);
    g_batch = 0;
}

/* The backends to check: cpu, cpu-staged, and vulkan where it is built in and a device opens
 * (not under the sanitizers, where lavapipe is slow). */
static const char *const BE[] = {"cpu", "cpu-staged", "vulkan"};
static int n_backends(void) {
    static int n = 0;
    if (n) return n;
    n = 2;
#ifdef RL_VULKAN_BUILD
    if (!getenv("RL_SANITIZED")) {
        rl_backend *vk = rl_backend_open("vulkan", 1);
        if (vk) n = 3;
        else fprintf(stderr, "  vulkan skipped: %s\n", rl_last_error());
        rl_backend_close(vk);
    }
#endif
    return n;
}

static void test_sliding(void) {
    const char *const *be = BE;
    for (int b = 0; b < n_backends(); b++) {
        check_sliding("gemma2", be[b], 16);  /* ring caches of 8 + 16 - 1 rows */
        check_sliding("gemma2", be[b], 0);
        check_sliding("gemma3", be[b], 16);
        check_sliding("glm_moe_dsa", be[b], 16); /* DSA: the indexer's top-k over prefix and ancestors */
        check_sliding("glm_moe_dsa", be[b], 0);
    }
}

/* Three sequences of a model opened with n_seq 3: prefixes of 6, 9 and 4 tokens, trees of 7,
 * 5 (a chain) and 6 nodes in one sweep; seq_tree_commit of a path each, one more token each. */
static void check_batch(const char *name, const char *be, int batch) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    g_batch = batch;
    rl_model_opts o = {.backend = be, .max_batch = batch, .n_seq = 3};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m) { g_batch = 0; return; }
    int V = rl_model_vocab(m);
    int np[3] = {6, 9, 4}, nt[3] = {7, 5, 6};
    int32_t pre[3][9], tok[3][7], par[3][7] = {{-1, 0, 0, 1, 2, 3, -1}, {-1, 0, 1, 2, 3}, {-1, 0, 1, 1, 3, -1}};
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < np[s]; i++) pre[s][i] = (int32_t)((i * 31 + s * 7 + 3) % V);
        for (int i = 0; i < nt[s]; i++) tok[s][i] = (int32_t)((i * 41 + s * 13 + 9) % V);
    }
    rl_batch_item bi[3];
    for (int s = 0; s < 3; s++) bi[s] = (rl_batch_item){s, pre[s], np[s]};
    CHECK(rl_model_eval_batch(m, bi, 3, NULL) == 0, "prefixes: %s", rl_last_error());
    /* items in another order than the sequences: 2, 0, 1 */
    int order[3] = {2, 0, 1};
    rl_tree_item ti[3];
    for (int k = 0; k < 3; k++) ti[k] = (rl_tree_item){order[k], tok[order[k]], par[order[k]], nt[order[k]]};
    float *lg = malloc((size_t)18 * V * sizeof(float)), *ref = malloc((size_t)V * sizeof(float));
    CHECK(rl_model_eval_tree_batch(m, ti, 3, lg) == 0, "%s: eval_tree_batch: %s", name, rl_last_error());
    double worst = 0;
    for (int k = 0, row = 0; k < 3; row += nt[order[k]], k++) {
        int s = order[k];
        CHECK(rl_model_seq_pos(m, s) == np[s], "a tree keeps nothing before its commit");
        for (int i = 0; i < nt[s]; i++) {
            int32_t path[8];
            int d = 0;
            for (int u = i; u >= 0; u = par[s][u]) path[d++] = tok[s][u];
            for (int x = 0; x < d / 2; x++) { int32_t t = path[x]; path[x] = path[d - 1 - x]; path[d - 1 - x] = t; }
            CHECK(chain(dir, be, pre[s], np[s], path, d, ref) == 0, "chain: %s", rl_last_error());
            worst = fmax(worst, max_diff(lg + (size_t)(row + i) * V, ref, V));
        }
    }
    CHECK(worst <= 1e-4, "%s [%s, batch %d]: batched tree nodes vs their chains: max abs diff %g", name, be, batch, worst);
    /* commit: seq 0 a -> b -> d, seq 1 the whole chain, seq 2 nodes 0 -> 1 -> 3 -> 4 */
    int32_t c0[3] = {0, 1, 3}, c1[5] = {0, 1, 2, 3, 4}, c2[4] = {0, 1, 3, 4}, bad[2] = {0, 2};
    CHECK(rl_model_seq_tree_commit(m, 2, bad, 2) == -1, "a path that is not a chain of the tree is refused");
    CHECK(rl_model_seq_tree_commit(m, 0, c0, 3) == 0 && rl_model_seq_tree_commit(m, 1, c1, 5) == 0 &&
          rl_model_seq_tree_commit(m, 2, c2, 4) == 0, "commits: %s", rl_last_error());
    CHECK(rl_model_seq_pos(m, 0) == np[0] + 3 && rl_model_seq_pos(m, 1) == np[1] + 5 && rl_model_seq_pos(m, 2) == np[2] + 4,
          "positions after the commits");
    int32_t nx[3] = {33 % V, 34 % V, 35 % V};
    for (int s = 0; s < 3; s++) bi[s] = (rl_batch_item){s, &nx[s], 1};
    CHECK(rl_model_eval_batch(m, bi, 3, lg) == 0, "after the commits: %s", rl_last_error());
    const int32_t *cs[3] = {c0, c1, c2};
    int ck[3] = {3, 5, 4};
    double w = 0;
    for (int s = 0; s < 3; s++) {
        int32_t path[8];
        for (int i = 0; i < ck[s]; i++) path[i] = tok[s][cs[s][i]];
        path[ck[s]] = nx[s];
        CHECK(chain(dir, be, pre[s], np[s], path, ck[s] + 1, ref) == 0, "chain: %s", rl_last_error());
        w = fmax(w, max_diff(lg + (size_t)s * V, ref, V));
    }
    CHECK(w <= 1e-4, "%s [%s, batch %d]: batched commits: max abs diff %g", name, be, batch, w);
    /* bad batches */
    rl_tree_item twice[2] = {{1, tok[1], par[1], 2}, {1, tok[1], par[1], 2}}, out_of_range = {3, tok[0], par[0], 1};
    CHECK(rl_model_eval_tree_batch(m, twice, 2, NULL) == -1 && strstr(rl_last_error(), "twice"), "a sequence twice: %s", rl_last_error());
    CHECK(rl_model_eval_tree_batch(m, &out_of_range, 1, NULL) == -1 && strstr(rl_last_error(), "out of range"), "sequence 3: %s", rl_last_error());
    fprintf(stderr, "  %s [%s, batch %d]: batched trees vs chains %.2g, after commits %.2g\n", name, be, batch, worst, w);
    free(lg); free(ref);
    rl_model_close(m);
    g_batch = 0;
}

static void test_batch(void) {
    const char *const *be = BE;
    for (int b = 0; b < n_backends(); b++) {
        check_batch("llama", be[b], 0);
        check_batch("gemma2", be[b], 32); /* ring caches */
        check_batch("deepseek_v2", be[b], 0); /* MLA: a latent cache per sequence */
        check_batch("../fixtures-quant/deepseek_v3_fp8", be[b], 0); /* MLA: expanded caches per sequence */
        check_batch("glm_moe_dsa", be[b], 0); /* DSA: indexer keys per sequence */
    }
}

/* A model without token trees says so, and eval_tree refuses a branching tree with a message
 * naming word (chains it takes: tests/engine/test_chains.c). */
static void check_refused(const char *name, const char *word) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m != NULL, "open: %s", rl_last_error());
    if (!m) return;
    int32_t t[3] = {1, 2, 3}, p[3] = {-1, 0, 0};
    CHECK(!rl_model_tree_ok(m) && rl_model_eval_tree(m, t, p, 3, NULL) == -1 && strstr(rl_last_error(), word),
          "%s: trees refused clearly: %s", name, rl_last_error());
    rl_model_close(m);
}

static void test_tree(void) {
    const char *const *be = BE;
    for (int b = 0; b < n_backends(); b++) {
        check_model("stories260K", be[b]);
        check_model("llama", be[b]);
        check_model("qwen3_moe", be[b]);
        check_model("deepseek_v2", be[b]); /* MLA, latent cache */
        check_model("deepseek_v3", be[b]); /* MLA with q LoRA */
        check_model("../fixtures-quant/deepseek_v3_fp8", be[b]); /* MLA, quantized kv_b: the expanded f32 cache */
        check_model("glm_moe_dsa", be[b]); /* MLA with the DSA indexer */
    }
    check_refused("qwen3_5", "chain");   /* recurrent layers */
}

int main(void) {
    RUN_SHARED(test_tree);
    RUN_SHARED(test_sliding);
    RUN_SHARED(test_batch);
    TEST_END();
}
