/* GGUF header parser: every fixture of ../shared/gguf against its gguf_info.json (version,
 * alignment, every KV, every tensor's type, dims, offset and size), the checkpoint view of a GGUF
 * file, split-name parsing, and one case per malformed field. */
#include "test.h"
#include "fmt_util.h"
#include "format/gguf.h"
#include "format/gguf_find.h"
#include "format/checkpoint.h"
#include "util/fileio.h"
#include "util/json.h"
#include <dirent.h>
#include <math.h>

static void check_info(const char *dir, const char *name) {
    char path[1200], info[1200];
    snprintf(path, sizeof path, "%s/%s/model.gguf", dir, name);
    snprintf(info, sizeof info, "%s/%s/gguf_info.json", dir, name);
    cJSON *j = rl_json_load(info);
    CHECK(j != NULL, "%s: gguf_info.json: %s", name, rl_errmsg());
    rl_gguf *g = rl_gguf_open(path, -1);
    CHECK(g != NULL, "%s: %s", name, rl_errmsg());
    if (!j || !g) { cJSON_Delete(j); rl_gguf_free(g); return; }
    CHECK(g->version == (uint32_t)cJSON_GetObjectItem(j, "gguf_version")->valuedouble, "%s: version", name);
    CHECK(g->alignment == (uint64_t)cJSON_GetObjectItem(j, "alignment")->valuedouble, "%s: alignment", name);
    CHECK(g->n_kv == (int64_t)cJSON_GetObjectItem(j, "n_kv")->valuedouble, "%s: n_kv %lld", name, (long long)g->n_kv);
    const cJSON *kv = cJSON_GetObjectItem(j, "kv"), *e;
    cJSON_ArrayForEach(e, kv) {
        const rl_gguf_kv *k = rl_gguf_get(g, e->string);
        CHECK(k != NULL, "%s: key %s missing", name, e->string);
        if (!k) continue;
        if (cJSON_IsObject(e)) {
            const char *at = cJSON_GetObjectItem(e, "array_of")->valuestring;
            CHECK(k->type == RL_GGUF_ARRAY && !strcmp(rl_gguf_type_name(k->arr_type), at) &&
                  k->arr_n == (uint64_t)cJSON_GetObjectItem(e, "len")->valuedouble, "%s: array %s", name, e->string);
        } else if (cJSON_IsString(e)) {
            CHECK(k->type == RL_GGUF_STRING && !strcmp(k->v.str.s, e->valuestring), "%s: string %s", name, e->string);
        } else if (cJSON_IsBool(e)) {
            CHECK(k->type == RL_GGUF_BOOL && (int)k->v.u == cJSON_IsTrue(e), "%s: bool %s", name, e->string);
        } else {
            double v = 0;
            CHECK(rl_gguf_num(g, e->string, &v) == 1 && fabs(v - e->valuedouble) <= 1e-12 * fabs(v), "%s: %s = %g, expected %g",
                  name, e->string, v, e->valuedouble);
        }
    }
    const cJSON *ts = cJSON_GetObjectItem(j, "tensors");
    CHECK(g->n_tensors == cJSON_GetArraySize(ts), "%s: n_tensors", name);
    int i = 0;
    cJSON_ArrayForEach(e, ts) {
        if (i >= g->n_tensors) break;
        const rl_gguf_tensor *t = &g->tensors[i++];
        const cJSON *ne = cJSON_GetObjectItem(e, "ne");
        int ok = !strcmp(t->name, cJSON_GetObjectItem(e, "name")->valuestring) &&
                 !strcmp(rl_ggml_type_name(t->type), cJSON_GetObjectItem(e, "type")->valuestring) &&
                 t->n_dims == cJSON_GetArraySize(ne) &&
                 t->offset - g->data_offset == (uint64_t)cJSON_GetObjectItem(e, "offset")->valuedouble &&
                 t->nbytes == (uint64_t)cJSON_GetObjectItem(e, "n_bytes")->valuedouble;
        for (int d = 0; ok && d < t->n_dims; d++) ok = t->ne[d] == (int64_t)cJSON_GetArrayItem(ne, d)->valuedouble;
        CHECK(ok, "%s: tensor %d (%s) differs from gguf_info.json", name, i - 1, t->name);
    }
    /* the checkpoint indexes the same tensors, shapes outermost first */
    rl_checkpoint *ck = rl_ckpt_open(path);
    CHECK(ck != NULL, "%s: checkpoint: %s", name, rl_errmsg());
    if (ck) {
        for (int64_t k = 0; k < g->n_tensors; k++) {
            const rl_tensor_info *ti = rl_ckpt_find(ck, g->tensors[k].name);
            CHECK(ti && ti->offset == g->tensors[k].offset && ti->nbytes == g->tensors[k].nbytes &&
                  ti->shape[ti->ndim - 1] == g->tensors[k].ne[0], "%s: checkpoint tensor %s", name, g->tensors[k].name);
        }
        rl_ckpt_close(ck);
    }
    rl_gguf_free(g);
    cJSON_Delete(j);
}

static void test_fixture_infos(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/gguf", t_shared());
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot list %s", dir);
    if (!d) return;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s/gguf_info.json", dir, de->d_name);
        if (de->d_name[0] == '.' || !rl_file_exists(p)) continue;
        check_info(dir, de->d_name);
        n++;
    }
    closedir(d);
    CHECK(n > 0, "no fixtures");
}

/* Expert stacks get per-expert views. */
static void test_expert_views(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/gguf/mixtral_q8_0/model.gguf", t_shared());
    rl_checkpoint *ck = rl_ckpt_open(path);
    CHECK(ck != NULL, "%s", rl_errmsg());
    if (!ck) return;
    const rl_tensor_info *s = rl_ckpt_find(ck, "blk.1.ffn_down_exps.weight"), *e = rl_ckpt_find(ck, "blk.1.ffn_down_exps.3.weight");
    CHECK(s && e && s->ndim == 3 && e->ndim == 2 && e->nbytes * 4 == s->nbytes && e->offset == s->offset + 3 * e->nbytes &&
          e->shape[0] == s->shape[1] && e->shape[1] == s->shape[2], "expert view");
    rl_ckpt_close(ck);
}

/* Other 3-D tensors (deepseek2's per-head attn_k_b [heads][kv_lora][nope]) are indexed as 2-D. */
static void test_head_stacks(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/gguf/deepseek_v2_f32/model.gguf", t_shared());
    rl_checkpoint *ck = rl_ckpt_open(path);
    CHECK(ck != NULL, "%s", rl_errmsg());
    if (!ck) return;
    const rl_tensor_info *k = rl_ckpt_find(ck, "blk.0.attn_k_b.weight"), *v = rl_ckpt_find(ck, "blk.0.attn_v_b.weight");
    CHECK(k && k->ndim == 2 && k->shape[0] == 4 * 32 && k->shape[1] == 16 && k->nbytes == 4 * 32 * 16 * 4, "attn_k_b view");
    CHECK(v && v->ndim == 2 && v->shape[0] == 4 * 16 && v->shape[1] == 32, "attn_v_b view");
    rl_ckpt_close(ck);
}

static void test_split_names(void) {
    int i, n;
    char out[256];
    CHECK(rl_gguf_split_parse("m-00002-of-00003.gguf", &i, &n) && i == 2 && n == 3, "parse");
    CHECK(!rl_gguf_split_parse("m-00004-of-00003.gguf", &i, &n), "index past count");
    CHECK(!rl_gguf_split_parse("model.gguf", &i, &n), "not split");
    CHECK(rl_gguf_split_part("/a/m-00001-of-00012.gguf", 11, out, sizeof out) == 12 &&
          !strcmp(out, "/a/m-00011-of-00012.gguf"), "part name %s", out);
    CHECK(rl_gguf_split_part("/a/m-00002-of-00012.gguf", 1, out, sizeof out) < 0, "must start at part 1");
}

/* ---- malformed files: mutations of a real one ---- */

static unsigned char *g_buf;
static size_t g_len;

static void expect_error(const char *label, const unsigned char *buf, size_t len, const char *frag) {
    char dir[32], path[4096];
    CHECK(t_mkdtemp(dir), "mkdtemp");
    CHECK(t_write(path, dir, "bad.gguf", buf, len) == 0, "write");
    rl_gguf *g = rl_gguf_open(path, -1);
    CHECK(g == NULL, "%s: accepted", label);
    CHECK(strstr(rl_errmsg(), path) && strstr(rl_errmsg(), frag), "%s: message '%s' lacks the file or '%s'", label, rl_errmsg(), frag);
    rl_gguf_free(g);
    t_rmrf(dir);
}

static void put64(unsigned char *b, uint64_t v) { memcpy(b, &v, 8); }
static void put32(unsigned char *b, uint32_t v) { memcpy(b, &v, 4); }

/* Offset of the tensor info of `name` (its length field). */
static size_t find_tinfo(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 8; i + n < g_len; i++)
        if (!memcmp(g_buf + i, name, n)) {
            uint64_t l;
            memcpy(&l, g_buf + i - 8, 8);
            if (l == n && (g_buf[i + n] >= 1 && g_buf[i + n] <= 4)) return i - 8;
        }
    return 0;
}

static void test_malformed(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/gguf/qwen2_q4_0/model.gguf", t_shared());
    g_buf = (unsigned char *)rl_read_file(path, &g_len);
    CHECK(g_buf && g_len > 4096, "read %s", path);
    if (!g_buf) return;
    unsigned char *b = malloc(g_len);
#define MUT(label, frag, stmt) do { memcpy(b, g_buf, g_len); size_t L = g_len; stmt; expect_error(label, b, L, frag); } while (0)
    MUT("bad magic", "bad magic", b[0] = 'X');
    MUT("version 1", "version 1", put32(b + 4, 1));
    MUT("version 4", "version 4", put32(b + 4, 4));
    MUT("tensor count overflow", "tensor count", put64(b + 8, UINT64_MAX / 2));
    MUT("kv count overflow", "metadata count", put64(b + 16, (uint64_t)1 << 40));
    MUT("empty file", "truncated", L = 0);
    MUT("truncated in header", "truncated", L = 20);
    MUT("key length past EOF", "truncated", put64(b + 24, (uint64_t)1 << 50));
    size_t ti = find_tinfo("token_embd.weight");
    CHECK(ti > 0, "tensor info not found");
    if (ti) {
        size_t nd = ti + 8 + strlen("token_embd.weight"), ne = nd + 4, ty = ne + 16, off = ty + 4;
        MUT("n_dims 5", "dims", put32(b + nd, 5));
        MUT("n_dims 0", "dims", put32(b + nd, 0));
        MUT("dims overflow", "overflow", put64(b + ne, (uint64_t)1 << 40); put64(b + ne + 8, (uint64_t)1 << 40));
        MUT("unknown type", "unknown ggml type", put32(b + ty, 99));
        MUT("row not a block multiple", "not a multiple", put64(b + ne, 33));
        MUT("offset past EOF", "past the end", put64(b + off, (uint64_t)g_len * 64));
        MUT("offset unaligned", "alignment", put64(b + off, 8));
        MUT("size past EOF", "past the end", put64(b + ne + 8, (uint64_t)1 << 30));
        MUT("file cut in data", "past the end", L = g_len - 64);
    }
    /* the first KV's value type */
    uint64_t kl;
    memcpy(&kl, g_buf + 24, 8);
    MUT("unknown value type", "unknown value type", put32(b + 32 + kl, 77));
    MUT("truncated KV section", "truncated", put64(b + 8, 0); put64(b + 16, 1); L = 32 + kl + 2);
    free(b);
    free(g_buf);
}

int main(void) {
    RUN_SHARED(test_fixture_infos);
    RUN_SHARED(test_expert_views);
    RUN_SHARED(test_head_stacks);
    RUN(test_split_names);
    RUN_SHARED(test_malformed);
    TEST_END();
}
