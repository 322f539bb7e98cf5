/* Tests for the safetensors header parser and the incremental writer: round trip, writer
 * failure paths, the index writer, and one case per malformed header field. */
#include "test.h"
#include "fmt_util.h"
#include "util/fileio.h"
#include "format/safetensors.h"
#include "format/st_writer.h"
#include <cjson/cJSON.h>

/* Byte i of the test data stream. */
static unsigned char pat(uint64_t i) { return (unsigned char)(i * 131 + (i >> 8) * 7 + 3); }

static void test_roundtrip(void) {
    char dir[32], path[4096], tmp[4200];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(path, "%s/out.safetensors", dir);
    rl_st_spec specs[] = {
        {"a.weight", RL_DT_F32, 2, {2, 3}},
        {"b", RL_DT_BF16, 1, {5}},
        {"scalar", RL_DT_I64, 0, {0}},
        {"empty", RL_DT_F16, 2, {0, 5}},
        {"odd \"name\" \\ \x01 \xc3\xa9", RL_DT_U8, 3, {3, 1, 7}},
        {"z", RL_DT_F64, 1, {2}},
    };
    int n = (int)(sizeof specs / sizeof *specs);
    const char *meta[] = {"format", "pt", "note", "x\"y", NULL};
    rl_st_writer *w = rl_st_writer_open(path, n, specs, meta);
    CHECK(w, "open: %s", rl_errmsg());
    if (!w) { t_rmrf(dir); return; }
    uint64_t total = rl_st_writer_data_size(w);
    CHECK(total == 24 + 10 + 8 + 0 + 21 + 16, "total %llu", (unsigned long long)total);
    T_FMT(tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) == 0, "temp file exists while writing");
    unsigned char chunk[5];
    for (uint64_t i = 0; i < total;) { /* odd-sized chunks */
        size_t len = total - i < sizeof chunk ? (size_t)(total - i) : sizeof chunk;
        for (size_t k = 0; k < len; k++) chunk[k] = pat(i + k);
        CHECK(rl_st_writer_write(w, chunk, len) == 0, "write: %s", rl_errmsg());
        i += len;
    }
    CHECK(rl_st_writer_written(w) == total, "written");
    CHECK(rl_st_writer_close(w) == 0, "close: %s", rl_errmsg());
    CHECK(access(tmp, F_OK) != 0, "temp file renamed away");

    rl_st_header *h = rl_st_open(path);
    CHECK(h, "parse: %s", rl_errmsg());
    if (h) {
        CHECK(h->n_tensors == n, "n_tensors %d", h->n_tensors);
        CHECK(h->data_start % 8 == 0, "header padded to 8: %llu", (unsigned long long)h->data_start);
        CHECK(h->file_size == h->data_start + total, "file size");
        CHECK(rl_st_meta(h, "format") && !strcmp(rl_st_meta(h, "format"), "pt"), "meta format");
        CHECK(rl_st_meta(h, "note") && !strcmp(rl_st_meta(h, "note"), "x\"y"), "meta note");
        CHECK(!rl_st_meta(h, "nope"), "absent meta");
        CHECK(!rl_st_find(h, "missing"), "absent tensor");
        FILE *f = fopen(path, "rb");
        uint64_t off = 0;
        for (int i = 0; i < n; i++) {
            const rl_st_tensor *t = rl_st_find(h, specs[i].name);
            CHECK(t, "find %s", specs[i].name);
            if (!t) continue;
            CHECK(t->dtype == specs[i].dtype && t->ndim == specs[i].ndim, "%s dtype/ndim",
                  specs[i].name);
            for (int k = 0; k < t->ndim; k++)
                CHECK(t->shape[k] == specs[i].shape[k], "%s shape[%d]", specs[i].name, k);
            CHECK(t->offset == h->data_start + off, "%s offset", specs[i].name);
            unsigned char buf[64];
            CHECK(t->nbytes <= sizeof buf, "size");
            if (f && t->nbytes <= sizeof buf && fseek(f, (long)t->offset, SEEK_SET) == 0 &&
                fread(buf, 1, t->nbytes, f) == t->nbytes)
                for (uint64_t k = 0; k < t->nbytes; k++)
                    CHECK(buf[k] == pat(off + k), "%s byte %llu", specs[i].name,
                          (unsigned long long)k);
            off += t->nbytes;
        }
        if (f) fclose(f);
        rl_st_free(h);
    }
    t_rmrf(dir);
}

static void test_empty_file_roundtrip(void) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(path, "%s/e.safetensors", dir);
    rl_st_writer *w = rl_st_writer_open(path, 0, NULL, NULL);
    CHECK(w && rl_st_writer_close(w) == 0, "empty: %s", rl_errmsg());
    rl_st_header *h = rl_st_open(path);
    CHECK(h && h->n_tensors == 0 && h->data_start == 16, "empty parse: %s", rl_errmsg());
    rl_st_free(h);
    t_rmrf(dir);
}

static void test_writer_failures(void) {
    char dir[32], path[4096], tmp[4200];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(path, "%s/w.safetensors", dir);
    T_FMT(tmp, "%s.tmp", path);
    rl_st_spec s[] = {{"a", RL_DT_F32, 1, {4}}, {"b", RL_DT_BF16, 1, {2}}};
    unsigned char buf[64] = {0};

    /* too many bytes: write fails, close fails, nothing left behind */
    rl_st_writer *w = rl_st_writer_open(path, 2, s, NULL);
    CHECK(w, "open: %s", rl_errmsg());
    if (w) {
        CHECK(rl_st_writer_write(w, buf, 16) == 0, "first write");
        CHECK(rl_st_writer_write(w, buf, 8) == -1 && t_msg_has(tmp, "exceed"), "overflow: %s",
              rl_errmsg());
        CHECK(rl_st_writer_close(w) == -1 && t_msg_has(path, "earlier write"), "close: %s",
              rl_errmsg());
    }
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "no files after failed write");

    /* too few bytes */
    w = rl_st_writer_open(path, 2, s, NULL);
    if (w) {
        CHECK(rl_st_writer_write(w, buf, 10) == 0, "write");
        CHECK(rl_st_writer_close(w) == -1 && t_msg_has(path, "only 10 of 20"), "short: %s",
              rl_errmsg());
    }
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "no files after short close");

    /* abort */
    w = rl_st_writer_open(path, 2, s, NULL);
    CHECK(w, "open");
    rl_st_writer_abort(w);
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "no files after abort");

    /* bad specs */
    rl_st_spec dup[] = {{"a", RL_DT_F32, 1, {4}}, {"a", RL_DT_F32, 1, {4}}};
    CHECK(!rl_st_writer_open(path, 2, dup, NULL) && t_msg_has(path, "tensor 'a': duplicate"),
          "dup: %s", rl_errmsg());
    rl_st_spec neg[] = {{"n", RL_DT_F32, 2, {4, -1}}};
    CHECK(!rl_st_writer_open(path, 1, neg, NULL) && t_msg_has(path, "tensor 'n'"), "neg: %s",
          rl_errmsg());
    rl_st_spec big[] = {{"o", RL_DT_F32, 3, {1ll << 30, 1ll << 30, 1ll << 30}}};
    CHECK(!rl_st_writer_open(path, 1, big, NULL) && t_msg_has(path, "overflow"), "ovf: %s",
          rl_errmsg());
    rl_st_spec dims[] = {{"d", RL_DT_F32, 9, {1}}};
    CHECK(!rl_st_writer_open(path, 1, dims, NULL) && t_msg_has(path, "ndim"), "ndim: %s",
          rl_errmsg());
    rl_st_spec bad_dt[] = {{"t", (rl_dtype)99, 1, {1}}};
    CHECK(!rl_st_writer_open(path, 1, bad_dt, NULL) && t_msg_has(path, "dtype"), "dt: %s",
          rl_errmsg());

    /* unwritable directory */
    char nodir[4200];
    T_FMT(nodir, "%s/no/such/x.safetensors", dir);
    CHECK(!rl_st_writer_open(nodir, 2, s, NULL) && t_msg_has("no/such/x.safetensors.tmp", NULL),
          "nodir: %s", rl_errmsg());
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "nothing written");
    t_rmrf(dir);
}

static void test_index_writer(void) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    const char *names[] = {"a", "b\"q"}, *shards[] = {"s1.safetensors", "s2.safetensors"};
    CHECK(rl_st_write_index(dir, 1234, 2, names, shards) == 0, "index: %s", rl_errmsg());
    T_FMT(path, "%s/model.safetensors.index.json", dir);
    size_t len;
    char *text = rl_read_file(path, &len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECK(j, "index parses");
    if (j) {
        cJSON *m = cJSON_GetObjectItem(j, "metadata"), *wm = cJSON_GetObjectItem(j, "weight_map");
        CHECK(cJSON_GetObjectItem(m, "total_size") &&
              cJSON_GetObjectItem(m, "total_size")->valuedouble == 1234, "total_size");
        CHECK(cJSON_GetArraySize(wm) == 2, "2 entries");
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(wm, "b\"q")), "s2.safetensors"),
              "b entry");
    }
    cJSON_Delete(j);
    free(text);
    t_rmrf(dir);
}

/* One malformed header: json written with header length hlen (0 = its real length), then
 * data_len bytes; parsing must fail with a message holding the path, want1 and want2. */
typedef struct { const char *label, *json; uint64_t hlen; size_t data_len; const char *w1, *w2; } bad_case;

static const bad_case BAD[] = {
    {"invalid json", "{\"a\":", 0, 0, "not valid JSON", NULL},
    {"not an object", "[1,2]", 0, 0, "not a JSON object", NULL},
    {"entry not object", "{\"a\":5}", 0, 0, "tensor 'a'", "entry is not an object"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "tensor 'a'", "dtype"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'a'", "unknown dtype 'Q7'"},
    {"unsupported dtype", "{\"a\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[0,1]}}",
     0, 1, "tensor 'a'", "F8_E5M2 is not supported"},
    {"shape not list", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 0, 16,
     "tensor 'a'", "shape is not a list"},
    {"shape negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 0, 8,
     "tensor 'a'", "shape[1] is not a non-negative integer"},
    {"shape fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'a'", "shape[0] is not a non-negative integer"},
    {"shape string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 0, 8,
     "tensor 'a'", "shape[0]"},
    {"too many dims",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'a'", "9 dims"},
    {"dims overflow",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
     0, 4, "tensor 'a'", "element count overflows"},
    {"bytes overflow",
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[1125899906842624,4096],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor 'a'", "byte size overflows"},
    {"offsets missing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, 4, "tensor 'a'",
     "data_offsets is not a list of 2"},
    {"offsets one", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 0, 4,
     "tensor 'a'", "data_offsets is not a list of 2"},
    {"offsets three", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 0, 8,
     "tensor 'a'", "data_offsets is not a list of 2"},
    {"offsets string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 0, 4,
     "tensor 'a'", "data_offsets is not a list of 2"},
    {"offsets negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 0, 4,
     "tensor 'a'", "data_offsets is not a list of 2"},
    {"begin > end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 0, 8,
     "tensor 'a'", "begin 8 > end 4"},
    {"end beyond data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0, 12,
     "tensor 'a'", "beyond the data section"},
    {"size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 0, 8,
     "tensor 'a'", "needs 8"},
    {"overlap",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
     "tensor 'b'", "overlaps tensor 'a'"},
    {"duplicate name",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8,
     "tensor 'a'", "duplicate name"},
    {"metadata not object", "{\"__metadata__\":[1]}", 0, 0, "__metadata__", "not an object"},
    {"header past eof", "{}", 100, 0, "runs past the end of the file", NULL},
    {"header absurd", "{}", 200ull * 1024 * 1024, 0, "header length 209715200 is absurd", NULL},
    {"header huge u64", "{}", ~0ull, 0, "absurd", NULL},
};

static void test_malformed(void) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const bad_case *c = &BAD[i];
        uint64_t hlen = c->hlen ? c->hlen : strlen(c->json);
        CHECK(t_write_st(path, dir, "bad.safetensors", hlen, c->json, c->data_len) == 0, "write");
        rl_st_header *h = rl_st_open(path);
        CHECK(!h, "%s: parsed a bad header", c->label);
        if (getenv("T_VERBOSE")) fprintf(stderr, "  %-20s %s\n", c->label, rl_errmsg());
        CHECK(t_msg_has(path, c->w1) && (!c->w2 || t_msg_has(c->w2, NULL)), "%s: message '%s'",
              c->label, rl_errmsg());
        rl_st_free(h);
    }
    /* files too short to hold the length */
    static const size_t shorts[] = {0, 1, 7};
    for (size_t i = 0; i < 3; i++) {
        CHECK(t_write(path, dir, "short.safetensors", "\x02\0\0\0\0\0\0", shorts[i]) == 0, "w");
        CHECK(!rl_st_open(path) && t_msg_has(path, "too short"), "short %zu: '%s'", shorts[i],
              rl_errmsg());
    }
    /* missing file and directory */
    T_FMT(path, "%s/none.safetensors", dir);
    CHECK(!rl_st_open(path) && t_msg_has(path, "cannot open"), "missing: '%s'", rl_errmsg());
    CHECK(!rl_st_open(dir) && t_msg_has(dir, "not a regular file"), "dir: '%s'", rl_errmsg());
    t_rmrf(dir);
}

/* Things that are valid: empty tensors sharing an offset, a scalar, gaps, trailing padding. */
static void test_valid_edge_cases(void) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    const char *json =
        "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
        "\"e2\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
        "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"g\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[8,10]}}   ";
    CHECK(t_write_st(path, dir, "ok.safetensors", strlen(json), json, 12) == 0, "write");
    rl_st_header *h = rl_st_open(path);
    CHECK(h, "edge cases parse: %s", rl_errmsg());
    if (h) {
        CHECK(h->n_tensors == 4 && h->n_meta == 0, "counts");
        const rl_st_tensor *s = rl_st_find(h, "s"), *g = rl_st_find(h, "g");
        CHECK(s && s->ndim == 0 && s->nbytes == 4 && s->offset == h->data_start, "scalar");
        CHECK(g && g->offset == h->data_start + 8 && g->nbytes == 2, "gap tensor");
    }
    rl_st_free(h);
    t_rmrf(dir);
}

/* Random byte flips in the header and every truncation of a valid file: each either parses to
 * a header whose ranges lie inside the file, or fails with a message; never crashes (ASan). */
static void test_mutations(void) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    T_FMT(path, "%s/m.safetensors", dir);
    rl_st_spec sp[] = {{"w", RL_DT_BF16, 2, {3, 4}}, {"v", RL_DT_F32, 1, {5}}, {"s", RL_DT_I8, 0, {0}}};
    const char *meta[] = {"format", "pt", NULL};
    rl_st_writer *w = rl_st_writer_open(path, 3, sp, meta);
    unsigned char data[64] = {0};
    CHECK(w && rl_st_writer_write(w, data, 45) == 0 && rl_st_writer_close(w) == 0, "write");
    size_t len = 0;
    unsigned char *orig = (unsigned char *)rl_read_file(path, &len);
    CHECK(orig && len > 16, "read back");
    if (!orig) { t_rmrf(dir); return; }
    unsigned char *buf = malloc(len);
    uint64_t hlen = len - 45, seed = 12345;
    int parsed = 0, rejected = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, orig, len);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)((seed >> 33) % hlen);
            buf[at] = (unsigned char)(seed >> 17);
        }
        size_t n = it < (int)len ? (size_t)it : len; /* first `len` iterations: truncations */
        CHECK(t_write(path, dir, "m.safetensors", it < (int)len ? orig : buf, n) == 0, "w");
        rl_st_header *h = rl_st_open(path);
        if (h) {
            parsed++;
            for (int i = 0; i < h->n_tensors; i++)
                CHECK(h->tensors[i].offset + h->tensors[i].nbytes <= h->file_size, "range");
        } else {
            rejected++;
            CHECK(t_msg_has(path, NULL), "message names the file: %s", rl_errmsg());
        }
        rl_st_free(h);
    }
    CHECK(parsed > 0 && rejected > 0, "parsed %d rejected %d", parsed, rejected);
    free(buf);
    free(orig);
    t_rmrf(dir);
}

int main(void) {
    RUN(test_roundtrip);
    RUN(test_empty_file_roundtrip);
    RUN(test_writer_failures);
    RUN(test_index_writer);
    RUN(test_malformed);
    RUN(test_valid_edge_cases);
    RUN(test_mutations);
    TEST_END();
}
