/* `quantize --gguf` (src/quant/gguf_export.c, src/format/gguf_write.c, src/quant/ggml_quant.c):
 * - the writer: every metadata type and tensor info read back by our GGUF parser; an abandoned or
 *   incomplete file is never installed; bad declarations are errors;
 * - the ggml quantizers against a dequantised copy (per-block error bounds of each type);
 * - against llama.cpp (../shared/gguf/<family>_{q8_0,q4_0,f32,f16,bf16}, made by llama.cpp's
 *   converter and llama-quantize from ../shared/fixtures/<family>): the file we write from the same checkpoint
 *   holds the same tensors (names, types, shapes, data bytes), and the engine gives it the same
 *   logits as llama.cpp's file, bit for bit;
 * - every HF fixture of a family GGUF can express, written as F32 GGUF, run against the HF golden
 *   (1e-3 on every row, greedy ids identical); the others are refused with an error;
 * - stories260K's vocabulary: the same tokens and token types as llama.cpp's stories260K.gguf. */
#include "test.h"
#include "../engine/golden_cmp.h"
#include "rabbitllm.h"
#include "backend/cpu/matmul.h"
#include "format/gguf.h"
#include "format/gguf_write.h"
#include "quant/ggml_quant.h"
#include "quant/gguf_export.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/json.h"
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

static char tmpdir[256];

static void test_writer_roundtrip(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/w.gguf", tmpdir);
    rl_gguf_writer *w = rl_gguf_writer_new(path);
    CHECK(w != NULL, "new: %s", rl_errmsg());
    if (!w) return;
    const char *strs[] = {"a", "bc", ""};
    int32_t iv[] = {1, -2, 3};
    float fv[] = {0.5f, -1.0f};
    int64_t ne1[] = {64, 3}, ne2[] = {5};
    CHECK(rl_gguf_w_str(w, "general.architecture", "llama") == 0, "str");
    CHECK(rl_gguf_w_u32(w, "llama.block_count", 7) == 0, "u32");
    CHECK(rl_gguf_w_i32(w, "x.i32", -5) == 0, "i32");
    CHECK(rl_gguf_w_f32(w, "x.f32", 0.25f) == 0, "f32");
    CHECK(rl_gguf_w_bool(w, "x.bool", 1) == 0, "bool");
    CHECK(rl_gguf_w_arr_str(w, "x.strs", 3, strs, NULL) == 0, "arr str");
    CHECK(rl_gguf_w_arr_i32(w, "x.ints", 3, iv) == 0, "arr i32");
    CHECK(rl_gguf_w_arr_f32(w, "x.floats", 2, fv) == 0, "arr f32");
    CHECK(rl_gguf_w_u32(w, "x.i32", 1) != 0 && strstr(rl_errmsg(), "twice"), "duplicate key accepted");
    CHECK(rl_gguf_w_tensor(w, "a.weight", RL_GGML_Q8_0, 2, ne1) == 0, "tensor: %s", rl_errmsg());
    CHECK(rl_gguf_w_tensor(w, "b.weight", RL_GGML_F32, 1, ne2) == 0, "tensor: %s", rl_errmsg());
    CHECK(rl_gguf_w_tensor(w, "c.weight", RL_GGML_Q4_0, 1, ne2) != 0 && strstr(rl_errmsg(), "multiple"), "partial block accepted");
    CHECK(rl_gguf_w_tensor(w, "a.weight", RL_GGML_F32, 1, ne2) != 0, "duplicate tensor accepted");
    CHECK(rl_gguf_w_begin(w) == 0, "begin: %s", rl_errmsg());
    CHECK(!rl_file_exists(path), "file visible before close");
    uint8_t q[6 * 34];
    float x[64 * 3], b[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 192; i++) x[i] = sinf((float)i);
    for (int r = 0; r < 3; r++) CHECK(rl_ggml_quantize_row(RL_GGML_Q8_0, x + 64 * r, q + 68 * r, 64) == 0, "quantize");
    CHECK(rl_gguf_w_data(w, q, 100) == 0 && rl_gguf_w_data(w, q + 100, sizeof q - 100) == 0, "data");
    CHECK(rl_gguf_w_data(w, b, sizeof b) == 0, "data");
    CHECK(rl_gguf_w_data(w, b, 1) != 0, "extra data accepted");
    rl_gguf_w_abort(w); /* after an error: nothing installed */
    CHECK(!rl_file_exists(path), "aborted file installed");
    /* again, complete */
    w = rl_gguf_writer_new(path);
    rl_gguf_w_str(w, "general.architecture", "llama");
    rl_gguf_w_u32(w, "llama.block_count", 7);
    rl_gguf_w_arr_str(w, "x.strs", 3, strs, NULL);
    rl_gguf_w_arr_i32(w, "x.ints", 3, iv);
    rl_gguf_w_arr_f32(w, "x.floats", 2, fv);
    rl_gguf_w_tensor(w, "a.weight", RL_GGML_Q8_0, 2, ne1);
    rl_gguf_w_tensor(w, "b.weight", RL_GGML_F32, 1, ne2);
    CHECK(rl_gguf_w_begin(w) == 0 && rl_gguf_w_data(w, q, sizeof q) == 0, "write: %s", rl_errmsg());
    CHECK(rl_gguf_w_data(w, b, 8) == 0, "data");
    CHECK(rl_gguf_w_close(w) != 0 && strstr(rl_errmsg(), "tensors were written"), "incomplete file closed: %s", rl_errmsg());
    CHECK(!rl_file_exists(path), "incomplete file installed");
    w = rl_gguf_writer_new(path);
    rl_gguf_w_str(w, "general.architecture", "llama");
    rl_gguf_w_u32(w, "llama.block_count", 7);
    rl_gguf_w_arr_str(w, "x.strs", 3, strs, NULL);
    rl_gguf_w_arr_i32(w, "x.ints", 3, iv);
    rl_gguf_w_arr_f32(w, "x.floats", 2, fv);
    rl_gguf_w_tensor(w, "a.weight", RL_GGML_Q8_0, 2, ne1);
    rl_gguf_w_tensor(w, "b.weight", RL_GGML_F32, 1, ne2);
    CHECK(rl_gguf_w_begin(w) == 0 && rl_gguf_w_data(w, q, sizeof q) == 0 && rl_gguf_w_data(w, b, sizeof b) == 0, "write");
    CHECK(rl_gguf_w_close(w) == 0, "close: %s", rl_errmsg());
    rl_gguf *g = rl_gguf_open(path, -1);
    CHECK(g != NULL, "reopen: %s", rl_errmsg());
    if (!g) return;
    int64_t v = 0;
    CHECK(g->version == 3 && g->n_tensors == 2 && g->n_kv == 5, "counts %u %lld %lld", g->version, (long long)g->n_tensors, (long long)g->n_kv);
    CHECK(rl_gguf_int(g, "llama.block_count", &v) == 1 && v == 7, "u32 back");
    const rl_gguf_kv *s = rl_gguf_get(g, "x.strs");
    CHECK(s && s->arr_n == 3 && !strcmp(((const rl_gguf_str *)s->arr)[1].s, "bc"), "strings back");
    const rl_gguf_kv *fl = rl_gguf_get(g, "x.floats");
    float f1;
    if (fl) memcpy(&f1, (const char *)fl->arr + 4, 4);
    CHECK(fl && fl->arr_n == 2 && f1 == -1.0f, "floats back");
    CHECK(!strcmp(g->tensors[0].name, "a.weight") && g->tensors[0].type == RL_GGML_Q8_0 && g->tensors[0].ne[0] == 64 &&
          g->tensors[0].ne[1] == 3 && g->tensors[0].nbytes == sizeof q, "tensor a back");
    CHECK(g->tensors[1].offset % 32 == 0 && g->tensors[1].nbytes == 20, "tensor b aligned");
    float bb[5] = {0};
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && rl_pread_full(fd, bb, sizeof bb, g->tensors[1].offset, path) == 0 && bb[4] == 5.0f, "data b back");
    if (fd >= 0) close(fd);
    rl_gguf_free(g);
    unlink(path);
}

/* Each type's blocks dequantised by the engine's GGUF reader are within its rounding error. */
static void test_quantizers(void) {
    static const struct { uint32_t t; rl_dtype d; double tol; } T[] = {
        {RL_GGML_Q8_0, RL_DT_GQ8_0, 0.51 / 127}, {RL_GGML_Q4_0, RL_DT_Q4_0, 1.01 / 8} /* the side opposite the largest magnitude clamps at 15 */,
        {RL_GGML_Q4_1, RL_DT_GQ4_1, 0.51 / 15 + 1e-3}, {RL_GGML_F16, RL_DT_F16, 1e-3}};
    float x[256], y[256];
    uint8_t q[1024];
    for (int i = 0; i < 256; i++) x[i] = (float)(sin(i * 0.37) * (1 + i % 7)) + (i == 40 ? 9.0f : 0.0f);
    for (size_t k = 0; k < sizeof T / sizeof *T; k++) {
        CHECK(rl_ggml_quantize_row(T[k].t, x, q, 256) == 0, "%s: %s", rl_ggml_type_name(T[k].t), rl_errmsg());
        rl_convert_to_f32(y, q, T[k].d, 256);
        double worst = 0;
        for (int b = 0; b < 256; b += 32) {
            float mx = 0, lo = x[b], hi = x[b];
            for (int i = b; i < b + 32; i++) { mx = fmaxf(mx, fabsf(x[i])); lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
            double range = T[k].t == RL_GGML_Q4_1 ? hi - lo : mx;
            for (int i = b; i < b + 32; i++) worst = fmax(worst, fabs(y[i] - x[i]) / range);
        }
        CHECK(worst <= T[k].tol, "%s: relative error %g > %g", rl_ggml_type_name(T[k].t), worst, T[k].tol);
    }
    x[3] = NAN;
    CHECK(rl_ggml_quantize_row(RL_GGML_Q8_0, x, q, 256) != 0 && strstr(rl_errmsg(), "non-finite"), "NaN accepted");
    CHECK(rl_ggml_quantize_row(RL_GGML_Q8_0, x, q, 40) != 0, "partial block accepted");
}

static int read_at(const char *path, uint64_t off, void *buf, size_t n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = rl_pread_full(fd, buf, n, off, path);
    close(fd);
    return rc;
}

/* Tensors of a and b: same names, types, shapes and bytes. Returns the number of differences. */
static int same_tensors(const char *name, const char *a, const char *b) {
    rl_gguf *ga = rl_gguf_open(a, -1), *gb = rl_gguf_open(b, -1);
    CHECK(ga && gb, "%s: open: %s", name, rl_errmsg());
    int bad = 0;
    if (ga && gb) {
        CHECK(ga->n_tensors == gb->n_tensors, "%s: %lld tensors, llama.cpp's file %lld", name, (long long)ga->n_tensors, (long long)gb->n_tensors);
        for (int64_t j = 0; j < gb->n_tensors; j++) {
            const rl_gguf_tensor *y = &gb->tensors[j], *x = NULL;
            for (int64_t i = 0; i < ga->n_tensors; i++) if (!strcmp(ga->tensors[i].name, y->name)) x = &ga->tensors[i];
            if (!x) { CHECK(0, "%s: tensor %s missing", name, y->name); bad++; continue; }
            int same = x->type == y->type && x->n_dims == y->n_dims && x->nbytes == y->nbytes;
            for (int d = 0; same && d < 4; d++) same = x->ne[d] == y->ne[d];
            if (same) {
                uint8_t *p = malloc(x->nbytes), *q = malloc(y->nbytes);
                same = p && q && !read_at(a, x->offset, p, x->nbytes) && !read_at(b, y->offset, q, y->nbytes) && !memcmp(p, q, x->nbytes);
                free(p);
                free(q);
            }
            if (!same) { CHECK(0, "%s: tensor %s differs (%s vs %s)", name, y->name, rl_ggml_type_name(x->type), rl_ggml_type_name(y->type)); bad++; }
        }
    }
    rl_gguf_free(ga);
    rl_gguf_free(gb);
    return bad;
}

static float *prefill(const char *path, const int32_t *ids, int P, int *V) {
    rl_model *m = rl_model_open(path, NULL);
    if (!m) return NULL;
    *V = rl_model_vocab(m);
    float *lg = malloc((size_t)P * *V * sizeof(float));
    if (lg && rl_model_eval(m, ids, P, lg, 1)) { free(lg); lg = NULL; }
    rl_model_close(m);
    return lg;
}

/* The model at path against the HF golden of fixture dir src. */
static double golden_compare_dir(const char *path, const char *src, const char *name) {
    fixture_golden gg;
    if (golden_load(src, name, &gg)) return INFINITY;
    double worst = INFINITY;
    rl_model *m = rl_model_open(path, NULL);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    if (m) {
        CHECK(rl_model_vocab(m) == gg.V, "%s: vocab %d, golden %d", name, rl_model_vocab(m), gg.V);
        if (rl_model_vocab(m) == gg.V) worst = golden_compare(m, name, gg.prompt, gg.P, gg.greedy, gg.G, gg.logits, gg.rows, gg.V);
        rl_model_close(m);
    }
    free(gg.logits);
    return worst;
}

/* Families whose GGUF form our writer does not produce (MLA, other architectures). */
static const char *const NOT_EXPORTABLE[] = {
    "glm_moe_dsa",
    "phi3_longrope", NULL};
static int not_exportable(const char *n) {
    for (int i = 0; NOT_EXPORTABLE[i]; i++) if (!strcmp(NOT_EXPORTABLE[i], n)) return 1;
    return 0;
}

static void test_vs_llama_cpp(void) {
    char root[512], *names[256];
    snprintf(root, sizeof root, "%s/gguf", t_shared());
    int n = fixture_dirs(root, NULL, names, 256), checked = 0;
    for (int i = 0; i < n; i++) {
        static const struct { const char *sfx; rl_gguf_xtype t; } SFX[] = {
            {"_q8_0", RL_GX_Q8_0}, {"_q4_0", RL_GX_Q4_0}, {"_f32", RL_GX_F32}, {"_f16", RL_GX_F16}, {"_bf16", RL_GX_BF16}};
        size_t L = strlen(names[i]), k = 0, sl = 0;
        while (k < sizeof SFX / sizeof *SFX && !(L > (sl = strlen(SFX[k].sfx)) && !strcmp(names[i] + L - sl, SFX[k].sfx))) k++;
        char fam[128], src[700], ref[900], out[700], gpath[900];
        snprintf(src, sizeof src, "%s/fixtures/%.*s/config.json", t_shared(), (int)(L - sl), names[i]);
        if (k < sizeof SFX / sizeof *SFX && L - sl < sizeof fam && rl_file_exists(src)) {
            snprintf(fam, sizeof fam, "%.*s", (int)(L - sl), names[i]);
            snprintf(src, sizeof src, "%s/fixtures/%s", t_shared(), fam);
            snprintf(ref, sizeof ref, "%s/%s/model.gguf", root, names[i]);
            snprintf(out, sizeof out, "%s/%s.gguf", tmpdir, names[i]);
            int rc = rl_gguf_export(src, out, SFX[k].t, NULL, NULL, NULL);
            if (not_exportable(fam)) {
                CHECK(rc != 0, "%s: exported, remove it from NOT_EXPORTABLE", names[i]);
                fprintf(stderr, "  %s: not exportable: %s\n", names[i], rl_errmsg());
            } else {
                CHECK(rc == 0, "%s: export: %s", names[i], rl_errmsg());
                /* llama.cpp's stories260K.gguf was converted by llama2.c's script (an output.weight
                 * beside the tied embedding, see ../shared/gguf/README.md): logits only, 8-bit only */
                int stories = !strcmp(fam, "stories260K");
                if (stories && SFX[k].t != RL_GX_Q8_0) { unlink(out); free(names[i]); continue; }
                if (!rc && (stories || !same_tensors(names[i], out, ref))) {
                    snprintf(gpath, sizeof gpath, "%s/%s/golden.json", root, names[i]);
                    cJSON *g = rl_json_load(gpath);
                    int32_t ids[64];
                    int P = golden_ids(g, "prompt_ids", ids, 64), Va = 0, Vb = 0;
                    float *la = prefill(out, ids, P, &Va), *lb = prefill(ref, ids, P, &Vb);
                    CHECK(la && lb && Va == Vb && !memcmp(la, lb, (size_t)P * Va * sizeof(float)),
                          "%s: logits differ from those of llama.cpp's file (%s)", names[i], rl_last_error());
                    fprintf(stderr, "  %s: same %slogits as llama.cpp's file\n", names[i], stories ? "" : "tensors and ");
                    free(la);
                    free(lb);
                    cJSON_Delete(g);
                }
                checked++;
            }
            unlink(out);
        }
        free(names[i]);
    }
    CHECK(checked >= 18, "only %d llama.cpp files compared", checked);
}

static void test_f32_vs_hf_golden(void) {
    char root[512], *names[256];
    snprintf(root, sizeof root, "%s/fixtures", t_shared());
    int n = fixture_dirs(root, NULL, names, 256), checked = 0;
    for (int i = 0; i < n; i++) {
        char src[700], out[700];
        snprintf(src, sizeof src, "%s/%s", root, names[i]);
        snprintf(out, sizeof out, "%s/%s-f32.gguf", tmpdir, names[i]);
        char cfg[800];
        snprintf(cfg, sizeof cfg, "%s/config.json", src);
        if (!rl_file_exists(cfg)) { free(names[i]); continue; }
        int rc = rl_gguf_export(src, out, RL_GX_F32, NULL, NULL, NULL);
        if (not_exportable(names[i])) {
            CHECK(rc != 0, "%s: exported, remove it from NOT_EXPORTABLE", names[i]);
            fprintf(stderr, "  %s: not exportable: %s\n", names[i], rl_errmsg());
        } else {
            CHECK(rc == 0, "%s: export: %s", names[i], rl_errmsg());
            if (!rc) {
                double worst = golden_compare_dir(out, src, names[i]);
                fprintf(stderr, "  %s as F32 GGUF: max abs diff %.2g vs the HF golden\n", names[i], worst);
                checked++;
            }
        }
        unlink(out);
        free(names[i]);
    }
    CHECK(checked >= 10, "only %d fixtures checked", checked);
}

static void test_stories_vocab(void) {
    char src[512], ref[512], out[600];
    snprintf(src, sizeof src, "%s/fixtures/stories260K", t_shared());
    snprintf(ref, sizeof ref, "%s/gguf/stories260K_f32/model.gguf", t_shared());
    snprintf(out, sizeof out, "%s/stories-vocab.gguf", tmpdir);
    CHECK(rl_gguf_export(src, out, RL_GX_F32, NULL, NULL, NULL) == 0, "export: %s", rl_errmsg());
    rl_gguf *a = rl_gguf_open(out, -1), *b = rl_gguf_open(ref, -1);
    CHECK(a && b, "open: %s", rl_errmsg());
    if (a && b) {
        CHECK(!strcmp(rl_gguf_strv(a, "tokenizer.ggml.model"), rl_gguf_strv(b, "tokenizer.ggml.model")), "model");
        const rl_gguf_kv *ta = rl_gguf_get(a, "tokenizer.ggml.tokens"), *tb = rl_gguf_get(b, "tokenizer.ggml.tokens");
        const rl_gguf_kv *ya = rl_gguf_get(a, "tokenizer.ggml.token_type"), *yb = rl_gguf_get(b, "tokenizer.ggml.token_type");
        CHECK(ta && tb && ta->arr_n == tb->arr_n, "token count");
        CHECK(ya && yb && ya->arr_n == yb->arr_n && !memcmp(ya->arr, yb->arr, 4 * yb->arr_n), "token types differ");
        int diff = 0;
        for (uint64_t i = 0; ta && tb && ta->arr_n == tb->arr_n && i < ta->arr_n; i++)
            diff += strcmp(((const rl_gguf_str *)ta->arr)[i].s, ((const rl_gguf_str *)tb->arr)[i].s) != 0;
        CHECK(diff == 0, "%d tokens differ", diff);
        static const char *const K[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", NULL};
        for (int k = 0; K[k]; k++) {
            int64_t x = -1, y = -2;
            CHECK(rl_gguf_int(a, K[k], &x) == 1 && rl_gguf_int(b, K[k], &y) == 1 && x == y, "%s: %lld vs %lld", K[k], (long long)x, (long long)y);
        }
    }
    rl_gguf_free(a);
    rl_gguf_free(b);
    unlink(out);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rl-gguf-export-%d", (int)getpid());
    mkdir(tmpdir, 0755);
    RUN(test_writer_roundtrip);
    RUN(test_quantizers);
    RUN_SHARED(test_vs_llama_cpp);
    RUN_SHARED(test_f32_vs_hf_golden);
    RUN_SHARED(test_stories_vocab);
    rmdir(tmpdir);
    TEST_END();
}
