/* Dense-family options that the fixtures' own configs do not reach: each test writes a variant
 * of a fixture (config.json rewritten, safetensors tensors renamed or rescaled) to a temp dir
 * and checks the engine gives the same logits as on the original, or refuses it clearly.
 * - Gemma 3 in the transformers v5 form (rope_parameters per layer type);
 * - Gemma 3 multimodal with the original upload's "language_model.model.*" names;
 * - Gemma 2 without layer_types (even layers slide by default);
 * - Baichuan 2 NormHead with non-unit lm_head rows (normalised, so the logits do not move);
 * - Qwen v1: a context past seq_length (dynamic NTK / logn attention) is refused. */
#include "test.h"
#include "rabbitllm.h"
#include "util/fileio.h"
#include "util/json.h"
#include <math.h>
#include <stdint.h>
#include <unistd.h>

typedef void (*cfg_fn)(cJSON *cfg);
typedef void (*st_fn)(cJSON *hdr, uint8_t *data);

static char g_tmp[64];

/* Writes fixture `name` to a new temp dir (g_tmp) with its config and safetensors edited. */
static int make_variant(const char *name, cfg_fn fc, st_fn fs) {
    char src[512], path[600];
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rl_dense_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    snprintf(src, sizeof src, "%s/fixtures/%s", t_shared(), name);
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    if (!cfg) return -1;
    if (fc) fc(cfg);
    char *txt = cJSON_PrintUnformatted(cfg);
    snprintf(path, sizeof path, "%s/config.json", g_tmp);
    int rc = rl_write_file_atomic(path, txt, strlen(txt));
    free(txt); cJSON_Delete(cfg);
    if (rc) return -1;
    size_t len;
    snprintf(path, sizeof path, "%s/generation_config.json", src);
    char *gen = rl_read_file(path, &len);
    if (gen) {
        snprintf(path, sizeof path, "%s/generation_config.json", g_tmp);
        rc = rl_write_file_atomic(path, gen, len);
        free(gen);
        if (rc) return -1;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    uint8_t *st = (uint8_t *)rl_read_file(path, &len);
    if (!st || len < 8) { free(st); return -1; }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | st[i];
    char *htxt = strndup((const char *)st + 8, (size_t)n);
    cJSON *hdr = cJSON_Parse(htxt);
    free(htxt);
    if (!hdr) { free(st); return -1; }
    uint8_t *data = st + 8 + n;
    size_t dlen = len - 8 - (size_t)n;
    if (fs) fs(hdr, data);
    char *h2 = cJSON_PrintUnformatted(hdr);
    size_t hl = strlen(h2), hp = (hl + 7) & ~(size_t)7;
    uint8_t *out = malloc(8 + hp + dlen);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)hp >> (8 * i));
    memcpy(out + 8, h2, hl);
    memset(out + 8 + hl, ' ', hp - hl);
    memcpy(out + 8 + hp, data, dlen);
    snprintf(path, sizeof path, "%s/model.safetensors", g_tmp);
    rc = rl_write_file_atomic(path, out, 8 + hp + dlen);
    free(out); free(h2); cJSON_Delete(hdr); free(st);
    return rc;
}

static void remove_variant(void) {
    const char *f[] = {"config.json", "generation_config.json", "model.safetensors"};
    char path[128];
    for (int i = 0; i < 3; i++) { snprintf(path, sizeof path, "%s/%s", g_tmp, f[i]); unlink(path); }
    rmdir(g_tmp);
}

/* Logits of every prompt position of a fixture's golden prompt; NULL on failure. */
static float *prompt_logits(const char *dir, const char *fixture, int *V, int *P) {
    char path[600];
    snprintf(path, sizeof path, "%s/fixtures/%s/golden.json", t_shared(), fixture);
    cJSON *g = rl_json_load(path);
    if (!g) return NULL;
    int32_t ids[512];
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(g, "prompt_ids")) if (n < 512) ids[n++] = (int32_t)v->valuedouble;
    cJSON_Delete(g);
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m != NULL, "%s: open: %s", dir, rl_last_error());
    if (!m) return NULL;
    *V = rl_model_vocab(m);
    *P = n;
    float *lg = malloc((size_t)n * *V * sizeof(float));
    int rc = rl_model_eval(m, ids, n, lg, 1);
    CHECK(rc == 0, "%s: eval: %s", dir, rl_last_error());
    rl_model_close(m);
    if (rc) { free(lg); return NULL; }
    return lg;
}

/* The variant in g_tmp gives the original fixture's logits (max abs diff <= tol). */
static void check_same(const char *fixture, double tol) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), fixture);
    int V = 0, P = 0, V2 = 0, P2 = 0;
    float *a = prompt_logits(dir, fixture, &V, &P), *b = prompt_logits(g_tmp, fixture, &V2, &P2);
    if (a && b) {
        double w = 0;
        for (size_t i = 0; i < (size_t)P * V; i++) w = fmax(w, fabs(a[i] - b[i]));
        CHECK(V == V2 && w <= tol, "%s variant: max abs diff %g", fixture, w);
    }
    free(a); free(b);
}

/* --- Gemma 3 v5 config: rope_parameters per layer type, linear x8 on the global layers --- */
static void gemma3_v5(cJSON *root) {
    cJSON *c = cJSON_GetObjectItem(root, "text_config");
    cJSON_DeleteItemFromObject(c, "rope_theta");
    cJSON_DeleteItemFromObject(c, "rope_local_base_freq");
    cJSON_DeleteItemFromObject(c, "rope_scaling");
    cJSON *rp = cJSON_AddObjectToObject(c, "rope_parameters");
    cJSON *full = cJSON_AddObjectToObject(rp, "full_attention"), *sl = cJSON_AddObjectToObject(rp, "sliding_attention");
    cJSON_AddStringToObject(full, "rope_type", "linear");
    cJSON_AddNumberToObject(full, "factor", 8.0);
    cJSON_AddNumberToObject(full, "rope_theta", 1e6);
    cJSON_AddStringToObject(sl, "rope_type", "default");
    cJSON_AddNumberToObject(sl, "rope_theta", 1e4);
}

static void test_gemma3_v5_rope(void) {
    CHECK(make_variant("gemma3_mm", gemma3_v5, NULL) == 0, "variant");
    check_same("gemma3_mm", 0);
    remove_variant();
}

/* --- Gemma 3 multimodal, original upload names: language_model.model.* --- */
static void rename_lm(cJSON *hdr, uint8_t *data) {
    (void)data;
    const char *from = "model.language_model.", *to = "language_model.model.";
    for (cJSON *e = hdr->child; e; e = e->next)
        if (!strncmp(e->string, from, strlen(from))) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s%s", to, e->string + strlen(from));
            cJSON_free(e->string);
            e->string = strdup(buf);
        }
}

static void test_gemma3_mm_old_names(void) {
    CHECK(make_variant("gemma3_mm", NULL, rename_lm) == 0, "variant");
    check_same("gemma3_mm", 0);
    remove_variant();
}

/* --- Gemma 2 without layer_types: sliding window on even layers --- */
static void drop_layer_types(cJSON *root) { cJSON_DeleteItemFromObject(root, "layer_types"); }

static void test_gemma2_default_pattern(void) {
    CHECK(make_variant("gemma2", drop_layer_types, NULL) == 0, "variant");
    check_same("gemma2", 0);
    remove_variant();
}

/* --- Baichuan 2 NormHead: lm_head rows x2 (exact in bf16) leave the logits unchanged --- */
static void double_head(cJSON *hdr, uint8_t *data) {
    cJSON *t = cJSON_GetObjectItem(hdr, "lm_head.weight");
    cJSON *off = cJSON_GetObjectItem(t, "data_offsets");
    size_t a = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, b = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    for (size_t i = a; i + 1 < b; i += 2) {
        uint16_t u = (uint16_t)(data[i] | data[i + 1] << 8);
        if (u & 0x7fff) u = (uint16_t)(u + 0x80); /* bf16 exponent + 1 */
        data[i] = (uint8_t)u; data[i + 1] = (uint8_t)(u >> 8);
    }
}

static void test_baichuan_normhead(void) {
    CHECK(make_variant("baichuan", NULL, double_head) == 0, "variant");
    check_same("baichuan", 0);
    remove_variant();
}

/* --- Qwen v1: contexts past seq_length would need dynamic NTK / logn attention --- */
static void test_qwen1_ctx_limit(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/qwen", t_shared());
    rl_model_opts o = {0};
    o.ctx = 8192;
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "ctx 8192: %s", rl_last_error());
    rl_model_close(m);
    o.ctx = 8193;
    m = rl_model_open(dir, &o);
    CHECK(m == NULL && strstr(rl_last_error(), "use_logn_attn"), "ctx 8193 must be refused: %s", rl_last_error());
    rl_model_close(m);
}

int main(void) {
    RUN_SHARED(test_gemma3_v5_rope);
    RUN_SHARED(test_gemma3_mm_old_names);
    RUN_SHARED(test_gemma2_default_pattern);
    RUN_SHARED(test_baichuan_normhead);
    RUN_SHARED(test_qwen1_ctx_limit);
    TEST_END();
}
