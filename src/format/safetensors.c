/* safetensors header parser (see safetensors.h): pread the header, validate every field. */
#include "format/safetensors.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define MAX_EXACT_INT 9007199254740992.0

/* safetensors dtypes we recognise but cannot compute with yet (named in the message). */
static const char *const UNSUPPORTED_DTYPES[] = {
    "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "U16", "U32", "U64", "C64",
};

/* Reads exactly len bytes at off. Returns bytes read (< len only at end of file) or -1. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Reads a non-negative integer JSON number exactly into *out. Returns 0, or -1 if not one. */
static int json_u64(const cJSON *it, uint64_t *out) {
    if (!cJSON_IsNumber(it)) return -1;
    double d = it->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT_INT)) return -1;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return -1;
    *out = u;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const rl_st_tensor *)a)->name, ((const rl_st_tensor *)b)->name);
}

/* Sort key for the overlap check: begin offset, then end. */
static int cmp_range(const void *a, const void *b) {
    const rl_st_tensor *x = *(const rl_st_tensor *const *)a, *y = *(const rl_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* Fills t from the JSON entry e. data_size is the size of the data section. Returns 0 or -1. */
static int parse_entry(const char *path, const cJSON *e, uint64_t data_start, uint64_t data_size,
                       rl_st_tensor *t) {
    const char *nm = t->name;
    if (!cJSON_IsObject(e)) return rl_err("%s: tensor '%s': entry is not an object", path, nm);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt)) return rl_err("%s: tensor '%s': missing or non-string dtype", path, nm);
    int d = rl_dtype_from_name(dt->valuestring);
    if (d < 0) {
        for (size_t i = 0; i < sizeof UNSUPPORTED_DTYPES / sizeof *UNSUPPORTED_DTYPES; i++)
            if (!strcmp(UNSUPPORTED_DTYPES[i], dt->valuestring))
                return rl_err("%s: tensor '%s': dtype %s is not supported", path, nm,
                              dt->valuestring);
        return rl_err("%s: tensor '%s': unknown dtype '%.64s'", path, nm, dt->valuestring);
    }
    t->dtype = (rl_dtype)d;

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh)) return rl_err("%s: tensor '%s': shape is not a list", path, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > RL_MAX_DIMS)
        return rl_err("%s: tensor '%s': shape has %d dims (at most %d)", path, nm, nd, RL_MAX_DIMS);
    uint64_t count = 1;
    int k = 0;
    for (const cJSON *x = sh->child; x; x = x->next, k++) {
        uint64_t v;
        if (json_u64(x, &v) != 0 || v > INT64_MAX)
            return rl_err("%s: tensor '%s': shape[%d] is not a non-negative integer", path, nm, k);
        if (__builtin_mul_overflow(count, v, &count))
            return rl_err("%s: tensor '%s': shape element count overflows", path, nm);
        t->shape[k] = (int64_t)v;
    }
    t->ndim = nd;
    uint64_t want;
    if (RL_DTYPES[d].block > 1 && (nd < 1 || t->shape[nd - 1] % RL_DTYPES[d].block))
        return rl_err("%s: tensor '%s': dtype %s needs a last dim that is a multiple of %d", path, nm,
                      RL_DTYPES[d].st_name, RL_DTYPES[d].block);
    if (rl_dtype_nbytes((rl_dtype)d, nd, t->shape, &want))
        return rl_err("%s: tensor '%s': shape byte size overflows", path, nm);

    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, en;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || json_u64(of->child, &b) != 0 ||
        json_u64(of->child->next, &en) != 0)
        return rl_err("%s: tensor '%s': data_offsets is not a list of 2 non-negative integers",
                      path, nm);
    if (b > en)
        return rl_err("%s: tensor '%s': data_offsets begin %llu > end %llu", path, nm,
                      (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return rl_err("%s: tensor '%s': data_offsets end %llu is beyond the data section "
                      "(%llu bytes; file truncated?)", path, nm, (unsigned long long)en,
                      (unsigned long long)data_size);
    if (en - b != want)
        return rl_err("%s: tensor '%s': data_offsets span %llu bytes but shape x %s needs %llu",
                      path, nm, (unsigned long long)(en - b), RL_DTYPES[d].st_name,
                      (unsigned long long)want);
    t->offset = data_start + b;
    t->nbytes = want;
    return 0;
}

/* Copies the string entries of "__metadata__" into h. Returns 0 or -1. */
static int parse_meta(const char *path, const cJSON *m, rl_st_header *h) {
    if (!cJSON_IsObject(m)) return rl_err("%s: __metadata__ is not an object", path);
    if (h->meta_keys) return rl_err("%s: __metadata__ appears twice", path);
    int n = cJSON_GetArraySize(m);
    h->meta_keys = calloc((size_t)n + 1, sizeof *h->meta_keys);
    h->meta_vals = calloc((size_t)n + 1, sizeof *h->meta_vals);
    if (!h->meta_keys || !h->meta_vals) return rl_err("%s: out of memory", path);
    for (const cJSON *x = m->child; x; x = x->next) {
        if (!cJSON_IsString(x)) continue; /* HF writes only strings; ignore anything else */
        h->meta_keys[h->n_meta] = strdup(x->string);
        h->meta_vals[h->n_meta] = strdup(x->valuestring);
        h->n_meta++;
        if (!h->meta_keys[h->n_meta - 1] || !h->meta_vals[h->n_meta - 1])
            return rl_err("%s: out of memory", path);
    }
    return 0;
}

/* Checks names are unique (tensors sorted by name) and byte ranges do not overlap. */
static int check_layout(const char *path, rl_st_header *h) {
    int n = h->n_tensors;
    qsort(h->tensors, (size_t)n, sizeof *h->tensors, cmp_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(h->tensors[i - 1].name, h->tensors[i].name))
            return rl_err("%s: tensor '%s': duplicate name", path, h->tensors[i].name);
    if (n < 2) return 0;
    const rl_st_tensor **by = malloc((size_t)n * sizeof *by);
    if (!by) return rl_err("%s: out of memory", path);
    for (int i = 0; i < n; i++) by[i] = &h->tensors[i];
    qsort(by, (size_t)n, sizeof *by, cmp_range);
    int rc = 0;
    uint64_t end = 0;
    const rl_st_tensor *last = NULL;
    for (int i = 0; i < n; i++) {
        if (by[i]->nbytes == 0) continue; /* empty tensors occupy no bytes */
        if (last && by[i]->offset < end) {
            rc = rl_err("%s: tensor '%s': data overlaps tensor '%s'", path, by[i]->name,
                        last->name);
            break;
        }
        end = by[i]->offset + by[i]->nbytes;
        last = by[i];
    }
    free(by);
    return rc;
}

/* Parses the JSON text (len bytes) into h. Returns 0 or -1. */
static int parse_json(const char *path, const char *text, size_t len, rl_st_header *h) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return rl_err("%s: header is not valid JSON", path);
    int rc = 0;
    if (!cJSON_IsObject(root)) { rc = rl_err("%s: header is not a JSON object", path); goto out; }
    int n = cJSON_GetArraySize(root);
    h->tensors = calloc((size_t)n + 1, sizeof *h->tensors);
    if (!h->tensors) { rc = rl_err("%s: out of memory", path); goto out; }
    uint64_t data_size = h->file_size - h->data_start;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if ((rc = parse_meta(path, e, h)) != 0) goto out;
            continue;
        }
        rl_st_tensor *t = &h->tensors[h->n_tensors];
        if (!(t->name = strdup(e->string))) { rc = rl_err("%s: out of memory", path); goto out; }
        h->n_tensors++;
        if ((rc = parse_entry(path, e, h->data_start, data_size, t)) != 0) goto out;
    }
    rc = check_layout(path, h);
out:
    cJSON_Delete(root);
    return rc;
}

rl_st_header *rl_st_parse_fd(int fd, const char *path) {
    struct stat st;
    if (fstat(fd, &st) != 0) { rl_err("%s: cannot stat: %s", path, strerror(errno)); return NULL; }
    if (!S_ISREG(st.st_mode)) { rl_err("%s: not a regular file", path); return NULL; }
    uint64_t fsize = (uint64_t)st.st_size;
    unsigned char lenbuf[8];
    ssize_t r = pread_full(fd, lenbuf, 8, 0);
    if (r < 0) { rl_err("%s: read failed: %s", path, strerror(errno)); return NULL; }
    if (r < 8) {
        rl_err("%s: file is %llu bytes, too short for a safetensors header", path,
               (unsigned long long)fsize);
        return NULL;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | lenbuf[i];
    if (n > RL_ST_MAX_HEADER) {
        rl_err("%s: header length %llu is absurd (limit %u bytes)", path, (unsigned long long)n,
               RL_ST_MAX_HEADER);
        return NULL;
    }
    if (n > fsize - 8) {
        rl_err("%s: header length %llu runs past the end of the file (%llu bytes; truncated?)",
               path, (unsigned long long)n, (unsigned long long)fsize);
        return NULL;
    }
    rl_st_header *h = calloc(1, sizeof *h);
    char *text = malloc((size_t)n + 1);
    if (!h || !text || !(h->path = strdup(path))) {
        free(text); rl_st_free(h);
        rl_err("%s: out of memory", path);
        return NULL;
    }
    h->file_size = fsize;
    h->data_start = 8 + n;
    r = pread_full(fd, text, (size_t)n, 8);
    int rc;
    if (r < 0) rc = rl_err("%s: read failed: %s", path, strerror(errno));
    else if ((uint64_t)r < n) rc = rl_err("%s: header truncated while reading", path);
    else { text[n] = 0; rc = parse_json(path, text, (size_t)n, h); }
    free(text);
    if (rc != 0) { rl_st_free(h); return NULL; }
    return h;
}

rl_st_header *rl_st_open(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { rl_err("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    rl_st_header *h = rl_st_parse_fd(fd, path);
    close(fd);
    return h;
}

const rl_st_tensor *rl_st_find(const rl_st_header *h, const char *name) {
    rl_st_tensor key = {.name = (char *)name};
    return bsearch(&key, h->tensors, (size_t)h->n_tensors, sizeof *h->tensors, cmp_name);
}

const char *rl_st_meta(const rl_st_header *h, const char *key) {
    for (int i = 0; i < h->n_meta; i++)
        if (!strcmp(h->meta_keys[i], key)) return h->meta_vals[i];
    return NULL;
}

void rl_st_free(rl_st_header *h) {
    if (!h) return;
    for (int i = 0; i < h->n_tensors; i++) free(h->tensors[i].name);
    for (int i = 0; i < h->n_meta; i++) { free(h->meta_keys[i]); free(h->meta_vals[i]); }
    free(h->meta_keys);
    free(h->meta_vals);
    free(h->tensors);
    free(h->path);
    free(h);
}
