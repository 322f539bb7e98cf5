/* Pre-quantized HF checkpoints (../shared/fixtures-quant: FP8 block, GPTQ, AWQ, bitsandbytes
 * NF4) against their goldens (the exactly dequantised model in f32): every prefill and decode
 * logits row within 1e-3 absolute and identical greedy ids, on the cpu and cpu-staged backends.
 * The fixtures are discovered by listing the folder; one without a golden fails. */
#include "test.h"
#include "golden_cmp.h"
#include "rabbitllm.h"
#include "util/json.h"
#include "util/fileio.h"
#include <math.h>

static const char *BACKENDS[] = {"cpu", "cpu-staged", NULL};

static int ids_of(const cJSON *g, const char *key, int32_t *out, int cap) {
    const cJSON *a = cJSON_GetObjectItem(g, key), *v;
    int n = 0;
    cJSON_ArrayForEach(v, a) if (n < cap) out[n++] = (int32_t)v->valuedouble;
    return n;
}

static void check_fixture(const char *name, const char *backend) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/fixtures-quant/%s", t_shared(), name);
    snprintf(path, sizeof path, "%s/golden.json", dir);
    cJSON *g = rl_json_load(path);
    CHECK(g != NULL, "%s: %s", name, rl_last_error());
    if (!g) return;
    int32_t prompt[512], greedy[512];
    int P = ids_of(g, "prompt_ids", prompt, 512), G = ids_of(g, "greedy_ids", greedy, 512);
    int V = (int)cJSON_GetObjectItem(g, "n_vocab")->valuedouble;
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    size_t len;
    float *gold = (float *)rl_read_file(path, &len);
    CHECK(gold != NULL, "%s: %s", name, rl_last_error());
    int rows = gold ? (int)(len / sizeof(float) / (size_t)V) : 0;
    CHECK(rows >= P + G, "%s: golden has %d rows, expected %d", name, rows, P + G);
    rl_model_opts mo = {.backend = backend};
    rl_model *m = rl_model_open(dir, &mo);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (!m || !gold) { cJSON_Delete(g); free(gold); rl_model_close(m); return; }
    CHECK(rl_model_vocab(m) == V, "%s: vocab", name);
    double worst = golden_compare(m, name, prompt, P, greedy, G, gold, rows, V);
    fprintf(stderr, "  %s [%s]: max abs diff %.2g over %d rows\n", name, backend, worst, rows);
    free(gold); cJSON_Delete(g);
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
    for (int i = 0; i < n; i++) {
        for (int b = 0; BACKENDS[b] && (!only || !strcmp(only, names[i])); b++) check_fixture(names[i], BACKENDS[b]);
        free(names[i]);
    }
}

int main(void) {
    RUN_SHARED(test_quant_fixtures);
    TEST_END();
}
