/* Checkpoint tensor index (see checkpoint.h): finds the safetensors or GGUF file(s) of a model
 * dir, checks their headers, and indexes every tensor by name in a hash table. */
#include "format/checkpoint.h"
#include "format/gguf.h"
#include "format/gguf_find.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

struct rl_checkpoint {
    int n_files;             /* number of safetensors files */
    char **paths;            /* [n_files] file paths (owned) */
    int *fds;                /* [n_files] read-only fds (owned, -1 if not opened) */
    rl_st_header **hdrs;     /* [n_files] parsed headers (owned; tensor names live here) */
    rl_gguf **ggufs;         /* [n_files] parsed GGUF headers (GGUF checkpoints; else NULL) */
    char *names;             /* owned names of per-expert views of GGUF expert tensors */
    int n_tensors;           /* number of indexed tensors */
    rl_tensor_info *tensors; /* [n_tensors] sorted by name */
    int *slots;              /* open-addressing hash: tensor index or -1 */
    size_t mask;             /* slots size - 1 (power of two) */
};

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int cmp_info(const void *a, const void *b) {
    return strcmp(((const rl_tensor_info *)a)->name, ((const rl_tensor_info *)b)->name);
}

/* Sorts the tensors, rejects duplicate names and builds the hash. Returns 0 or -1. */
static int build_index(rl_checkpoint *ck, const char *what) {
    qsort(ck->tensors, (size_t)ck->n_tensors, sizeof *ck->tensors, cmp_info);
    for (int i = 1; i < ck->n_tensors; i++)
        if (!strcmp(ck->tensors[i - 1].name, ck->tensors[i].name))
            return rl_err("%s: tensor '%s': listed twice", what, ck->tensors[i].name);
    size_t cap = 16;
    while (cap < 2 * (size_t)ck->n_tensors) cap *= 2;
    ck->slots = malloc(cap * sizeof *ck->slots);
    if (!ck->slots) return rl_err("%s: out of memory", what);
    memset(ck->slots, 0xff, cap * sizeof *ck->slots);
    ck->mask = cap - 1;
    for (int i = 0; i < ck->n_tensors; i++) {
        size_t s = (size_t)hash_name(ck->tensors[i].name) & ck->mask;
        while (ck->slots[s] >= 0) s = (s + 1) & ck->mask;
        ck->slots[s] = i;
    }
    return 0;
}

/* Appends a file slot for path (not yet opened). Returns its index or -1. */
static int add_file(rl_checkpoint *ck, const char *path) {
    int n = ck->n_files;
    char **p = realloc(ck->paths, (size_t)(n + 1) * sizeof *p);
    if (p) ck->paths = p;
    int *f = realloc(ck->fds, (size_t)(n + 1) * sizeof *f);
    if (f) ck->fds = f;
    rl_st_header **h = realloc(ck->hdrs, (size_t)(n + 1) * sizeof *h);
    if (h) ck->hdrs = h;
    rl_gguf **g = realloc(ck->ggufs, (size_t)(n + 1) * sizeof *g);
    if (g) ck->ggufs = g;
    if (!p || !f || !h || !g || !(ck->paths[n] = strdup(path))) return rl_err("%s: out of memory", path);
    ck->fds[n] = -1;
    ck->hdrs[n] = NULL;
    ck->ggufs[n] = NULL;
    ck->n_files = n + 1;
    return n;
}

/* Opens file i and parses its header. `who` (may be NULL) names the index listing it. */
static int open_file(rl_checkpoint *ck, int i, const char *who) {
    const char *path = ck->paths[i];
    ck->fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (ck->fds[i] < 0) {
        if (who) return rl_err("%s: shard file %s is missing or unreadable: %s", who, path,
                               strerror(errno));
        return rl_err("%s: cannot open: %s", path, strerror(errno));
    }
    ck->hdrs[i] = rl_st_parse_fd(ck->fds[i], path);
    return ck->hdrs[i] ? 0 : -1;
}

/* Fills info from a header entry. */
static void set_info(rl_tensor_info *ti, const rl_st_tensor *t, int file) {
    ti->name = t->name;
    ti->dtype = t->dtype;
    ti->ndim = t->ndim;
    memcpy(ti->shape, t->shape, sizeof ti->shape);
    ti->file = file;
    ti->offset = t->offset;
    ti->nbytes = t->nbytes;
}

/* Indexes every tensor of the single safetensors file at path. */
static int load_single(rl_checkpoint *ck, const char *path) {
    if (add_file(ck, path) < 0 || open_file(ck, 0, NULL) != 0) return -1;
    const rl_st_header *h = ck->hdrs[0];
    ck->tensors = calloc((size_t)h->n_tensors + 1, sizeof *ck->tensors);
    if (!ck->tensors) return rl_err("%s: out of memory", path);
    for (int i = 0; i < h->n_tensors; i++) set_info(&ck->tensors[i], &h->tensors[i], 0);
    ck->n_tensors = h->n_tensors;
    return build_index(ck, path);
}

/* Normalises a shard name into out (drops "." and empty components). Returns 0, or -1 if it
 * would leave the model directory: empty, absolute, or with a ".." component. Symlinks are
 * followed as they are (the HF hub cache links snapshot files to ../../blobs). */
static int shard_name_norm(const char *s, char *out, size_t cap) {
    size_t len = 0;
    if (*s == '/') return -1;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') return -1;
        if (n && !(n == 1 && p[0] == '.')) {
            if (len + n + 2 > cap) return -1;
            if (len) out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p += n;
        while (*p == '/') p++;
    }
    out[len] = 0;
    return len ? 0 : -1;
}

/* Indexes the tensors named in the weight_map of the index file at index_path (in dir). */
static int load_sharded(rl_checkpoint *ck, const char *dir, const char *index_path) {
    size_t len;
    char *text = rl_read_file(index_path, &len);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return rl_err("%s: not valid JSON", index_path);
    int rc = -1, n = 0;
    int *file_of = NULL;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) { rl_err("%s: missing or non-object weight_map", index_path); goto out; }
    n = cJSON_GetArraySize(wm);
    file_of = malloc(((size_t)n + 1) * sizeof *file_of);
    ck->tensors = calloc((size_t)n + 1, sizeof *ck->tensors);
    if (!file_of || !ck->tensors) { rl_err("%s: out of memory", index_path); goto out; }

    /* Pass 1: validate names and collect the distinct shard files. */
    int k = 0;
    for (const cJSON *e = wm->child; e; e = e->next, k++) {
        if (!cJSON_IsString(e)) {
            rl_err("%s: tensor '%s': weight_map value is not a file name", index_path, e->string);
            goto out;
        }
        const char *shard = e->valuestring;
        char norm[PATH_CAP], path[PATH_CAP];
        if (shard_name_norm(shard, norm, sizeof norm) != 0) {
            rl_err("%s: tensor '%s': shard name '%s' escapes the model directory", index_path,
                   e->string, shard);
            goto out;
        }
        if (rl_path_join(path, sizeof path, dir, norm) != 0) goto out;
        int f = -1;
        for (int j = ck->n_files - 1; j >= 0 && f < 0; j--)
            if (!strcmp(ck->paths[j], path)) f = j;
        if (f < 0 && (f = add_file(ck, path)) < 0) goto out;
        file_of[k] = f;
    }
    if (ck->n_files == 0) { rl_err("%s: weight_map is empty", index_path); goto out; }

    /* Pass 2: open every shard (its header check catches truncation), then look up names. */
    for (int j = 0; j < ck->n_files; j++)
        if (open_file(ck, j, index_path) != 0) goto out;
    k = 0;
    for (const cJSON *e = wm->child; e; e = e->next, k++) {
        const rl_st_tensor *t = rl_st_find(ck->hdrs[file_of[k]], e->string);
        if (!t) {
            rl_err("%s: tensor '%s': listed in %s but absent from the shard",
                   ck->paths[file_of[k]], e->string, index_path);
            goto out;
        }
        set_info(&ck->tensors[ck->n_tensors++], t, file_of[k]);
    }
    rc = build_index(ck, index_path);
out:
    free(file_of);
    cJSON_Delete(root);
    return rc;
}

/* ggml tensor type -> dtype (-1 if not supported). */
static int dtype_of_ggml(uint32_t t) {
    switch (t) {
    case RL_GGML_F32: return RL_DT_F32;     case RL_GGML_F16: return RL_DT_GF16;
    case RL_GGML_BF16: return RL_DT_GBF16;  case RL_GGML_Q8_0: return RL_DT_GQ8_0;
    case RL_GGML_Q4_1: return RL_DT_GQ4_1;  case RL_GGML_Q4_0: return RL_DT_Q4_0;
    case RL_GGML_Q5_0: return RL_DT_Q5_0;   case RL_GGML_Q5_1: return RL_DT_Q5_1;
    case RL_GGML_Q2_K: return RL_DT_Q2_K;   case RL_GGML_Q3_K: return RL_DT_Q3_K;
    case RL_GGML_Q4_K: return RL_DT_Q4_K;   case RL_GGML_Q5_K: return RL_DT_Q5_K;
    case RL_GGML_Q6_K: return RL_DT_Q6_K;   case RL_GGML_IQ4_NL: return RL_DT_IQ4_NL;
    case RL_GGML_I8: return RL_DT_I8;       case RL_GGML_I16: return RL_DT_I16;
    case RL_GGML_I32: return RL_DT_I32;     case RL_GGML_I64: return RL_DT_I64;
    case RL_GGML_F64: return RL_DT_F64;     case RL_GGML_MXFP4: return RL_DT_GMXFP4;
    default: return -1;
    }
}

static int is_expert_stack(const rl_gguf_tensor *t) {
    size_t n = strlen(t->name);
    return t->n_dims == 3 && n > 12 && !strcmp(t->name + n - 12, "_exps.weight");
}

/* Indexes every tensor of a GGUF model (all parts of a split set). A 3-D expert stack
 * "blk.L.ffn_X_exps.weight" [E][rows][cols] also gets one 2-D view per expert,
 * "blk.L.ffn_X_exps.E.weight", a byte range of the stack. Any other 3-D tensor (per-head
 * matrices: deepseek2's attn_k_b / attn_v_b [heads][rows][cols]) is indexed as 2-D
 * [heads * rows][cols], its heads' row blocks one after another. */
static int load_gguf(rl_checkpoint *ck, const char *first) {
    char path[PATH_CAP];
    int n_parts = rl_gguf_split_part(first, 1, path, sizeof path);
    if (n_parts < 0) return -1;
    size_t n_info = 0, name_bytes = 0;
    for (int i = 0; i < n_parts; i++) {
        if (rl_gguf_split_part(first, i + 1, path, sizeof path) < 0 || add_file(ck, path) < 0) return -1;
        ck->fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (ck->fds[i] < 0)
            return rl_err("%s: %s: %s", first, i ? "split part missing or unreadable" : "cannot open", strerror(errno));
        if (!(ck->ggufs[i] = rl_gguf_open(path, ck->fds[i]))) return -1;
        const rl_gguf *g = ck->ggufs[i];
        for (int64_t k = 0; k < g->n_tensors; k++) {
            const rl_gguf_tensor *t = &g->tensors[k];
            n_info++;
            if (is_expert_stack(t)) { n_info += (size_t)t->ne[2]; name_bytes += (size_t)t->ne[2] * (strlen(t->name) + 24); }
        }
    }
    if (n_info > (size_t)INT32_MAX / 2) return rl_err("%s: too many tensors", first);
    ck->tensors = calloc(n_info + 1, sizeof *ck->tensors);
    ck->names = malloc(name_bytes + 1);
    if (!ck->tensors || !ck->names) return rl_err("%s: out of memory", first);
    char *np = ck->names;
    for (int i = 0; i < n_parts; i++) {
        const rl_gguf *g = ck->ggufs[i];
        for (int64_t k = 0; k < g->n_tensors; k++) {
            const rl_gguf_tensor *t = &g->tensors[k];
            int dt = dtype_of_ggml(t->type);
            if (dt < 0) return rl_err("%s: tensor '%s': ggml type %s (%u) is not supported", ck->paths[i], t->name,
                                      rl_ggml_type_name(t->type), t->type);
            rl_tensor_info *ti = &ck->tensors[ck->n_tensors++];
            ti->name = t->name;
            ti->dtype = (rl_dtype)dt;
            ti->ndim = t->n_dims;
            for (int d = 0; d < t->n_dims; d++) ti->shape[d] = t->ne[t->n_dims - 1 - d];
            if (t->n_dims == 3 && !is_expert_stack(t)) {
                ti->ndim = 2;
                ti->shape[0] = t->ne[2] * t->ne[1]; /* the reader bounds ne[] so that the product fits */
                ti->shape[1] = t->ne[0];
            }
            ti->file = i;
            ti->offset = t->offset;
            ti->nbytes = t->nbytes;
            if (!is_expert_stack(t)) continue;
            uint64_t slice = t->nbytes / (uint64_t)t->ne[2];
            size_t base = strlen(t->name) - 7; /* drop ".weight" */
            for (int64_t e = 0; e < t->ne[2]; e++) {
                rl_tensor_info *ve = &ck->tensors[ck->n_tensors++];
                *ve = *ti;
                int w = snprintf(np, strlen(t->name) + 24, "%.*s.%lld.weight", (int)base, t->name, (long long)e);
                ve->name = np;
                np += w + 1;
                ve->ndim = 2;
                ve->shape[0] = t->ne[1];
                ve->shape[1] = t->ne[0];
                ve->offset = t->offset + (uint64_t)e * slice;
                ve->nbytes = slice;
            }
        }
    }
    return build_index(ck, first);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Finds the single "*<suffix>" regular file in dir. Returns 1 and fills out, 0 if none,
 * or -1 with rl_err if several or on error. */
static int find_single(const char *dir, const char *suffix, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return rl_err("%s: cannot open directory: %s", dir, strerror(errno));
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, suffix)) continue;
        char path[PATH_CAP];
        if (rl_path_join(path, sizeof path, dir, de->d_name) != 0) { found = -1; break; }
        if (!rl_file_exists(path)) continue;
        if (found) {
            rl_err("%s: several *%s files (%s, %s) and no model.safetensors[.index.json]", dir,
                   suffix, out, path);
            found = -1;
            break;
        }
        snprintf(out, cap, "%s", path);
        found = 1;
    }
    closedir(d);
    return found;
}

rl_checkpoint *rl_ckpt_open(const char *model_dir) {
    rl_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) { rl_err("%s: out of memory", model_dir); return NULL; }
    char single[PATH_CAP], index[PATH_CAP], path[PATH_CAP];
    struct stat st;
    int rc = -1, r;
    if (stat(model_dir, &st) != 0) {
        rl_err("%s: cannot open model: %s", model_dir, strerror(errno));
    } else if (S_ISREG(st.st_mode)) {
        rc = rl_gguf_is_path(model_dir) ? load_gguf(ck, model_dir) : load_single(ck, model_dir);
    } else if (rl_path_join(single, sizeof single, model_dir, "model.safetensors") != 0 ||
               rl_path_join(index, sizeof index, model_dir, "model.safetensors.index.json") != 0) {
        /* rl_err set: path too long */
    } else if (rl_file_exists(single)) {
        rc = load_single(ck, single);
    } else if (rl_file_exists(index)) {
        rc = load_sharded(ck, model_dir, index);
    } else if ((r = find_single(model_dir, ".safetensors.index.json", path, sizeof path))) {
        if (r > 0) rc = load_sharded(ck, model_dir, path);
    } else if ((r = find_single(model_dir, ".safetensors", path, sizeof path))) {
        if (r > 0) rc = load_single(ck, path);
    } else if ((r = rl_gguf_find(model_dir, path, sizeof path))) {
        if (r > 0) rc = load_gguf(ck, path);
    } else {
        rl_err("%s: no model.safetensors, model.safetensors.index.json, *.safetensors or *.gguf file",
               model_dir);
    }
    if (rc != 0) { rl_ckpt_close(ck); return NULL; }
    return ck;
}

void rl_ckpt_close(rl_checkpoint *ck) {
    if (!ck) return;
    for (int i = 0; i < ck->n_files; i++) {
        if (ck->fds[i] >= 0) close(ck->fds[i]);
        rl_st_free(ck->hdrs[i]);
        rl_gguf_free(ck->ggufs[i]);
        free(ck->paths[i]);
    }
    free(ck->ggufs);
    free(ck->names);
    free(ck->paths);
    free(ck->fds);
    free(ck->hdrs);
    free(ck->tensors);
    free(ck->slots);
    free(ck);
}

const rl_tensor_info *rl_ckpt_find(const rl_checkpoint *ck, const char *name) {
    for (size_t s = (size_t)hash_name(name) & ck->mask; ck->slots[s] >= 0; s = (s + 1) & ck->mask)
        if (!strcmp(ck->tensors[ck->slots[s]].name, name)) return &ck->tensors[ck->slots[s]];
    return NULL;
}

int rl_ckpt_n_tensors(const rl_checkpoint *ck) { return ck->n_tensors; }

const rl_tensor_info *rl_ckpt_tensor(const rl_checkpoint *ck, int i) {
    return i >= 0 && i < ck->n_tensors ? &ck->tensors[i] : NULL;
}

int rl_ckpt_n_files(const rl_checkpoint *ck) { return ck->n_files; }

const char *rl_ckpt_path(const rl_checkpoint *ck, int i) {
    return i >= 0 && i < ck->n_files ? ck->paths[i] : NULL;
}

int rl_ckpt_fd(const rl_checkpoint *ck, int i) {
    return i >= 0 && i < ck->n_files ? ck->fds[i] : -1;
}

uint64_t rl_ckpt_file_size(const rl_checkpoint *ck, int i) {
    if (i < 0 || i >= ck->n_files) return 0;
    return ck->hdrs[i] ? ck->hdrs[i]->file_size : ck->ggufs[i] ? ck->ggufs[i]->file_size : 0;
}

const rl_gguf *rl_ckpt_gguf(const rl_checkpoint *ck, int i) {
    return i >= 0 && i < ck->n_files ? ck->ggufs[i] : NULL;
}

const rl_st_header *rl_ckpt_header(const rl_checkpoint *ck, int i) {
    return i >= 0 && i < ck->n_files ? ck->hdrs[i] : NULL;
}

int rl_ckpt_read(const rl_checkpoint *ck, const rl_tensor_info *t, void *dst) {
    if (t->file < 0 || t->file >= ck->n_files)
        return rl_err("checkpoint: tensor '%s': bad file index %d", t->name, t->file);
    const char *path = ck->paths[t->file];
    int fd = ck->fds[t->file];
    uint64_t got = 0;
    while (got < t->nbytes) {
        size_t want = t->nbytes - got > (1u << 30) ? (1u << 30) : (size_t)(t->nbytes - got);
        ssize_t r = pread(fd, (char *)dst + got, want, (off_t)(t->offset + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return rl_err("%s: tensor '%s': read failed: %s", path, t->name, strerror(errno));
        }
        if (r == 0)
            return rl_err("%s: tensor '%s': short read, got %llu of %llu bytes at offset %llu "
                          "(file truncated?)", path, t->name, (unsigned long long)got,
                          (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        got += (uint64_t)r;
    }
    return 0;
}
