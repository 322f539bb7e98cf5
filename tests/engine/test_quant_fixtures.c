/* Pre-quantized HF checkpoints (../shared/fixtures-quant: FP8 block, GPTQ, AWQ, bitsandbytes
 * NF4) against their goldens (the exactly dequantised model in f32): every prefill and decode
 * logits row within 1e-3 absolute and identical greedy ids, on the cpu and cpu-staged backends,
 * and on vulkan and cuda where built in and a device opens (release build only: RL_SANITIZED unset).
 * The fixtures are discovered by listing the folder; one without a golden fails. */
#include "test.h"
#include "golden_cmp.h"
#include "rabbitllm.h"
#include "util/json.h"
#include "util/fileio.h"
#include <math.h>

static const char *BACKENDS[] = {"cpu", "cpu-staged", NULL, NULL, NULL};

static void check_fixture(const char *name, const char *backend) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures-quant/%s", t_shared(), name);
    fixture_golden gg;
    if (golden_load(dir, name, &gg)) return;
    CHECK(gg.rows >= gg.P + gg.G, "%s: golden has %d rows, expected %d", name, gg.rows, gg.P + gg.G);
    rl_model_opts mo = {.backend = backend};
    rl_model *m = rl_model_open(dir, &mo);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m) { free(gg.logits); return; }
    CHECK(rl_model_vocab(m) == gg.V, "%s: vocab", name);
    double worst = golden_compare(m, name, gg.prompt, gg.P, gg.greedy, gg.G, gg.logits, gg.rows, gg.V);
    fprintf(stderr, "  %s [%s]: max abs diff %.2g over %d rows\n", name, backend, worst, gg.rows);
    free(gg.logits);
    rl_model_close(m);
}

/* Every folder of ../shared/fixtures-quant (listed, not named here), on each backend. */
static void test_quant_fixtures(void) {
    char root[512];
    snprintf(root, sizeof root, "%s/fixtures-quant", t_shared());
    char *names[256];
    int n = fixture_dirs(root, NULL, names, 256);
    if (n < 0) return;
    CHECK(n >= 8, "only %d fixtures under %s", n, root);
    const char *only = getenv("RL_QFIX"); /* debugging: one fixture */
    gpu_backends(BACKENDS, 2);
    for (int i = 0; i < n; i++) {
        for (int b = 0; BACKENDS[b] && (!only || !strcmp(only, names[i])); b++) check_fixture(names[i], BACKENDS[b]);
        free(names[i]);
    }
}

int main(void) {
    RUN_SHARED(test_quant_fixtures);
    TEST_END();
}
