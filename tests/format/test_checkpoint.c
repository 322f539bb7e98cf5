/* Tests for the checkpoint tensor index: every shared fixture opens and reads, shapes match what
 * each config implies, sharded == unsharded, and one case per malformed directory/index/shard. */
#include "test.h"
#include "fmt_util.h"
#include "format/checkpoint.h"
#include "format/st_writer.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <dirent.h>

static cJSON *load_json(const char *path) {
    char *text = rl_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* Every tensor of ck lies inside its file, is found by name, and reads back. */
static void check_whole(const rl_checkpoint *ck, const char *label) {
    int n = rl_ckpt_n_tensors(ck);
    CHECK(n > 0, "%s: no tensors", label);
    for (int f = 0; f < rl_ckpt_n_files(ck); f++)
        CHECK(rl_ckpt_fd(ck, f) >= 0 && rl_ckpt_path(ck, f) && rl_ckpt_header(ck, f), "%s file %d",
              label, f);
    for (int i = 0; i < n; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        CHECK(t->file >= 0 && t->file < rl_ckpt_n_files(ck), "%s: %s file", label, t->name);
        CHECK(t->offset + t->nbytes <= rl_ckpt_file_size(ck, t->file), "%s: %s range", label,
              t->name);
        CHECK(rl_ckpt_find(ck, t->name) == t, "%s: find %s", label, t->name);
        if (i) CHECK(strcmp(rl_ckpt_tensor(ck, i - 1)->name, t->name) < 0, "%s: sorted", label);
        void *buf = malloc(t->nbytes ? t->nbytes : 1);
        CHECK(buf && rl_ckpt_read(ck, t, buf) == 0, "%s: read %s: %s", label, t->name,
              rl_errmsg());
        free(buf);
    }
    CHECK(rl_ckpt_tensor(ck, -1) == NULL && rl_ckpt_tensor(ck, n) == NULL, "%s: bounds", label);
    CHECK(rl_ckpt_find(ck, "no.such.tensor") == NULL, "%s: absent name", label);
}

static int dtype_of_config(const cJSON *cfg) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "torch_dtype"));
    if (!s) s = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "dtype"));
    if (!s) return -1;
    if (!strcmp(s, "bfloat16")) return RL_DT_BF16;
    if (!strcmp(s, "float16")) return RL_DT_F16;
    if (!strcmp(s, "float32")) return RL_DT_F32;
    return -1;
}

static int cfg_int(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(cfg, key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* For llama-style checkpoints: embed/q_proj shapes and dtype implied by config.json.
 * Returns 1 if the fixture had those tensors and was checked. */
static int check_config_shapes(const rl_checkpoint *ck, const char *dir, const char *label) {
    const rl_tensor_info *emb = rl_ckpt_find(ck, "model.embed_tokens.weight");
    const rl_tensor_info *q = rl_ckpt_find(ck, "model.layers.0.self_attn.q_proj.weight");
    if (!emb || !q) return 0;
    char path[4096];
    T_FMT(path, "%s/config.json", dir);
    cJSON *cfg = load_json(path);
    CHECK(cfg, "%s: config", label);
    if (!cfg) return 0;
    int hidden = cfg_int(cfg, "hidden_size"), heads = cfg_int(cfg, "num_attention_heads");
    int hd = cfg_int(cfg, "head_dim"), vocab = cfg_int(cfg, "vocab_size");
    int layers = cfg_int(cfg, "num_hidden_layers"), dt = dtype_of_config(cfg);
    if (hd <= 0 && heads > 0) hd = hidden / heads;
    if (cfg_int(cfg, "qk_nope_head_dim") > 0) /* MLA: q heads carry nope + rope parts */
        hd = cfg_int(cfg, "qk_nope_head_dim") + cfg_int(cfg, "qk_rope_head_dim");
    CHECK(emb->ndim == 2 && emb->shape[0] == vocab && emb->shape[1] == hidden,
          "%s: embed shape [%lld,%lld] vs vocab %d hidden %d", label, (long long)emb->shape[0],
          (long long)emb->shape[1], vocab, hidden);
    CHECK(q->ndim == 2 && q->shape[0] == (int64_t)heads * hd && q->shape[1] == hidden,
          "%s: q_proj shape [%lld,%lld]", label, (long long)q->shape[0], (long long)q->shape[1]);
    CHECK(q->dtype == emb->dtype, "%s: q_proj dtype %s", label, RL_DTYPES[q->dtype].st_name);
    if (!strncmp(label, "llama", 5)) /* the llama fixtures' torch_dtype is the weights' dtype */
        CHECK((int)q->dtype == dt, "%s: q_proj dtype %s vs config", label,
              RL_DTYPES[q->dtype].st_name);
    CHECK(q->nbytes == (uint64_t)q->shape[0] * q->shape[1] * RL_DTYPES[q->dtype].size, "%s: nbytes",
          label);
    char name[128];
    T_FMT(name, "model.layers.%d.input_layernorm.weight", layers - 1);
    CHECK(rl_ckpt_find(ck, name), "%s: last layer %s", label, name);
    T_FMT(name, "model.layers.%d.input_layernorm.weight", layers);
    CHECK(!rl_ckpt_find(ck, name), "%s: no layer past num_hidden_layers", label);
    cJSON_Delete(cfg);
    return 1;
}

static void test_all_fixtures_open(void) {
    char root[4096], dir[4096];
    T_FMT(root, "%s/fixtures", t_shared());
    DIR *d = opendir(root);
    CHECK(d, "cannot list %s", root);
    if (!d) return;
    int opened = 0, shaped = 0, llama_checked = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        T_FMT(dir, "%s/%s", root, de->d_name);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        rl_checkpoint *ck = rl_ckpt_open(dir);
        CHECK(ck, "%s: %s", de->d_name, rl_errmsg());
        if (!ck) continue;
        opened++;
        check_whole(ck, de->d_name);
        int ok = check_config_shapes(ck, dir, de->d_name);
        shaped += ok;
        if (ok && !strcmp(de->d_name, "llama")) llama_checked = 1;
        rl_ckpt_close(ck);
    }
    closedir(d);
    CHECK(opened >= 30, "only %d fixtures opened", opened);
    CHECK(shaped >= 10 && llama_checked, "config shapes checked on %d fixtures", shaped);
}

/* The sharded fixture indexes exactly the weight_map, across both shards, and matches the
 * unsharded qwen3 byte for byte. */
static void test_sharded_matches_single(void) {
    char sd[4096], ud[4096], ip[4096];
    T_FMT(sd, "%s/fixtures/qwen3_sharded", t_shared());
    T_FMT(ud, "%s/fixtures/qwen3", t_shared());
    T_FMT(ip, "%s/model.safetensors.index.json", sd);
    rl_checkpoint *s = rl_ckpt_open(sd), *u = rl_ckpt_open(ud);
    cJSON *idx = load_json(ip);
    CHECK(s && u && idx, "open: %s", rl_errmsg());
    if (s && u && idx) {
        const cJSON *wm = cJSON_GetObjectItem(idx, "weight_map");
        CHECK(rl_ckpt_n_files(s) == 2 && rl_ckpt_n_files(u) == 1, "file counts");
        CHECK(rl_ckpt_n_tensors(s) == cJSON_GetArraySize(wm), "n_tensors == weight_map size");
        CHECK(rl_ckpt_n_tensors(s) == rl_ckpt_n_tensors(u), "same tensor count");
        int used[2] = {0, 0};
        for (const cJSON *e = wm->child; e; e = e->next) {
            const rl_tensor_info *t = rl_ckpt_find(s, e->string);
            CHECK(t, "find %s", e->string);
            if (!t) continue;
            const char *p = rl_ckpt_path(s, t->file);
            size_t pl = strlen(p), sl = strlen(e->valuestring);
            CHECK(pl > sl && !strcmp(p + pl - sl, e->valuestring) && p[pl - sl - 1] == '/',
                  "%s in %s", e->string, p);
            used[t->file] = 1;
        }
        CHECK(used[0] && used[1], "both shards used");
        for (int i = 0; i < rl_ckpt_n_tensors(u); i++) {
            const rl_tensor_info *a = rl_ckpt_tensor(u, i), *b = rl_ckpt_find(s, a->name);
            CHECK(b, "sharded lacks %s", a->name);
            if (!b) continue;
            CHECK(a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes &&
                  !memcmp(a->shape, b->shape, sizeof a->shape), "%s differs", a->name);
            if (a->nbytes != b->nbytes) continue;
            char *x = malloc(a->nbytes + 1), *y = malloc(b->nbytes + 1);
            CHECK(rl_ckpt_read(u, a, x) == 0 && rl_ckpt_read(s, b, y) == 0 &&
                  !memcmp(x, y, a->nbytes), "%s bytes differ", a->name);
            free(x);
            free(y);
        }
    }
    cJSON_Delete(idx);
    rl_ckpt_close(s);
    rl_ckpt_close(u);
}

/* model_dir may name a .safetensors file, or a dir whose only file is some other *.safetensors. */
static void test_other_layouts(void) {
    char dir[32], src[4096], dst[4096];
    T_FMT(src, "%s/fixtures/llama/model.safetensors", t_shared());
    rl_checkpoint *ck = rl_ckpt_open(src);
    CHECK(ck && rl_ckpt_n_files(ck) == 1, "open file path: %s", rl_errmsg());
    int n = ck ? rl_ckpt_n_tensors(ck) : 0;
    rl_ckpt_close(ck);

    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(dst, "%s/consolidated.safetensors", dir);
    CHECK(t_copy(src, dst) == 0, "copy");
    ck = rl_ckpt_open(dir);
    CHECK(ck && rl_ckpt_n_tensors(ck) == n, "single other file: %s", rl_errmsg());
    CHECK(ck && !strcmp(rl_ckpt_path(ck, 0), dst), "path");
    rl_ckpt_close(ck);

    /* a second one makes it ambiguous */
    T_FMT(dst, "%s/other.safetensors", dir);
    CHECK(t_copy(src, dst) == 0, "copy");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dir, "several"), "ambiguous: %s", rl_errmsg());

    /* an index makes it sharded; tensors of the shards not in weight_map are ignored */
    const char *names[] = {"model.norm.weight", "lm_head.weight"};
    const char *shards[] = {"consolidated.safetensors", "other.safetensors"};
    CHECK(rl_st_write_index(dir, 0, 2, names, shards) == 0, "index: %s", rl_errmsg());
    ck = rl_ckpt_open(dir);
    CHECK(ck && rl_ckpt_n_tensors(ck) == 2 && rl_ckpt_n_files(ck) == 2, "subset index: %s",
          rl_errmsg());
    CHECK(ck && rl_ckpt_find(ck, "lm_head.weight") && rl_ckpt_find(ck, "lm_head.weight")->file == 1,
          "lm_head from other");
    CHECK(ck && !rl_ckpt_find(ck, "model.embed_tokens.weight"), "unlisted tensor ignored");
    rl_ckpt_close(ck);
    t_rmrf(dir);
}

/* Writes an index whose weight_map is the given JSON object text. */
static void write_index(char *path, const char *dir, const char *weight_map) {
    char text[8192];
    T_FMT(text, "{\"metadata\":{\"total_size\":0},\"weight_map\":%s}", weight_map);
    CHECK(t_write(path, dir, "model.safetensors.index.json", text, strlen(text)) == 0, "write");
}

/* A tiny valid shard "s1.safetensors" holding tensors a (F32 [2]) and b (BF16 [4]). */
static void write_shard(const char *dir, const char *name) {
    char path[4096];
    T_FMT(path, "%s/%s", dir, name);
    rl_st_spec sp[] = {{"a", RL_DT_F32, 1, {2}}, {"b", RL_DT_BF16, 1, {4}}};
    rl_st_writer *w = rl_st_writer_open(path, 2, sp, NULL);
    char zero[16] = {0};
    CHECK(w && rl_st_writer_write(w, zero, 16) == 0 && rl_st_writer_close(w) == 0, "shard: %s",
          rl_errmsg());
}

static void test_bad_index(void) {
    char dir[32], ip[4096], sp[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    write_shard(dir, "s1.safetensors");
    T_FMT(sp, "%s/s1.safetensors", dir);
    struct { const char *label, *wm, *w1, *w2; } cases[] = {
        {"ok", "{\"a\":\"s1.safetensors\",\"b\":\"./s1.safetensors\"}", NULL, NULL},
        {"not object", "[1]", "weight_map", NULL},
        {"empty", "{}", "weight_map is empty", NULL},
        {"value not string", "{\"a\":3}", "tensor 'a'", "not a file name"},
        {"absolute", "{\"a\":\"/etc/passwd\"}", "'/etc/passwd' escapes the model directory", NULL},
        {"dotdot", "{\"a\":\"../s1.safetensors\"}", "'../s1.safetensors' escapes", NULL},
        {"inner dotdot", "{\"a\":\"x/../../s1.safetensors\"}", "escapes", "tensor 'a'"},
        {"empty name", "{\"a\":\"\"}", "escapes", NULL},
        {"missing shard", "{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}",
         "s2.safetensors is missing", NULL},
        {"tensor not in shard", "{\"a\":\"s1.safetensors\",\"zz\":\"s1.safetensors\"}",
         "tensor 'zz': listed in", "absent from the shard"},
        {"duplicate entry", "{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}",
         "tensor 'a': listed twice", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_index(ip, dir, cases[i].wm);
        rl_checkpoint *ck = rl_ckpt_open(dir);
        if (!cases[i].w1) {
            CHECK(ck && rl_ckpt_n_tensors(ck) == 2 && rl_ckpt_n_files(ck) == 1, "%s: %s",
                  cases[i].label, rl_errmsg());
        } else {
            CHECK(!ck, "%s: opened", cases[i].label);
            /* the message names the index, or the shard for a per-shard problem */
            CHECK((t_msg_has(ip, NULL) || t_msg_has(sp, NULL)) && t_msg_has(cases[i].w1, cases[i].w2),
                  "%s: message '%s'", cases[i].label, rl_errmsg());
        }
        rl_ckpt_close(ck);
    }
    CHECK(t_write(ip, dir, "model.safetensors.index.json", "{\"weight_map\":", 14) == 0, "w");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(ip, "not valid JSON"), "json: %s", rl_errmsg());
    CHECK(t_write(ip, dir, "model.safetensors.index.json", "{}", 2) == 0, "w");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(ip, "weight_map"), "no map: %s", rl_errmsg());
    t_rmrf(dir);
}

/* Copies of the sharded fixture with one shard truncated: fails at open, naming that shard. */
static void test_truncated_shard(void) {
    char dir[32], src[4096], dst[4096];
    const char *files[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                           "model.safetensors.index.json"};
    CHECK(t_mkdtemp(dir), "mkdtemp");
    for (int i = 0; i < 3; i++) {
        T_FMT(src, "%s/fixtures/qwen3_sharded/%s", t_shared(), files[i]);
        T_FMT(dst, "%s/%s", dir, files[i]);
        CHECK(t_copy(src, dst) == 0, "copy %s", files[i]);
    }
    rl_checkpoint *ck = rl_ckpt_open(dir);
    CHECK(ck, "intact copy opens: %s", rl_errmsg());
    rl_ckpt_close(ck);

    T_FMT(dst, "%s/%s", dir, files[1]);
    struct stat st;
    CHECK(stat(dst, &st) == 0 && truncate(dst, st.st_size - 100) == 0, "truncate");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dst, "beyond the data section"), "data cut: %s",
          rl_errmsg());
    CHECK(truncate(dst, 100) == 0, "truncate");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dst, "runs past the end"), "header cut: %s",
          rl_errmsg());
    CHECK(truncate(dst, 3) == 0, "truncate");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dst, "too short"), "tiny: %s", rl_errmsg());
    t_rmrf(dir);
}

/* A file truncated after open: rl_ckpt_read reports a short read naming the file. */
static void test_truncated_after_open(void) {
    char dir[32], src[4096], dst[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(src, "%s/fixtures/llama/model.safetensors", t_shared());
    T_FMT(dst, "%s/model.safetensors", dir);
    CHECK(t_copy(src, dst) == 0, "copy");
    rl_checkpoint *ck = rl_ckpt_open(dir);
    CHECK(ck, "open: %s", rl_errmsg());
    if (ck) {
        const rl_tensor_info *last = rl_ckpt_tensor(ck, 0);
        for (int i = 1; i < rl_ckpt_n_tensors(ck); i++)
            if (rl_ckpt_tensor(ck, i)->offset > last->offset) last = rl_ckpt_tensor(ck, i);
        CHECK(truncate(dst, (off_t)(last->offset + last->nbytes / 2)) == 0, "truncate");
        char *buf = malloc(last->nbytes);
        CHECK(rl_ckpt_read(ck, last, buf) == -1 && t_msg_has(dst, "short read") &&
              t_msg_has(last->name, NULL), "short read: %s", rl_errmsg());
        free(buf);
        rl_ckpt_close(ck);
    }
    t_rmrf(dir);
}

static void test_bad_dirs(void) {
    char dir[32], p[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dir, "no model.safetensors"), "empty: %s", rl_errmsg());
    T_FMT(p, "%s/nope", dir);
    CHECK(!rl_ckpt_open(p) && t_msg_has(p, "cannot open"), "missing: %s", rl_errmsg());
    /* model.safetensors with a bad header */
    CHECK(t_write_st(p, dir, "model.safetensors", 2, "{x", 0) == 0, "write");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(p, "not valid JSON"), "bad single: %s", rl_errmsg());
    /* model.safetensors that is a directory: not a regular file, so it is not picked */
    t_rmrf(dir);
    t_mkdtemp(dir);
    T_FMT(p, "%s/model.safetensors", dir);
    CHECK(mkdir(p, 0700) == 0, "mkdir");
    CHECK(!rl_ckpt_open(dir) && t_msg_has(dir, "no model.safetensors"), "dir entry: %s",
          rl_errmsg());
    t_rmrf(dir);
}

int main(void) {
    RUN_SHARED(test_all_fixtures_open);
    RUN_SHARED(test_sharded_matches_single);
    RUN_SHARED(test_other_layouts);
    RUN(test_bad_index);
    RUN_SHARED(test_truncated_shard);
    RUN_SHARED(test_truncated_after_open);
    RUN(test_bad_dirs);
    TEST_END();
}
