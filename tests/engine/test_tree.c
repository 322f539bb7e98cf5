/* Token trees (rl_model_eval_tree / rl_model_tree_commit) on stories260K and the llama fixture,
 * on the cpu and cpu-staged backends (and vulkan where it is built in and a device opens, release
 * build only: lavapipe is slow under the sanitizers): every node's logits equal a plain causal run of its path
 * (prefix + ancestors + itself), and committing a path leaves the cache as if the path had been
 * evaluated normally; bad trees and commits are errors; models without tree support say so. */
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

/* Logits of the last token of prefix + path in a fresh model. */
static int chain(const char *dir, const char *be, const int32_t *prefix, int np, const int32_t *path, int n, float *out) {
    rl_model_opts o = {.backend = be};
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

static void test_tree(void) {
    const char *be[] = {"cpu", "cpu-staged", "vulkan"};
    int nb = 2;
#ifdef RL_VULKAN_BUILD
    if (!getenv("RL_SANITIZED")) {
        rl_backend *vk = rl_backend_open("vulkan", 1);
        if (vk) nb = 3;
        else fprintf(stderr, "  vulkan skipped: %s\n", rl_last_error());
        rl_backend_close(vk);
    }
#endif
    for (int b = 0; b < nb; b++) {
        check_model("stories260K", be[b]);
        check_model("llama", be[b]);
        check_model("qwen3_moe", be[b]);
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen3_5", t_shared());
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m != NULL, "open: %s", rl_last_error());
    if (m) {
        int32_t t = 1, p = -1;
        CHECK(!rl_model_tree_ok(m) && rl_model_eval_tree(m, &t, &p, 1, NULL) == -1 && strstr(rl_last_error(), "chain"),
              "recurrent layers: trees refused clearly: %s", rl_last_error());
        rl_model_close(m);
    }
}

int main(void) {
    RUN_SHARED(test_tree);
    TEST_END();
}
