/* What the family tests that rewrite a fixture into another family's checkpoint form share
 * (test_qwen3_next.c, test_deepseek_v32.c, test_mm_text.c): reading a fixture tensor, a list of output tensors,
 * writing them as one safetensors file and the edited config.json, and checking the rewritten
 * model against the fixture's own golden on the cpu, cpu-staged and the GPU backends that open. */
#ifndef RL_TEST_REPACK_H
#define RL_TEST_REPACK_H
#include "golden_cmp.h"
#include "format/checkpoint.h"
#include "format/st_writer.h"
#include "quant/gguf_export.h"
#include "util/fileio.h"
#include <sys/stat.h>
#include <unistd.h>

/* Reads tensor `name` of ck into a new buffer (*t its info); NULL + a failed check. */
static inline uint8_t *repack_load(rl_checkpoint *ck, const char *name, const rl_tensor_info **t) {
    *t = rl_ckpt_find(ck, name);
    CHECK(*t != NULL, "fixture tensor %s missing", name);
    if (!*t) return NULL;
    uint8_t *b = malloc((*t)->nbytes);
    if (b && rl_ckpt_read(ck, *t, b)) { free(b); b = NULL; }
    return b;
}

typedef struct { char name[128]; rl_dtype dt; int ndim; int64_t shape[3]; uint8_t *data; size_t bytes; } repack_t;

/* Tensor t of ck as it is, into o (0 / -1). */
static inline int repack_copy(rl_checkpoint *ck, const rl_tensor_info *t, repack_t *o) {
    snprintf(o->name, sizeof o->name, "%s", t->name);
    o->dt = t->dtype; o->ndim = t->ndim;
    for (int d = 0; d < t->ndim && d < 3; d++) o->shape[d] = t->shape[d];
    o->bytes = t->nbytes;
    return (o->data = repack_load(ck, t->name, &t)) ? 0 : -1;
}

/* A tensor `name` of 8 x 8 F32 NaNs into o: a multimodal checkpoint's vision side, never read
 * (any use would show). 0 / -1. */
static inline int repack_nan(repack_t *o, const char *name) {
    snprintf(o->name, sizeof o->name, "%s", name);
    o->dt = RL_DT_F32; o->ndim = 2; o->shape[0] = 8; o->shape[1] = 8; o->bytes = 64 * sizeof(float);
    o->data = malloc(o->bytes);
    for (int j = 0; o->data && j < 64; j++) ((float *)o->data)[j] = NAN;
    return o->data ? 0 : -1;
}

/* Writes cfg as dir/config.json and o[0..n) as dir/model.safetensors; frees the data. 0 / -1. */
static inline int repack_write(const char *dir, cJSON *cfg, repack_t *o, int n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *txt = cJSON_Print(cfg);
    int rc = !txt || rl_write_file_atomic(path, txt, strlen(txt));
    free(txt);
    rl_st_spec *sp = calloc((size_t)n + 1, sizeof *sp);
    if (!rc && sp) {
        for (int i = 0; i < n; i++) {
            sp[i] = (rl_st_spec){.name = o[i].name, .dtype = o[i].dt, .ndim = o[i].ndim};
            for (int d = 0; d < o[i].ndim; d++) sp[i].shape[d] = o[i].shape[d];
        }
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rl_st_writer *w = rl_st_writer_open(path, n, sp, NULL);
        for (int i = 0; w && i < n && !rc; i++) rc = !o[i].data || rl_st_writer_write(w, o[i].data, o[i].bytes) != 0;
        if (w) rc |= rc ? (rl_st_writer_abort(w), 1) : rl_st_writer_close(w) != 0;
        else rc = 1;
    }
    for (int i = 0; i < n; i++) free(o[i].data);
    free(sp);
    return rc || !sp ? -1 : 0;
}

/* The rewritten model in dir against the golden of fixture src (named `name` in messages): on
 * every backend, the prompt in one sweep and in sweeps of 5; then two sequences batched. */
static inline void repack_check(const char *dir, const char *src, const char *name) {
    fixture_golden gg;
    if (golden_load(src, name, &gg)) return;
    const char *be[4] = {"cpu", "cpu-staged"};
    int nb = gpu_backends(be, 2);
    for (int b = 0; b < nb; b++)
        for (int mb = 0; mb <= 5; mb += 5) {
            rl_model_opts o = {.backend = be[b], .max_batch = mb};
            rl_model *m = rl_model_open(dir, &o);
            CHECK(m != NULL, "open %s on %s: %s", name, be[b], rl_last_error());
            if (!m) continue;
            char what[256];
            snprintf(what, sizeof what, "%s [%s, batch %d]", name, be[b], mb);
            double w = golden_compare(m, what, gg.prompt, gg.P, gg.greedy, gg.G, gg.logits, gg.rows, gg.V);
            fprintf(stderr, "  %s: max abs diff %.2g vs the fixture's golden\n", what, w);
            rl_model_close(m);
        }
    /* two sequences in one batch (the whole prompt, its first half): their last rows */
    rl_model_opts o2 = {.n_seq = 2};
    rl_model *m = rl_model_open(dir, &o2);
    CHECK(m != NULL, "%s: open n_seq 2: %s", name, rl_last_error());
    if (m) {
        int V = gg.V, h = gg.P / 2 > 0 ? gg.P / 2 : 1;
        float *lg = malloc((size_t)2 * V * sizeof(float));
        rl_batch_item it[2] = {{0, gg.prompt, gg.P}, {1, gg.prompt, h}};
        CHECK(lg && rl_model_eval_batch(m, it, 2, lg) == 0, "%s: batch: %s", name, rl_last_error());
        double w = 0;
        for (int i = 0; lg && i < V; i++) {
            w = fmax(w, fabs(lg[i] - gg.logits[(size_t)(gg.P - 1) * V + i]));
            w = fmax(w, fabs(lg[V + i] - gg.logits[(size_t)(h - 1) * V + i]));
        }
        CHECK(w <= 1e-3, "%s batched: max abs diff %g", name, w);
        free(lg);
        rl_model_close(m);
    }
    free(gg.logits);
}

/* The end of a rewrite: o[0..n) and cfg written into dir unless rc (or o missing), then every
 * buffer, the config and the checkpoint freed. 0 / -1. */
static inline int repack_finish(const char *dir, cJSON *cfg, rl_checkpoint *ck, repack_t *o, int n, int rc) {
    if (!o) rc = 1;
    else if (rc) for (int i = 0; i < n; i++) free(o[i].data);
    else rc = repack_write(dir, cfg, o, n);
    free(o);
    cJSON_Delete(cfg);
    rl_ckpt_close(ck);
    return rc ? -1 : 0;
}

/* Rewrites fixture src (a path) with fn(src, dir, arg) into a fresh temporary folder, checks it
 * against the fixture's golden (repack_check, named name) — with gguf, also the rewritten model
 * written as F32 GGUF (`quantize --gguf`, llama.cpp's layout) — and removes the folder. */
static inline void repack_and_check_gguf(const char *src, const char *name, int (*fn)(const char *, const char *, const void *),
                                         const void *arg, int gguf) {
    char dir[64] = "/tmp/rl_repack_XXXXXX", cmd[200], path[128], what[200];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(fn(src, dir, arg) == 0, "%s: rewriting %s: %s", name, src, rl_last_error());
    repack_check(dir, src, name);
    if (gguf) {
        snprintf(path, sizeof path, "%s/model.gguf.d", dir); /* (beside the checkpoint, not a file of it) */
        snprintf(what, sizeof what, "%s as GGUF", name);
        CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
        snprintf(path, sizeof path, "%s/model.gguf.d/model.gguf", dir);
        int rc = rl_gguf_export(dir, path, RL_GX_F32, NULL, NULL, NULL);
        CHECK(rc == 0, "%s: quantize --gguf: %s", name, rl_last_error());
        if (!rc) repack_check(path, src, what);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}
static inline void repack_and_check(const char *src, const char *name, int (*fn)(const char *, const char *, const void *),
                                    const void *arg) {
    repack_and_check_gguf(src, name, fn, arg, 0);
}

#endif
