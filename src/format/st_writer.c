/* Incremental safetensors writer and index.json writer (see st_writer.h). */
#include "format/st_writer.h"
#include "util/err.h"
#include "util/fileio.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rl_st_writer {
    char *path;         /* final path (owned) */
    char *tmp;          /* "<path>.tmp" (owned) */
    FILE *f;            /* open temp file */
    uint64_t total;     /* data bytes the specs describe */
    uint64_t written;   /* data bytes written so far */
    int failed;         /* a write failed: close must not rename */
};

/* Growable text buffer for building JSON. */
typedef struct { char *p; size_t len, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Appends s as a JSON string literal (quotes, escapes; UTF-8 bytes pass through). */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; sb_put(b, e, 2); }
        else if (c < 0x20) sb_printf(b, "\\u%04x", c);
        else sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the specs and builds the header JSON into b, returns the data size in *total. */
static int build_header(const char *path, int n, const rl_st_spec *specs,
                        const char *const *meta, sbuf *b, uint64_t *total) {
    if (n < 0) return rl_err("%s: negative tensor count", path);
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names) return rl_err("%s: out of memory", path);
    for (int i = 0; i < n; i++) names[i] = specs[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(names[i - 1], names[i]))
            rc = rl_err("%s: tensor '%s': duplicate name", path, names[i]);
    free(names);
    if (rc) return rc;

    sb_put(b, "{", 1);
    if (meta && meta[0]) {
        sb_put(b, "\"__metadata__\":{", 16);
        for (int i = 0; meta[i]; i += 2) {
            if (!meta[i + 1]) return rl_err("%s: metadata key '%s' has no value", path, meta[i]);
            if (i) sb_put(b, ",", 1);
            sb_json_str(b, meta[i]);
            sb_put(b, ":", 1);
            sb_json_str(b, meta[i + 1]);
        }
        sb_put(b, "}", 1);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const rl_st_spec *s = &specs[i];
        if (!s->name || !strcmp(s->name, "__metadata__"))
            return rl_err("%s: tensor %d: missing or reserved name", path, i);
        if ((int)s->dtype < 0 || s->dtype >= RL_DT_COUNT)
            return rl_err("%s: tensor '%s': bad dtype %d", path, s->name, (int)s->dtype);
        if (s->ndim < 0 || s->ndim > RL_MAX_DIMS)
            return rl_err("%s: tensor '%s': bad ndim %d", path, s->name, s->ndim);
        uint64_t nb;
        if (rl_dtype_nbytes(s->dtype, s->ndim, s->shape, &nb))
            return rl_err("%s: tensor '%s': bad or overflowing shape for %s", path, s->name,
                          RL_DTYPES[s->dtype].st_name);
        if (b->len > 1) sb_put(b, ",", 1);
        sb_json_str(b, s->name);
        sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", RL_DTYPES[s->dtype].st_name);
        for (int k = 0; k < s->ndim; k++) sb_printf(b, "%s%" PRId64, k ? "," : "", s->shape[k]);
        if (__builtin_add_overflow(off, nb, &off))
            return rl_err("%s: tensor '%s': total size overflows", path, s->name);
        sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off - nb, off);
    }
    sb_put(b, "}", 1);
    while (b->len % 8) sb_put(b, " ", 1);
    if (b->oom) return rl_err("%s: out of memory", path);
    *total = off;
    return 0;
}

rl_st_writer *rl_st_writer_open(const char *path, int n, const rl_st_spec *specs,
                                const char *const *meta) {
    sbuf b = {0};
    uint64_t total = 0;
    rl_st_writer *w = NULL;
    if (build_header(path, n, specs, meta, &b, &total) != 0) goto fail;
    w = calloc(1, sizeof *w);
    size_t plen = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(plen + 5))) {
        rl_err("%s: out of memory", path);
        goto fail;
    }
    memcpy(w->tmp, path, plen);
    memcpy(w->tmp + plen, ".tmp", 5);
    w->total = total;
    if (!(w->f = fopen(w->tmp, "wb"))) {
        rl_err("%s: cannot create: %s", w->tmp, strerror(errno));
        goto fail;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)b.len >> (8 * i));
    if (fwrite(len8, 1, 8, w->f) != 8 || fwrite(b.p, 1, b.len, w->f) != b.len) {
        rl_err("%s: write failed: %s", w->tmp, strerror(errno));
        goto fail;
    }
    free(b.p);
    return w;
fail:
    free(b.p);
    rl_st_writer_abort(w);
    return NULL;
}

int rl_st_writer_write(rl_st_writer *w, const void *buf, size_t len) {
    if (w->failed) return rl_err("%s: write after an earlier error", w->tmp);
    if (len > w->total - w->written) {
        w->failed = 1;
        return rl_err("%s: %zu more bytes would exceed the %" PRIu64 " data bytes of the header",
                      w->tmp, len, w->total);
    }
    if (len && fwrite(buf, 1, len, w->f) != len) {
        w->failed = 1;
        return rl_err("%s: write failed: %s", w->tmp, strerror(errno));
    }
    w->written += len;
    return 0;
}

uint64_t rl_st_writer_data_size(const rl_st_writer *w) { return w->total; }
uint64_t rl_st_writer_written(const rl_st_writer *w) { return w->written; }

int rl_st_writer_close(rl_st_writer *w) {
    int rc = 0;
    if (w->failed) rc = rl_err("%s: not finished: an earlier write failed", w->path);
    else if (w->written != w->total)
        rc = rl_err("%s: only %" PRIu64 " of %" PRIu64 " data bytes were written", w->path,
                    w->written, w->total);
    else if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        rc = rl_err("%s: write failed: %s", w->tmp, strerror(errno));
    if (rc == 0) {
        FILE *f = w->f;
        w->f = NULL;
        if (fclose(f) != 0) rc = rl_err("%s: write failed: %s", w->tmp, strerror(errno));
        else if (rename(w->tmp, w->path) != 0)
            rc = rl_err("%s: cannot rename %s: %s", w->path, w->tmp, strerror(errno));
        else rl_fsync_parent(w->path);
    }
    if (rc != 0) { rl_st_writer_abort(w); return -1; }
    free(w->path);
    free(w->tmp);
    free(w);
    return 0;
}

void rl_st_writer_abort(rl_st_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w);
}

int rl_st_write_index(const char *dir, uint64_t total_size, int n, const char *const *names,
                      const char *const *shards) {
    char path[4096];
    if (rl_path_join(path, sizeof path, dir, "model.safetensors.index.json") != 0) return -1;
    sbuf b = {0};
    sb_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64 "\n  },\n"
                  "  \"weight_map\": {", total_size);
    for (int i = 0; i < n; i++) {
        sb_put(&b, i ? ",\n    " : "\n    ", 6 - (i == 0));
        sb_json_str(&b, names[i]);
        sb_put(&b, ": ", 2);
        sb_json_str(&b, shards[i]);
    }
    sb_put(&b, "\n  }\n}\n", 7);
    int rc = b.oom ? rl_err("%s: out of memory", path) : rl_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return rc;
}
