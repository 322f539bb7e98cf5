/* GGUF header parser (see gguf.h). The header is read into a buffer that grows until the whole
 * header fits (never past the file size); every length and count is checked against what is left
 * before anything is allocated from it. Strings and arrays are copied into an arena owned by the
 * rl_gguf, so the buffer is freed after parsing. */
#include "format/gguf.h"
#include "util/err.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIMS 4
#define NEED_MORE (-2)

/* ---- arena ---- */
typedef struct chunk { struct chunk *next; size_t used, cap; _Alignas(8) unsigned char data[]; } chunk;

static void *arena_alloc(rl_gguf *g, size_t n) {
    n = (n + 7) & ~(size_t)7;
    chunk *c = g->mem;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        chunk *nc = malloc(sizeof *nc + cap);
        if (!nc) return NULL;
        nc->next = c; nc->used = 0; nc->cap = cap;
        g->mem = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(rl_gguf *g) {
    for (chunk *c = g->mem, *n; c; c = n) { n = c->next; free(c); }
    g->mem = NULL;
}

/* ---- cursor over the header buffer ---- */
typedef struct {
    const unsigned char *buf;
    uint64_t len, pos, file_size;
    const char *path;
} cur;

/* Checks that n more bytes are available: 0, NEED_MORE (buffer shorter than the file), or -1. */
static int need(cur *c, uint64_t n, const char *what) {
    if (n <= c->len - c->pos) return 0;
    if (c->len < c->file_size) return NEED_MORE;
    return rl_err("%s: truncated GGUF header: %s needs %llu bytes at offset %llu, file has %llu",
                  c->path, what, (unsigned long long)n, (unsigned long long)c->pos,
                  (unsigned long long)c->file_size);
}

static int rd(cur *c, void *out, size_t n, const char *what) {
    int r = need(c, n, what);
    if (r) return r;
    memcpy(out, c->buf + c->pos, n);
    c->pos += n;
    return 0;
}

static size_t type_size(uint32_t t) {
    static const size_t sz[RL_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < RL_GGUF_NTYPES ? sz[t] : 0;
}

static int rd_str(rl_gguf *g, cur *c, rl_gguf_str *s, const char *what) {
    uint64_t n;
    int r = rd(c, &n, 8, what);
    if (r) return r;
    if ((r = need(c, n, what))) return r;
    char *p = arena_alloc(g, n + 1);
    if (!p) return rl_err("%s: out of memory reading %s", c->path, what);
    memcpy(p, c->buf + c->pos, n);
    p[n] = 0;
    c->pos += n;
    s->s = p;
    s->len = n;
    return 0;
}

/* Reads one scalar of type t into kv->v (ints widened, floats as double). */
static int rd_scalar(cur *c, uint32_t t, rl_gguf_kv *kv, const char *key) {
    unsigned char b[8] = {0};
    size_t n = type_size(t);
    int r = rd(c, b, n, key);
    if (r) return r;
    switch (t) {
    case RL_GGUF_U8: case RL_GGUF_BOOL: kv->v.u = b[0]; break;
    case RL_GGUF_I8: kv->v.i = (int8_t)b[0]; break;
    case RL_GGUF_U16: { uint16_t x; memcpy(&x, b, 2); kv->v.u = x; break; }
    case RL_GGUF_I16: { int16_t x; memcpy(&x, b, 2); kv->v.i = x; break; }
    case RL_GGUF_U32: { uint32_t x; memcpy(&x, b, 4); kv->v.u = x; break; }
    case RL_GGUF_I32: { int32_t x; memcpy(&x, b, 4); kv->v.i = x; break; }
    case RL_GGUF_F32: { float x; memcpy(&x, b, 4); kv->v.f = x; break; }
    case RL_GGUF_U64: memcpy(&kv->v.u, b, 8); break;
    case RL_GGUF_I64: memcpy(&kv->v.i, b, 8); break;
    case RL_GGUF_F64: memcpy(&kv->v.f, b, 8); break;
    default: break;
    }
    return 0;
}

static int rd_kv(rl_gguf *g, cur *c, rl_gguf_kv *kv, int64_t i) {
    rl_gguf_str key;
    char what[64];
    snprintf(what, sizeof what, "key of metadata entry %lld", (long long)i);
    int r = rd_str(g, c, &key, what);
    if (r) return r;
    kv->key = key.s;
    uint32_t t;
    if ((r = rd(c, &t, 4, kv->key))) return r;
    if (t >= RL_GGUF_NTYPES) return rl_err("%s: metadata '%s': unknown value type %u", c->path, kv->key, t);
    kv->type = (rl_gguf_type)t;
    if (t == RL_GGUF_STRING) return rd_str(g, c, &kv->v.str, kv->key);
    if (t != RL_GGUF_ARRAY) return rd_scalar(c, t, kv, kv->key);
    uint32_t at;
    uint64_t n;
    if ((r = rd(c, &at, 4, kv->key)) || (r = rd(c, &n, 8, kv->key))) return r;
    if (at >= RL_GGUF_NTYPES || at == RL_GGUF_ARRAY)
        return rl_err("%s: metadata '%s': unsupported array element type %u", c->path, kv->key, at);
    kv->arr_type = (rl_gguf_type)at;
    kv->arr_n = n;
    if (at == RL_GGUF_STRING) {
        /* each string takes at least its 8-byte length: bound n before allocating */
        if (n > (c->file_size - c->pos) / 8)
            return rl_err("%s: metadata '%s': array of %llu strings cannot fit in the file", c->path, kv->key,
                          (unsigned long long)n);
        if ((r = need(c, n * 8, kv->key))) return r;
        rl_gguf_str *s = arena_alloc(g, (size_t)n * sizeof *s + 1);
        if (!s) return rl_err("%s: metadata '%s': out of memory", c->path, kv->key);
        for (uint64_t k = 0; k < n; k++)
            if ((r = rd_str(g, c, &s[k], kv->key))) return r;
        kv->arr = s;
        return 0;
    }
    size_t es = type_size(at);
    if (n > (c->file_size - c->pos) / es)
        return rl_err("%s: metadata '%s': array of %llu items runs past the end of the file", c->path, kv->key,
                      (unsigned long long)n);
    if ((r = need(c, n * es, kv->key))) return r;
    void *p = arena_alloc(g, (size_t)(n * es) + 1);
    if (!p) return rl_err("%s: metadata '%s': out of memory", c->path, kv->key);
    memcpy(p, c->buf + c->pos, (size_t)(n * es));
    c->pos += n * es;
    kv->arr = p;
    return 0;
}

typedef struct { const char *name; int block; size_t bytes; } ggml_type_info;
static const ggml_type_info GGML_TYPES[] = {
    [RL_GGML_F32] = {"F32", 1, 4},        [RL_GGML_F16] = {"F16", 1, 2},
    [RL_GGML_Q4_0] = {"Q4_0", 32, 18},    [RL_GGML_Q4_1] = {"Q4_1", 32, 20},
    [RL_GGML_Q5_0] = {"Q5_0", 32, 22},    [RL_GGML_Q5_1] = {"Q5_1", 32, 24},
    [RL_GGML_Q8_0] = {"Q8_0", 32, 34},    [RL_GGML_Q8_1] = {"Q8_1", 32, 36},
    [RL_GGML_Q2_K] = {"Q2_K", 256, 84},   [RL_GGML_Q3_K] = {"Q3_K", 256, 110},
    [RL_GGML_Q4_K] = {"Q4_K", 256, 144},  [RL_GGML_Q5_K] = {"Q5_K", 256, 176},
    [RL_GGML_Q6_K] = {"Q6_K", 256, 210},  [RL_GGML_Q8_K] = {"Q8_K", 256, 292},
    [RL_GGML_IQ4_NL] = {"IQ4_NL", 32, 18}, [RL_GGML_I8] = {"I8", 1, 1},
    [RL_GGML_I16] = {"I16", 1, 2},        [RL_GGML_I32] = {"I32", 1, 4},
    [RL_GGML_I64] = {"I64", 1, 8},        [RL_GGML_F64] = {"F64", 1, 8},
    [RL_GGML_BF16] = {"BF16", 1, 2},      [RL_GGML_MXFP4] = {"MXFP4", 32, 17},
};
#define N_GGML_TYPES (sizeof GGML_TYPES / sizeof *GGML_TYPES)

int rl_ggml_type_block(uint32_t type, size_t *block_bytes) {
    if (type >= N_GGML_TYPES || !GGML_TYPES[type].name) return 0;
    if (block_bytes) *block_bytes = GGML_TYPES[type].bytes;
    return GGML_TYPES[type].block;
}

const char *rl_ggml_type_name(uint32_t type) {
    return type < N_GGML_TYPES && GGML_TYPES[type].name ? GGML_TYPES[type].name : "?";
}

const char *rl_gguf_type_name(uint32_t t) {
    static const char *const n[RL_GGUF_NTYPES] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32",
        "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    return t < RL_GGUF_NTYPES ? n[t] : "?";
}

static int rd_tensor(rl_gguf *g, cur *c, rl_gguf_tensor *t, int64_t i) {
    rl_gguf_str name;
    char what[64];
    snprintf(what, sizeof what, "name of tensor %lld", (long long)i);
    int r = rd_str(g, c, &name, what);
    if (r) return r;
    t->name = name.s;
    uint32_t nd, ty;
    if ((r = rd(c, &nd, 4, t->name))) return r;
    if (nd < 1 || nd > MAX_DIMS) return rl_err("%s: tensor '%s': %u dims (1 to %d supported)", c->path, t->name, nd, MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t count = 1;
    for (int d = 0; d < MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne;
        if ((r = rd(c, &ne, 8, t->name))) return r;
        if (ne > INT64_MAX || __builtin_mul_overflow(count, ne, &count) || count > INT64_MAX)
            return rl_err("%s: tensor '%s': dims overflow", c->path, t->name);
        t->ne[d] = (int64_t)ne;
    }
    if ((r = rd(c, &ty, 4, t->name)) || (r = rd(c, &t->offset, 8, t->name))) return r;
    size_t bb;
    int blk = rl_ggml_type_block(ty, &bb);
    if (!blk) return rl_err("%s: tensor '%s': unknown ggml type %u", c->path, t->name, ty);
    if (t->ne[0] % blk)
        return rl_err("%s: tensor '%s': row size %lld is not a multiple of the %s block (%d)", c->path, t->name,
                      (long long)t->ne[0], GGML_TYPES[ty].name, blk);
    t->type = ty;
    if (__builtin_mul_overflow(count / (uint64_t)blk, (uint64_t)bb, &t->nbytes))
        return rl_err("%s: tensor '%s': byte size overflows", c->path, t->name);
    return 0;
}

static int parse(rl_gguf *g, cur *c) {
    uint32_t magic;
    int r;
    if ((r = rd(c, &magic, 4, "magic"))) return r;
    if (magic != 0x46554747u) return rl_err("%s: not a GGUF file (bad magic)", c->path);
    if ((r = rd(c, &g->version, 4, "version"))) return r;
    if (g->version < 2 || g->version > 3)
        return rl_err("%s: GGUF version %u is not supported (2 and 3 are)", c->path, g->version);
    uint64_t nt, nk;
    if ((r = rd(c, &nt, 8, "tensor count")) || (r = rd(c, &nk, 8, "metadata count"))) return r;
    /* a tensor info takes >= 8+4+8+4+8 bytes, a KV >= 8+4+1: bound counts by the file size */
    if (nt > c->file_size / 32) return rl_err("%s: tensor count %llu cannot fit in the file", c->path, (unsigned long long)nt);
    if (nk > c->file_size / 13) return rl_err("%s: metadata count %llu cannot fit in the file", c->path, (unsigned long long)nk);
    g->n_kv = (int64_t)nk;
    g->n_tensors = (int64_t)nt;
    g->kv = arena_alloc(g, (size_t)nk * sizeof *g->kv + 1);
    g->tensors = arena_alloc(g, (size_t)nt * sizeof *g->tensors + 1);
    if (!g->kv || !g->tensors) return rl_err("%s: out of memory", c->path);
    memset(g->kv, 0, (size_t)nk * sizeof *g->kv);
    memset(g->tensors, 0, (size_t)nt * sizeof *g->tensors);
    for (int64_t i = 0; i < g->n_kv; i++) {
        if ((r = rd_kv(g, c, &g->kv[i], i))) return r;
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(g->kv[j].key, g->kv[i].key)) return rl_err("%s: metadata key '%s' appears twice", c->path, g->kv[i].key);
    }
    g->alignment = 32;
    const rl_gguf_kv *al = rl_gguf_get(g, "general.alignment");
    if (al) {
        if (al->type != RL_GGUF_U32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return rl_err("%s: general.alignment must be a power-of-two UINT32", c->path);
        g->alignment = al->v.u;
    }
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((r = rd_tensor(g, c, &g->tensors[i], i))) return r;
    uint64_t a = g->alignment;
    g->data_offset = (c->pos + a - 1) / a * a;
    if (g->data_offset > c->file_size && g->n_tensors)
        return rl_err("%s: truncated: the tensor data section starts at %llu, past the end of the file (%llu bytes)",
                      c->path, (unsigned long long)g->data_offset, (unsigned long long)c->file_size);
    uint64_t avail = c->file_size > g->data_offset ? c->file_size - g->data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        rl_gguf_tensor *t = &g->tensors[i];
        if (t->offset % a)
            return rl_err("%s: tensor '%s': offset %llu is not a multiple of the alignment %llu", c->path, t->name,
                          (unsigned long long)t->offset, (unsigned long long)a);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return rl_err("%s: tensor '%s': data [%llu, +%llu) runs past the end of the file (%llu data bytes)", c->path,
                          t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)avail);
        t->offset += g->data_offset;
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(g->tensors[j].name, t->name)) return rl_err("%s: tensor '%s' appears twice", c->path, t->name);
    }
    return 0;
}

rl_gguf *rl_gguf_open(const char *path, int fd) {
    int own = fd < 0;
    if (own && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rl_err("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    rl_gguf *g = calloc(1, sizeof *g);
    unsigned char *buf = NULL;
    struct stat st;
    if (!g || !(g->path = strdup(path))) { rl_err("%s: out of memory", path); goto fail; }
    if (fstat(fd, &st) != 0) { rl_err("%s: cannot stat: %s", path, strerror(errno)); goto fail; }
    g->file_size = (uint64_t)st.st_size;
    for (uint64_t want = 1u << 20;; want *= 4) {
        uint64_t len = want < g->file_size ? want : g->file_size;
        unsigned char *nb = realloc(buf, len ? len : 1);
        if (!nb) { rl_err("%s: out of memory", path); goto fail; }
        buf = nb;
        for (uint64_t got = 0; got < len;) {
            ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { rl_err("%s: read failed: %s", path, r < 0 ? strerror(errno) : "unexpected end of file"); goto fail; }
            got += (uint64_t)r;
        }
        cur c = {buf, len, 0, g->file_size, path};
        arena_free(g);
        int r = parse(g, &c);
        if (r == 0) break;
        if (r != NEED_MORE) goto fail;
    }
    free(buf);
    if (own) close(fd);
    return g;
fail:
    free(buf);
    if (own) close(fd);
    rl_gguf_free(g);
    return NULL;
}

void rl_gguf_free(rl_gguf *g) {
    if (!g) return;
    arena_free(g);
    free(g->path);
    free(g);
}

const rl_gguf_kv *rl_gguf_get(const rl_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

int rl_gguf_int(const rl_gguf *g, const char *key, int64_t *out) {
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (!kv) return 0;
    switch (kv->type) {
    case RL_GGUF_U8: case RL_GGUF_U16: case RL_GGUF_U32: case RL_GGUF_BOOL:
        *out = (int64_t)kv->v.u; return 1;
    case RL_GGUF_U64:
        if (kv->v.u > INT64_MAX) return rl_err("%s: metadata '%s' = %llu is too large", g->path, key, (unsigned long long)kv->v.u);
        *out = (int64_t)kv->v.u; return 1;
    case RL_GGUF_I8: case RL_GGUF_I16: case RL_GGUF_I32: case RL_GGUF_I64:
        *out = kv->v.i; return 1;
    default:
        return rl_err("%s: metadata '%s' is %s, expected an integer", g->path, key, rl_gguf_type_name(kv->type));
    }
}

int rl_gguf_num(const rl_gguf *g, const char *key, double *out) {
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (!kv) return 0;
    if (kv->type == RL_GGUF_F32 || kv->type == RL_GGUF_F64) { *out = kv->v.f; return 1; }
    int64_t v;
    int r = rl_gguf_int(g, key, &v);
    if (r == 1) *out = (double)v;
    return r;
}

const char *rl_gguf_strv(const rl_gguf *g, const char *key) {
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    return kv && kv->type == RL_GGUF_STRING ? kv->v.str.s : NULL;
}

int rl_gguf_is_path(const char *path) {
    size_t n = strlen(path);
    return n >= 5 && !strcmp(path + n - 5, ".gguf");
}

int rl_gguf_split_parse(const char *path, int *idx, int *count) {
    size_t n = strlen(path);
    /* "-00001-of-00003.gguf" = 20 chars */
    if (n < 20 || strcmp(path + n - 5, ".gguf")) return 0;
    const char *p = path + n - 20;
    if (p[0] != '-' || strncmp(p + 6, "-of-", 4)) return 0;
    int a = 0, b = 0;
    for (int k = 1; k <= 5; k++) {
        if (p[k] < '0' || p[k] > '9' || p[k + 9] < '0' || p[k + 9] > '9') return 0;
        a = a * 10 + (p[k] - '0');
        b = b * 10 + (p[k + 9] - '0');
    }
    if (a < 1 || b < 1 || a > b) return 0;
    *idx = a;
    *count = b;
    return 1;
}
