/* What the fixture tests share (tests/engine/test_fixtures.c, test_quant_fixtures.c,
 * test_gguf_fixtures.c, tests/dist/test_dist_fixtures.c): the folders of a fixture root, listed
 * (never named in a test); a folder's golden (golden.json and logits.f32) loaded; and the comparison of a model against a golden of logits rows (prompt rows, then one per fed
 * greedy token): prefill of the prompt with every row compared, then the engine's own greedy choice
 * at each step must equal the golden id while the golden's ids are fed back and each decode row
 * compared. Every row within 1e-3 absolute; greedy ids identical. Returns the largest difference.
 * Also the GPU backends a fixture test runs besides the cpu (gpu_backends). */
#ifndef RL_TEST_GOLDEN_CMP_H
#define RL_TEST_GOLDEN_CMP_H
#include "test.h"
#include "rabbitllm.h"
#include "backend/backend.h"
#include "util/fileio.h"
#include "util/json.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Appends to list (from index n; room for two more) the GPU backends, vulkan then cuda, that are
 * built in and open a device, in the release build only (RL_SANITIZED unset: lavapipe is slow
 * under the sanitizers); one that does not open is printed with the reason. Returns the count. */
static inline int gpu_backends(const char **list, int n) {
    static const char *const G[2] = {"vulkan", "cuda"};
    for (int g = 0; g < 2 && !getenv("RL_SANITIZED"); g++) {
        rl_backend *be = rl_backend_open(G[g], 1);
        if (be) list[n++] = G[g];
        else fprintf(stderr, "  %s skipped: %s\n", G[g], rl_last_error());
        rl_backend_close(be);
    }
    return n;
}

static inline int fixture_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sub-folders of root (those holding the file `need`, when not NULL), sorted, as strdup'ed
 * names in names[0..max); returns how many, or -1 (a failed check) when root cannot be listed. */
static inline int fixture_dirs(const char *root, const char *need, char **names, int max) {
    DIR *dp = opendir(root);
    CHECK(dp != NULL, "cannot list %s", root);
    if (!dp) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < max) {
        char p[1024];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s%s%s", root, e->d_name, need ? "/" : "", need ? need : "");
        if (e->d_name[0] != '.' && !stat(p, &sb) && (need ? S_ISREG(sb.st_mode) : S_ISDIR(sb.st_mode))) names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, fixture_name_cmp);
    return n;
}

/* A fixture's golden: golden.json's prompt and greedy ids and vocabulary size, logits.f32's rows
 * (prompt rows, then one per greedy token fed back). */
typedef struct {
    int32_t prompt[512], greedy[512];
    int P, G, V, rows;
    float *logits; /* free() it */
} fixture_golden;

static inline int golden_ids(const cJSON *g, const char *key, int32_t *out, int cap) {
    const cJSON *a = cJSON_GetObjectItem(g, key), *v;
    int n = 0;
    cJSON_ArrayForEach(v, a) if (n < cap) out[n++] = (int32_t)v->valuedouble;
    return n;
}

/* Loads dir's golden; a missing or empty one is a failed check naming `name`. 0, or -1 (nothing
 * left to free). */
static inline int golden_load(const char *dir, const char *name, fixture_golden *gg) {
    char path[1100];
    snprintf(path, sizeof path, "%s/golden.json", dir);
    gg->logits = NULL;
    cJSON *g = rl_json_load(path);
    CHECK(g != NULL, "%s: golden missing: %s", name, rl_last_error());
    if (!g) return -1;
    gg->P = golden_ids(g, "prompt_ids", gg->prompt, 512);
    gg->G = golden_ids(g, "greedy_ids", gg->greedy, 512);
    const cJSON *nv = cJSON_GetObjectItem(g, "n_vocab");
    gg->V = cJSON_IsNumber(nv) ? (int)nv->valuedouble : 0;
    cJSON_Delete(g);
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    size_t len = 0;
    gg->logits = (float *)rl_read_file(path, &len);
    CHECK(gg->logits && gg->V > 0 && gg->P > 0, "%s: golden logits / ids missing: %s", name, rl_last_error());
    if (!gg->logits || gg->V <= 0 || gg->P <= 0) { free(gg->logits); gg->logits = NULL; return -1; }
    gg->rows = (int)(len / sizeof(float) / (size_t)gg->V);
    return 0;
}

static inline double golden_compare(rl_model *m, const char *name, const int32_t *prompt, int P, const int32_t *greedy, int G,
                             const float *gold, int rows, int V) {
    float *lg = malloc((size_t)P * V * sizeof(float));
    CHECK(lg != NULL, "%s: out of memory", name);
    if (!lg) return INFINITY;
    CHECK(rl_model_eval(m, prompt, P, lg, 1) == 0, "%s: eval: %s", name, rl_last_error());
    double worst = 0;
    for (int r = 0; r < P && r < rows; r++)
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs(lg[(size_t)r * V + i] - gold[(size_t)r * V + i]));
    double prefill = worst;
    int first_bad = -1;
    float *last = lg + (size_t)(P - 1) * V;
    for (int k = 0; k < G; k++) {
        int best = 0;
        for (int i = 1; i < V; i++) if (last[i] > last[best]) best = i;
        if (best != greedy[k] && first_bad < 0) first_bad = k;
        if (P + k >= rows) break;
        CHECK(rl_model_eval(m, &greedy[k], 1, lg, 0) == 0, "%s: decode: %s", name, rl_last_error());
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs(lg[i] - gold[(size_t)(P + k) * V + i]));
        last = lg;
    }
    CHECK(prefill <= 1e-3, "%s: prefill max abs diff %g", name, prefill);
    CHECK(worst <= 1e-3, "%s: max abs diff %g (prefill %g)", name, worst, prefill);
    CHECK(first_bad < 0, "%s: greedy ids differ at step %d", name, first_bad);
    free(lg);
    return worst;
}

#endif
