/* Runs every encode.jsonl / decode.jsonl golden case of the tokenizer.json tokenizers under
 * ../shared/tokenizers and requires identical ids and text. */
#include "test.h"
#include "tokenizer/tokenizer.h"
#include "util/err.h"
#include "util/fileio.h"
#include "tokenizer/tok_jsonl.h"
#include <cjson/cJSON.h>
#include <time.h>

static const char *const NAMES[] = {"qwen3", "llama3_1", "mistral_v01", "gemma3", "deepseek_v3"};

static rl_tokenizer *load(const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", t_shared(), name);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rl_tokenizer *t = rl_tok_load(dir);
    clock_gettime(CLOCK_MONOTONIC, &b);
    fprintf(stderr, "  %s: load %.3f s\n", name, (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9);
    CHECK(t != NULL, "load %s: %s", name, rl_errmsg());
    return t;
}

/* Runs one golden file; kind 0 = encode, 1 = decode. */
static void run_file(rl_tokenizer *t, const char *name, int kind) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizers/%s/%s.jsonl", t_shared(), name, kind ? "decode" : "encode");
    char *txt = rl_read_file(path, NULL);
    CHECK(txt != NULL, "%s", rl_errmsg());
    if (!txt) return;
    int total = 0, good = 0, shown = 0;
    for (char *line = txt, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl) *nl++ = 0;
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        total++;
        const char *cs = cJSON_GetObjectItem(c, "case")->valuestring;
        cJSON *gids = cJSON_GetObjectItem(c, "ids");
        int ok = 0;
        if (!kind) {
            rl_jsonl_req rq;   /* cJSON cannot keep embedded NULs: read the text with the jsonl reader */
            CHECK(!rl_jsonl_parse(line, strlen(line), &rq), "%s", rl_errmsg());
            int add = rq.add_special;
            int32_t *ids; size_t n;
            int est = rl_tok_encode(t, rq.text, rq.text_len, add, &ids, &n);
            rl_jsonl_req_free(&rq);
            if (!est) {
                ok = n == (size_t)cJSON_GetArraySize(gids);
                for (size_t i = 0; ok && i < n; i++) ok = ids[i] == cJSON_GetArrayItem(gids, (int)i)->valueint;
                if (!ok && shown < 5) {
                    fprintf(stderr, "  %s encode %s (add=%d) got:", name, cs, add);
                    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
                    char *g = cJSON_PrintUnformatted(gids);
                    fprintf(stderr, "\n    want: %.400s\n", g);
                    free(g);
                    shown++;
                }
                free(ids);
            } else if (shown++ < 5) fprintf(stderr, "  %s encode %s: error %s\n", name, cs, rl_errmsg());
        } else {
            int n = cJSON_GetArraySize(gids);
            int32_t *ids = malloc(sizeof *ids * (size_t)(n + 1));
            for (int i = 0; i < n; i++) ids[i] = cJSON_GetArrayItem(gids, i)->valueint;
            int skip = cJSON_IsTrue(cJSON_GetObjectItem(c, "skip_special_tokens"));
            rl_jsonl_req rq;
            CHECK(!rl_jsonl_parse(line, strlen(line), &rq), "%s", rl_errmsg());
            const char *want = rq.text;
            char *got; size_t gl;
            if (!rl_tok_decode(t, ids, (size_t)n, skip, &got, &gl)) {
                ok = gl == rq.text_len && !memcmp(got, want, gl);
                if (!ok && shown++ < 5) fprintf(stderr, "  %s decode %s (skip=%d):\n    got  [%s]\n    want [%s]\n", name, cs, skip, got, want);
                free(got);
            } else if (shown++ < 5) fprintf(stderr, "  %s decode %s: error %s\n", name, cs, rl_errmsg());
            rl_jsonl_req_free(&rq);
            free(ids);
        }
        good += ok;
        cJSON_Delete(c);
    }
    free(txt);
    fprintf(stderr, "  %s %s: %d/%d\n", name, kind ? "decode" : "encode", good, total);
    CHECK(total > 0 && good == total, "%s %s: %d/%d cases match", name, kind ? "decode" : "encode", good, total);
}

static void one(int i) {
    rl_tokenizer *t = load(NAMES[i]);
    if (!t) return;
    run_file(t, NAMES[i], 0);
    run_file(t, NAMES[i], 1);
    rl_tok_free(t);
}
static void test_qwen3(void) { one(0); }
static void test_llama3_1(void) { one(1); }
static void test_mistral_v01(void) { one(2); }
static void test_gemma3(void) { one(3); }
static void test_deepseek_v3(void) { one(4); }

int main(void) {
    RUN_SHARED(test_qwen3);
    RUN_SHARED(test_llama3_1);
    RUN_SHARED(test_mistral_v01);
    RUN_SHARED(test_gemma3);
    RUN_SHARED(test_deepseek_v3);
    TEST_END();
}
