/* Quantized layer cache: choice of tensors, bounded-memory writer, freshness check, atomic
 * install (see qcache.h). */
#include "quant/qcache.h"
#include "format/checkpoint.h"
#include "format/gguf_find.h"
#include "format/st_writer.h"
#include "io/stage.h"
#include "backend/cpu/matmul.h"
#include "model/config.h"
#include "model/weights_moe.h"
#include "quant/quantize.h"
#include "util/err.h"
#include "util/fileio.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_FLOATS ((size_t)4 << 20) /* rows converted per chunk: about 16 MB of f32 */
#define SIDE_MAX ((off_t)256 << 20)     /* side files (tokenizer, configs) larger than this are skipped */

/* Layer roles stored quantized (matrices consumed only by rl_matmul); routers, the shared-expert
 * gate vector, DeltaNet's tiny a/b projections and the DSA indexer's head weights stay as they are. */
static const int QUANT_ROLES[] = {
    W_Q, W_K, W_V, W_O, W_QKV, W_GATE, W_UP, W_DOWN, W_GATE_UP,
    W_SHX_GATE, W_SHX_UP, W_SHX_DOWN, W_MLA_Q_A, W_MLA_Q_B, W_MLA_KV_A, W_MLA_KV_B, W_IDX_Q_B, W_IDX_K,
};
/* Roles kept at 8 bits even in a 4-bit cache: the Gated DeltaNet projections feed a recurrent
 * state that accumulates their error (4 bits there doubled the logit error on the fixture). */
static const int Q8_ROLES[] = {W_LIN_QKV, W_LIN_Z, W_LIN_OUT};

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int bits_ok(int bits) {
    return bits == 8 || bits == 4 ? 0 : rl_err("quantize: --bits must be 8 or 4, got %d", bits);
}

/* mkdir -p of path's parents and path itself. */
static int mkdirs(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return rl_err("%s: path too long", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) return rl_err("%s: cannot create directory: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST) return rl_err("%s: cannot create directory: %s", tmp, strerror(errno));
    return 0;
}

/* Removes a flat directory (regular files only, as the cache is) and the directory. */
static void rm_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !rl_path_join(p, sizeof p, dir, e->d_name)) unlink(p);
        closedir(d);
    }
    rmdir(dir);
}

int rl_qcache_default_dir(const char *model_dir, int bits, char *out, size_t cap) {
    if (bits_ok(bits)) return -1;
    char real[PATH_MAX], name[32];
    if (!realpath(model_dir, real)) return rl_err("%s: %s", model_dir, strerror(errno));
    snprintf(name, sizeof name, ".rabbitllm-q%d", bits);
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 of the real path */
    for (const char *p = real; *p; p++) { h ^= (unsigned char)*p; h *= 1099511628211ull; }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg) n = snprintf(out, cap, "%s/rabbitllm/%016" PRIx64 "-q%d", xdg, h, bits);
    else if (home && *home) n = snprintf(out, cap, "%s/.cache/rabbitllm/%016" PRIx64 "-q%d", home, h, bits);
    else if (access(real, W_OK) == 0) /* no user cache: beside the model, hidden */
        return rl_path_join(out, cap, real, name) ? rl_err("%s: path too long", real) : 0;
    else return rl_err("%s: not writable and neither XDG_CACHE_HOME nor HOME is set: give --out DIR", model_dir);
    if (n < 0 || (size_t)n >= cap) return rl_err("cache path too long");
    return 0;
}

/* Appends "name:size:mtime_s.mtime_ns;" of path (missing files: nothing) to fp. */
static int fp_add(char **fp, size_t *len, size_t *capp, const char *path) {
    struct stat st;
    if (stat(path, &st)) return errno == ENOENT ? 0 : rl_err("%s: cannot stat: %s", path, strerror(errno));
    char item[512];
    int n = snprintf(item, sizeof item, "%s:%lld:%lld.%09ld;", base_name(path), (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    if (n < 0 || n >= (int)sizeof item) return rl_err("%s: file name too long", path);
    if (*len + (size_t)n + 1 > *capp) {
        size_t c = (*capp ? *capp : 1024);
        while (*len + (size_t)n + 1 > c) c *= 2;
        char *p = realloc(*fp, c);
        if (!p) return rl_err("out of memory");
        *fp = p;
        *capp = c;
    }
    memcpy(*fp + *len, item, (size_t)n + 1);
    *len += (size_t)n;
    return 0;
}

/* Fingerprint of the source as it is now (malloc'd) from its open checkpoint. */
static char *fingerprint(const char *model_dir, const rl_checkpoint *ck) {
    char *fp = NULL, p[PATH_MAX];
    size_t len = 0, cap = 0;
    static const char *const SIDE[] = {"config.json", "generation_config.json", "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof SIDE / sizeof *SIDE; i++)
        if (rl_path_join(p, sizeof p, model_dir, SIDE[i]) || fp_add(&fp, &len, &cap, p)) { free(fp); return NULL; }
    for (int i = 0; i < rl_ckpt_n_files(ck); i++)
        if (fp_add(&fp, &len, &cap, rl_ckpt_path(ck, i))) { free(fp); return NULL; }
    if (!fp && !(fp = calloc(1, 1))) rl_err("out of memory");
    return fp;
}

int rl_qcache_fresh(const char *model_dir, int bits, const char *cache_dir) {
    if (bits_ok(bits)) return -1;
    char real[PATH_MAX], bs[8], cfg[PATH_MAX];
    if (!realpath(model_dir, real)) return rl_err("%s: %s", model_dir, strerror(errno));
    struct stat st;
    if (stat(cache_dir, &st) || !S_ISDIR(st.st_mode)) { rl_err("%s: no cache yet", cache_dir); return 0; }
    if (rl_path_join(cfg, sizeof cfg, cache_dir, "config.json") || !rl_file_exists(cfg)) { rl_err("%s: no config.json", cache_dir); return 0; }
    rl_checkpoint *src = rl_ckpt_open(real);
    if (!src) return -1;
    char *fp = fingerprint(real, src);
    rl_ckpt_close(src);
    if (!fp) return -1;
    rl_checkpoint *ck = rl_ckpt_open(cache_dir);
    int ok = ck != NULL;
    if (!ck) rl_err_prefix("stale cache: ");
    snprintf(bs, sizeof bs, "%d", bits);
    for (int i = 0; ok && i < rl_ckpt_n_files(ck); i++) {
        const rl_st_header *h = rl_ckpt_header(ck, i);
        const char *v = rl_st_meta(h, "rabbitllm.quant.version"), *b = rl_st_meta(h, "rabbitllm.quant.bits");
        const char *s = rl_st_meta(h, "rabbitllm.quant.source"), *f = rl_st_meta(h, "rabbitllm.quant.source_files");
        if (!v || strcmp(v, RL_QCACHE_VERSION)) ok = 0, rl_err("%s: not a rabbitllm cache of format version %s", h->path, RL_QCACHE_VERSION);
        else if (!b || strcmp(b, bs)) ok = 0, rl_err("%s: a %s-bit cache, not %d-bit", h->path, b ? b : "?", bits);
        else if (!s || strcmp(s, real)) ok = 0, rl_err("%s: a cache of %s, not %s", h->path, s ? s : "?", real);
        else if (!f || strcmp(f, fp)) ok = 0, rl_err("%s: stale: the source files changed since it was written", h->path);
    }
    rl_ckpt_close(ck);
    free(fp);
    return ok;
}

/* The dtype tensor t gets in the cache: qt for layer matrices, Q8_0 for the head, else its own. */
static rl_dtype out_dtype(const rl_tensor_info *t, rl_dtype want) {
    if (want == t->dtype) return t->dtype;
    if (t->dtype != RL_DT_F32 && t->dtype != RL_DT_F16 && t->dtype != RL_DT_BF16) return t->dtype;
    if (t->ndim < 2 || t->ndim > 3 || t->shape[t->ndim - 1] % RL_QBLOCK || t->shape[t->ndim - 1] == 0) return t->dtype;
    return want;
}

/* Index of info t in ck (rl_ckpt_tensor(ck, i) are the elements of one array). */
static int tensor_index(const rl_checkpoint *ck, const rl_tensor_info *t) { return (int)(t - rl_ckpt_tensor(ck, 0)); }

/* Marks in want[] (indexed like rl_ckpt_tensor) which tensors to quantize and to what. */
static int plan(const char *dir, const rl_checkpoint *ck, int bits, rl_dtype *want) {
    rl_model_desc *d = malloc(sizeof *d);
    if (!d) return rl_err("out of memory");
    int n = rl_ckpt_n_tensors(ck), n_st = 0, rc = -1;
    rl_stage *st = NULL;
    if (rl_config_load(dir, d) || rl_stages_build(d, ck, 0, &st, &n_st)) goto out;
    if (d->quant.method) { /* its packed tensors are not plain matrices; it streams as it is */
        rl_err("%s: the checkpoint is already quantized (quantization_config); run it as it is, without quantize / --quant", dir);
        goto out;
    }
    rl_dtype q = bits == 8 ? RL_DT_Q8_0 : RL_DT_Q4_1;
    for (int i = 0; i < n; i++) want[i] = rl_ckpt_tensor(ck, i)->dtype;
#define MARK(t, dt) do { const rl_tensor_info *t_ = (t); \
        if (t_) want[tensor_index(ck, t_)] = out_dtype(t_, dt); } while (0)
    for (int l = 0; l < d->n_layers; l++) {
        for (size_t k = 0; k < sizeof QUANT_ROLES / sizeof *QUANT_ROLES; k++) MARK(st[l].t[QUANT_ROLES[k]], q);
        for (size_t k = 0; k < sizeof Q8_ROLES / sizeof *Q8_ROLES; k++) MARK(st[l].t[Q8_ROLES[k]], RL_DT_Q8_0);
        if (d->n_experts > 0 && d->layer_moe[l])
            for (int e = 0; e < (d->moe_fused ? 1 : d->n_experts); e++)
                for (int k = 0; k < 3; k++) {
                    char name[320];
                    int64_t rows, cols;
                    if (rl_moe_expert_name(d, l, e, k, name, sizeof name, &rows, &cols)) { rl_err("%s: expert tensor name too long", dir); goto out; }
                    if (name[0]) MARK(rl_ckpt_find(ck, name), q);
                }
    }
    MARK(rl_global_tensor(d, ck, G_LM_HEAD), RL_DT_Q8_0); /* the embedding too when tied */
#undef MARK
    rc = 0;
out:
    free(st);
    free(d);
    return rc;
}

/* Streams tensor t from ck into w as dtype dt (a copy, or quantized rows). */
static int write_tensor(rl_st_writer *w, const rl_checkpoint *ck, const rl_tensor_info *t, rl_dtype dt,
                        uint8_t *raw, float *f, uint8_t *q, size_t raw_cap) {
    int fd = rl_ckpt_fd(ck, t->file);
    const char *path = rl_ckpt_path(ck, t->file);
    if (dt == t->dtype) { /* copy in chunks */
        for (uint64_t off = 0; off < t->nbytes;) {
            size_t k = t->nbytes - off < raw_cap ? (size_t)(t->nbytes - off) : raw_cap;
            if (rl_pread_full(fd, raw, k, t->offset + off, path) || rl_st_writer_write(w, raw, k)) return -1;
            off += k;
        }
        return 0;
    }
    int64_t cols = t->shape[t->ndim - 1], rows = 1;
    for (int k = 0; k < t->ndim - 1; k++) rows *= t->shape[k];
    size_t src_rb = (size_t)cols * RL_DTYPES[t->dtype].size, out_rb = rl_dtype_row_bytes(dt, cols);
    int64_t per = (int64_t)(CHUNK_FLOATS / (size_t)cols);
    if (per < 1) per = 1;
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t nr = rows - r0 < per ? rows - r0 : per;
        if (rl_pread_full(fd, raw, (size_t)nr * src_rb, t->offset + (uint64_t)r0 * src_rb, path)) return -1;
        rl_convert_to_f32(f, raw, t->dtype, nr * cols);
        for (int64_t r = 0; r < nr; r++)
            if (rl_quantize_row(dt, f + r * cols, q + (size_t)r * out_rb, cols))
                return rl_err_prefix("%s: tensor %s row %lld: ", path, t->name, (long long)(r0 + r));
        if (rl_st_writer_write(w, q, (size_t)nr * out_rb)) return -1;
    }
    return 0;
}

/* Copies the small side files (configs, tokenizer, chat template) of src into dst. */
static int copy_side_files(const char *src, const char *dst) {
    static const char *const EXT[] = {".json", ".model", ".txt", ".jinja", ".tiktoken", ".vocab"};
    DIR *d = opendir(src);
    if (!d) return rl_err("%s: cannot list: %s", src, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        const char *n = e->d_name;
        size_t nl = strlen(n);
        int want = 0;
        for (size_t i = 0; i < sizeof EXT / sizeof *EXT; i++) {
            size_t el = strlen(EXT[i]);
            if (nl > el && !strcmp(n + nl - el, EXT[i])) want = 1;
        }
        if (!want || n[0] == '.' || (nl > 23 && !strcmp(n + nl - 23, ".safetensors.index.json"))) continue;
        char sp[PATH_MAX], dp[PATH_MAX];
        struct stat st;
        if (rl_path_join(sp, sizeof sp, src, n) || rl_path_join(dp, sizeof dp, dst, n)) { rc = rl_err("%s: path too long", n); break; }
        if (stat(sp, &st) || !S_ISREG(st.st_mode) || st.st_size > SIDE_MAX) continue;
        size_t len;
        char *buf = rl_read_file(sp, &len);
        if (!buf || rl_write_file_atomic(dp, buf, len)) rc = -1;
        free(buf);
    }
    closedir(d);
    return rc;
}

/* Removes leftovers "<out>.tmp-<pid>" / "<out>.old-<pid>" of processes that no longer run. */
static void sweep_leftovers(const char *out_dir) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", out_dir);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : out_dir;
    if (slash) *slash = 0; else snprintf(parent, sizeof parent, ".");
    size_t bl = strlen(base);
    DIR *d = opendir(slash && !parent[0] ? "/" : parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) || (strncmp(n + bl, ".tmp-", 5) && strncmp(n + bl, ".old-", 5))) continue;
        long pid = strtol(n + bl + 5, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        char p[PATH_MAX];
        if (!rl_path_join(p, sizeof p, slash && !parent[0] ? "/" : parent, n)) rm_flat_dir(p);
    }
    closedir(d);
}

static int cmp_offset(const void *a, const void *b) {
    const rl_tensor_info *x = *(const rl_tensor_info *const *)a, *y = *(const rl_tensor_info *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static rl_qcache_progress_fn progress_fn;
static void *progress_ud;

void rl_qcache_set_progress(rl_qcache_progress_fn fn, void *ud) { progress_fn = fn; progress_ud = ud; }

int rl_qcache_build(const char *model_dir, int bits, const char *out_dir, rl_qcache_stats *stats) {
    if (bits_ok(bits)) return -1;
    char real[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX], path[PATH_MAX], bs[8];
    if (!realpath(model_dir, real)) return rl_err("%s: %s", model_dir, strerror(errno));
    if (rl_path_join(path, sizeof path, real, "config.json") == 0 && !rl_file_exists(path) &&
        rl_gguf_find(real, tmp, sizeof tmp) > 0)
        return rl_err("%s: a GGUF model is quantized already; quantize / --quant take a safetensors checkpoint", model_dir);
    size_t ol = strlen(out_dir);
    while (ol > 1 && out_dir[ol - 1] == '/') ol--;
    if (snprintf(tmp, sizeof tmp, "%.*s.tmp-%ld", (int)ol, out_dir, (long)getpid()) >= (int)sizeof tmp ||
        snprintf(old, sizeof old, "%.*s.old-%ld", (int)ol, out_dir, (long)getpid()) >= (int)sizeof old)
        return rl_err("%s: path too long", out_dir);
    const char *fail_env = getenv("RL_QUANT_FAIL_AFTER");
    long fail_after = fail_env && *fail_env ? strtol(fail_env, NULL, 10) : -1;
    rl_qcache_stats S = {0};
    rl_checkpoint *ck = rl_ckpt_open(real);
    if (!ck) return -1;
    int n = rl_ckpt_n_tensors(ck), nf = rl_ckpt_n_files(ck), rc = -1, made_tmp = 0;
    rl_dtype *want = malloc(((size_t)n + 1) * sizeof *want);
    rl_st_spec *specs = malloc(((size_t)n + 1) * sizeof *specs);
    const rl_tensor_info **order = malloc(((size_t)n + 1) * sizeof *order);
    const char **names = malloc(((size_t)n + 1) * sizeof *names), **shards = malloc(((size_t)n + 1) * sizeof *shards);
    uint8_t *raw = malloc(CHUNK_FLOATS * 4), *qb = malloc(CHUNK_FLOATS * 2);
    float *f = malloc(CHUNK_FLOATS * sizeof(float));
    char *fp = NULL;
    if (!want || !specs || !order || !names || !shards || !raw || !qb || !f) { rl_err("out of memory"); goto out; }
    if (plan(real, ck, bits, want) || !(fp = fingerprint(real, ck))) goto out;
    /* a row must fit the chunk buffers (CHUNK_FLOATS f32 / 4-byte source items) */
    for (int i = 0; i < n; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        if (want[i] != t->dtype && (uint64_t)t->shape[t->ndim - 1] > CHUNK_FLOATS) want[i] = t->dtype;
    }
    sweep_leftovers(out_dir);
    /* parent of out_dir exists (the default XDG path may not yet) */
    snprintf(path, sizeof path, "%.*s", (int)ol, out_dir);
    char *sl = strrchr(path, '/');
    if (sl && sl != path) { *sl = 0; if (mkdirs(path)) goto out; }
    if (mkdir(tmp, 0755)) { rl_err("%s: cannot create directory: %s", tmp, strerror(errno)); goto out; }
    made_tmp = 1;
    snprintf(bs, sizeof bs, "%d", bits);
    const char *meta[] = {"format", "pt", "rabbitllm.quant.version", RL_QCACHE_VERSION, "rabbitllm.quant.bits", bs,
                          "rabbitllm.quant.source", real, "rabbitllm.quant.source_files", fp, NULL};
    long done = 0;
    uint64_t total = 0, all_bytes = 0;
    int n_names = 0;
    for (int i = 0; i < n; i++) all_bytes += rl_ckpt_tensor(ck, i)->nbytes;
    for (int fi = 0; fi < nf; fi++) {
        /* this file's tensors in file order (sequential reads) */
        int k = 0;
        for (int i = 0; i < n; i++)
            if (rl_ckpt_tensor(ck, i)->file == fi) order[k++] = rl_ckpt_tensor(ck, i);
        qsort(order, (size_t)k, sizeof *order, cmp_offset);
        if (!k) continue;
        for (int j = 0; j < k; j++) {
            const rl_tensor_info *t = order[j];
            specs[j] = (rl_st_spec){.name = t->name, .dtype = want[tensor_index(ck, t)], .ndim = t->ndim};
            memcpy(specs[j].shape, t->shape, sizeof t->shape);
        }
        const char *bn = base_name(rl_ckpt_path(ck, fi));
        if (rl_path_join(path, sizeof path, tmp, bn)) { rl_err("%s: path too long", tmp); goto out; }
        rl_st_writer *w = rl_st_writer_open(path, k, specs, meta);
        if (!w) goto out;
        for (int j = 0; j < k; j++) {
            const rl_tensor_info *t = order[j];
            if (fail_after >= 0 && done >= fail_after) {
                rl_err_c(RL_EC_IO, "%s: simulated failure after %ld tensors (RL_QUANT_FAIL_AFTER)", out_dir, done);
                rl_st_writer_abort(w);
                goto out;
            }
            if (write_tensor(w, ck, t, specs[j].dtype, raw, f, qb, CHUNK_FLOATS * 4)) { rl_st_writer_abort(w); goto out; }
            done++;
            S.src_bytes += t->nbytes;
            if (progress_fn) progress_fn(progress_ud, S.src_bytes, all_bytes);
            if (specs[j].dtype != t->dtype) S.n_quantized++; else S.n_copied++;
            names[n_names] = t->name;
            shards[n_names++] = bn;
        }
        uint64_t sz = rl_st_writer_data_size(w);
        if (rl_st_writer_close(w)) goto out;
        total += sz;
    }
    S.out_bytes = total;
    if (rl_path_join(path, sizeof path, real, "model.safetensors.index.json")) { rl_err("path too long"); goto out; }
    if (nf > 1 || rl_file_exists(path)) {
        if (!rl_file_exists(path) && nf > 1) { rl_err("%s: several shards but no model.safetensors.index.json", real); goto out; }
        if (rl_st_write_index(tmp, total, n_names, names, shards)) goto out;
    }
    if (copy_side_files(real, tmp)) goto out;
    /* install: move an old cache aside, rename the complete one in, drop the old one */
    struct stat st;
    int had_old = 0;
    snprintf(path, sizeof path, "%.*s", (int)ol, out_dir);
    if (lstat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) { rl_err("%s: exists and is not a directory", path); goto out; }
        if (rename(path, old)) { rl_err("%s: cannot move the old cache aside: %s", path, strerror(errno)); goto out; }
        had_old = 1;
    }
    if (rename(tmp, path)) {
        rl_err("%s: cannot install the cache: %s", path, strerror(errno));
        if (had_old) rename(old, path);
        goto out;
    }
    made_tmp = 0;
    rl_fsync_parent(path);
    if (had_old) rm_flat_dir(old);
    rc = 0;
    if (stats) *stats = S;
out:
    if (made_tmp) rm_flat_dir(tmp);
    rl_ckpt_close(ck);
    free(want); free(specs); free(order); free(names); free(shards); free(raw); free(qb); free(f); free(fp);
    return rc;
}

int rl_qcache_ensure(const char *model_dir, int bits, const char *out_dir, char *out, size_t cap, int *built) {
    if (built) *built = 0;
    if (out_dir) {
        if (snprintf(out, cap, "%s", out_dir) >= (int)cap) return rl_err("%s: path too long", out_dir);
    } else if (rl_qcache_default_dir(model_dir, bits, out, cap)) return -1;
    int fr = rl_qcache_fresh(model_dir, bits, out);
    if (fr < 0) return -1;
    if (fr) return 0;
    if (rl_qcache_build(model_dir, bits, out, NULL)) return -1;
    if (built) *built = 1;
    return 0;
}
