/* GGUF v3 writer (see gguf_write.h). */
#include "format/gguf_write.h"
#include "format/gguf.h"
#include "util/err.h"
#include "util/fileio.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 32

typedef struct { uint8_t *p; size_t len, cap; int oom; } bbuf;

typedef struct {
    char *name;
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    uint64_t nbytes, offset; /* offset relative to the data section */
} wtensor;

struct rl_gguf_writer {
    char *path, *tmp;
    FILE *f;
    bbuf kv;                 /* serialized key/value pairs */
    int64_t n_kv;
    char **keys;             /* for duplicate checks */
    wtensor *t;
    int n_t, cap_t;
    uint64_t data_total;     /* data section bytes, padding included */
    int cur;                 /* tensor being written */
    uint64_t cur_done;       /* its bytes written so far */
    int failed, begun;
};

static void bb_put(bbuf *b, const void *s, size_t n) {
    if (b->oom || !n) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n > cap) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void bb_u32(bbuf *b, uint32_t v) { uint8_t x[4]; for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> 8 * i); bb_put(b, x, 4); }
static void bb_u64(bbuf *b, uint64_t v) { uint8_t x[8]; for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> 8 * i); bb_put(b, x, 8); }
static void bb_str(bbuf *b, const char *s, size_t n) { bb_u64(b, n); bb_put(b, s, n); }

rl_gguf_writer *rl_gguf_writer_new(const char *path) {
    rl_gguf_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n + 5))) {
        rl_gguf_w_abort(w);
        rl_err("%s: out of memory", path);
        return NULL;
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    return w;
}

/* Starts a KV entry: checks the state and the key, writes the key and the value type. */
static int kv_head(rl_gguf_writer *w, const char *key, uint32_t type) {
    if (w->begun) return rl_err("%s: metadata '%s' after the header was written", w->path, key);
    if (!key || !*key) return rl_err("%s: empty metadata key", w->path);
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return rl_err("%s: metadata key '%s' given twice", w->path, key);
    char **k = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *k);
    if (!k) return rl_err("%s: out of memory", w->path);
    w->keys = k;
    if (!(k[w->n_kv] = strdup(key))) return rl_err("%s: out of memory", w->path);
    w->n_kv++;
    bb_str(&w->kv, key, strlen(key));
    bb_u32(&w->kv, type);
    return 0;
}

int rl_gguf_w_u32(rl_gguf_writer *w, const char *key, uint32_t v) {
    if (kv_head(w, key, RL_GGUF_U32)) return -1;
    bb_u32(&w->kv, v);
    return 0;
}
int rl_gguf_w_i32(rl_gguf_writer *w, const char *key, int32_t v) {
    if (kv_head(w, key, RL_GGUF_I32)) return -1;
    bb_u32(&w->kv, (uint32_t)v);
    return 0;
}
int rl_gguf_w_f32(rl_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if (kv_head(w, key, RL_GGUF_F32)) return -1;
    bb_u32(&w->kv, u);
    return 0;
}
int rl_gguf_w_bool(rl_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    if (kv_head(w, key, RL_GGUF_BOOL)) return -1;
    bb_put(&w->kv, &b, 1);
    return 0;
}
int rl_gguf_w_str(rl_gguf_writer *w, const char *key, const char *v) {
    if (kv_head(w, key, RL_GGUF_STRING)) return -1;
    bb_str(&w->kv, v, strlen(v));
    return 0;
}
int rl_gguf_w_arr_str(rl_gguf_writer *w, const char *key, uint64_t n, const char *const *v, const size_t *len) {
    if (kv_head(w, key, RL_GGUF_ARRAY)) return -1;
    bb_u32(&w->kv, RL_GGUF_STRING);
    bb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) bb_str(&w->kv, v[i], len ? len[i] : strlen(v[i]));
    return 0;
}
int rl_gguf_w_arr_i32(rl_gguf_writer *w, const char *key, uint64_t n, const int32_t *v) {
    if (kv_head(w, key, RL_GGUF_ARRAY)) return -1;
    bb_u32(&w->kv, RL_GGUF_I32);
    bb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) bb_u32(&w->kv, (uint32_t)v[i]);
    return 0;
}
int rl_gguf_w_arr_f32(rl_gguf_writer *w, const char *key, uint64_t n, const float *v) {
    if (kv_head(w, key, RL_GGUF_ARRAY)) return -1;
    bb_u32(&w->kv, RL_GGUF_F32);
    bb_u64(&w->kv, n);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        bb_u32(&w->kv, u);
    }
    return 0;
}

static uint64_t pad_to(uint64_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

int rl_gguf_w_tensor(rl_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne) {
    if (w->begun) return rl_err("%s: tensor '%s' declared after the header was written", w->path, name);
    size_t bb;
    int blk = rl_ggml_type_block(type, &bb);
    if (!blk) return rl_err("%s: tensor '%s': unknown ggml type %u", w->path, name, type);
    if (n_dims < 1 || n_dims > 4) return rl_err("%s: tensor '%s': %d dims (1..4)", w->path, name, n_dims);
    uint64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) return rl_err("%s: tensor '%s': dim %d is %" PRId64, w->path, name, d, ne[d]);
        if (__builtin_mul_overflow(n, (uint64_t)ne[d], &n)) return rl_err("%s: tensor '%s': size overflows", w->path, name);
    }
    if (ne[0] % blk) return rl_err("%s: tensor '%s': row of %" PRId64 " is not a multiple of the %s block (%d)", w->path, name, ne[0], rl_ggml_type_name(type), blk);
    for (int i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return rl_err("%s: tensor '%s' declared twice", w->path, name);
    uint64_t nb;
    if (__builtin_mul_overflow(n / (uint64_t)blk, (uint64_t)bb, &nb) || nb > UINT64_MAX / 2 || w->data_total > UINT64_MAX / 2)
        return rl_err("%s: tensor '%s': size overflows", w->path, name);
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) return rl_err("%s: out of memory", w->path);
        w->t = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return rl_err("%s: out of memory", w->path);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = nb;
    t->offset = w->data_total;
    w->data_total = pad_to(w->data_total + nb);
    w->n_t++;
    return 0;
}

uint64_t rl_gguf_w_tensor_bytes(const rl_gguf_writer *w, int i) {
    return i >= 0 && i < w->n_t ? w->t[i].nbytes : 0;
}

static int wr(rl_gguf_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        return rl_err("%s: write failed: %s", w->tmp, strerror(errno));
    }
    return 0;
}

static int write_zeros(rl_gguf_writer *w, size_t n) {
    static const uint8_t z[ALIGN];
    return wr(w, z, n);
}

int rl_gguf_w_begin(rl_gguf_writer *w) {
    if (w->begun) return rl_err("%s: header already written", w->path);
    bbuf h = {0};
    bb_put(&h, "GGUF", 4);
    bb_u32(&h, 3);
    bb_u64(&h, (uint64_t)w->n_t);
    bb_u64(&h, (uint64_t)w->n_kv);
    bb_put(&h, w->kv.p, w->kv.len);
    for (int i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        bb_str(&h, t->name, strlen(t->name));
        bb_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) bb_u64(&h, (uint64_t)t->ne[d]);
        bb_u32(&h, t->type);
        bb_u64(&h, t->offset);
    }
    while (h.len % ALIGN) bb_put(&h, "", 1);
    if (h.oom || w->kv.oom) { free(h.p); return rl_err("%s: out of memory", w->path); }
    w->begun = 1;
    if (!(w->f = fopen(w->tmp, "wb"))) {
        free(h.p);
        w->failed = 1;
        return rl_err("%s: cannot create: %s", w->tmp, strerror(errno));
    }
    int rc = wr(w, h.p, h.len);
    free(h.p);
    return rc;
}

int rl_gguf_w_data(rl_gguf_writer *w, const void *buf, size_t len) {
    if (!w->begun || !w->f) return rl_err("%s: data before the header", w->path);
    if (w->failed) return rl_err("%s: write after an earlier error", w->tmp);
    const uint8_t *p = buf;
    while (len) {
        if (w->cur >= w->n_t) { w->failed = 1; return rl_err("%s: more data than the declared tensors hold", w->tmp); }
        wtensor *t = &w->t[w->cur];
        uint64_t room = t->nbytes - w->cur_done;
        size_t n = len < room ? len : (size_t)room;
        if (wr(w, p, n)) return -1;
        p += n;
        len -= n;
        w->cur_done += n;
        if (w->cur_done == t->nbytes) {
            if (write_zeros(w, (size_t)(pad_to(t->nbytes) - t->nbytes))) return -1;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

static void free_w(rl_gguf_writer *w) {
    for (int i = 0; i < w->n_t; i++) free(w->t[i].name);
    for (int64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->t);
    free(w->keys);
    free(w->kv.p);
    free(w->path);
    free(w->tmp);
    free(w);
}

int rl_gguf_w_close(rl_gguf_writer *w) {
    int rc = 0;
    if (!w->begun || !w->f) rc = rl_err("%s: closed before the header was written", w->path);
    else if (w->failed) rc = rl_err("%s: not finished: an earlier write failed", w->path);
    else if (w->cur != w->n_t) rc = rl_err("%s: only %d of %d tensors were written", w->path, w->cur, w->n_t);
    else if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) rc = rl_err("%s: write failed: %s", w->tmp, strerror(errno));
    if (rc == 0) {
        FILE *f = w->f;
        w->f = NULL;
        if (fclose(f) != 0) rc = rl_err("%s: write failed: %s", w->tmp, strerror(errno));
        else if (rename(w->tmp, w->path) != 0) rc = rl_err("%s: cannot rename %s: %s", w->path, w->tmp, strerror(errno));
        else rl_fsync_parent(w->path);
    }
    if (rc) { rl_gguf_w_abort(w); return -1; }
    free_w(w);
    return 0;
}

void rl_gguf_w_abort(rl_gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->begun && w->tmp) unlink(w->tmp);
    free_w(w);
}
