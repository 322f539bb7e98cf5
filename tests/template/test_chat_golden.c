/* Every case of the four chat.jsonl goldens renders exactly (or errors where the golden has rendered
 * null), and encoding the rendered text gives the golden ids. */
#include "test.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>

static void check_model(const char *name) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", t_shared(), name);
    snprintf(path, sizeof path, "%s/chat.jsonl", dir);
    char *txt = rl_read_file(path, NULL);
    CHECK(txt != NULL, "%s", rl_errmsg());
    if (!txt) return;
    int found = 0;
    rl_chat_template *t = rl_chat_template_load(dir, &found);
    CHECK(t != NULL && found, "%s: %s", name, rl_errmsg());
    rl_tokenizer *tok = rl_tok_load(dir);
    CHECK(tok != NULL, "%s tokenizer: %s", name, rl_errmsg());
    int cases = 0, ok = 0, ids_ok = 0, ids_cases = 0;
    for (char *line = strtok(txt, "\n"); line && t; line = strtok(NULL, "\n")) {
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        cases++;
        const cJSON *want = cJSON_GetObjectItem(c, "rendered");
        const cJSON *extra = cJSON_GetObjectItem(c, "extra");
        char *out = NULL;
        int rc = rl_chat_template_render(t, cJSON_GetObjectItem(c, "messages"),
                                         cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
                                         cJSON_IsObject(extra) ? extra : NULL, &out);
        const char *conv = cJSON_GetStringValue(cJSON_GetObjectItem(c, "conv"));
        if (cJSON_IsNull(want)) {
            CHECK(rc == -1 && rl_errmsg()[0], "%s/%s: expected an error", name, conv);
            ok += rc == -1;
        } else {
            int same = rc == 0 && strcmp(out, cJSON_GetStringValue(want)) == 0;
            CHECK(same, "%s/%s: rendered differs (%s)", name, conv, rc ? rl_errmsg() : "text");
            ok += same;
            const cJSON *ids = cJSON_GetObjectItem(c, "ids");
            if (same && tok && cJSON_IsArray(ids)) {
                int32_t *got = NULL; size_t n = 0;
                ids_cases++;
                int erc = rl_tok_encode(tok, out, strlen(out), 0, &got, &n);
                int match = erc == 0 && n == (size_t)cJSON_GetArraySize(ids);
                for (size_t i = 0; match && i < n; i++) match = got[i] == (int32_t)cJSON_GetArrayItem(ids, (int)i)->valuedouble;
                CHECK(match, "%s/%s: ids differ", name, conv);
                ids_ok += match;
                free(got);
            }
        }
        free(out);
        cJSON_Delete(c);
    }
    fprintf(stderr, "  %s: %d/%d rendered, %d/%d ids\n", name, ok, cases, ids_ok, ids_cases);
    CHECK(cases > 0, "%s: no cases", name);
    rl_tok_free(tok);
    rl_chat_template_free(t);
    free(txt);
}

static void test_qwen3(void) { check_model("qwen3"); }
static void test_llama3_1(void) { check_model("llama3_1"); }
static void test_gemma3(void) { check_model("gemma3"); }
static void test_deepseek_v3(void) { check_model("deepseek_v3"); }

static void test_no_template(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/mistral_v01", t_shared());
    int found = 1;
    rl_chat_template *t = rl_chat_template_load(dir, &found);
    CHECK(t == NULL && found == 0, "mistral_v01 has no chat template");
    rl_chat_template_free(t);
    t = rl_chat_template_load("/nonexistent-dir", &found);
    CHECK(t == NULL && found == 0, "missing dir: no template");
}

static void test_raise_in_golden_template(void) {
    /* gemma3 raises on non-alternating roles; the message is the template's verbatim */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/gemma3", t_shared());
    rl_chat_template *t = rl_chat_template_load(dir, NULL);
    CHECK(t != NULL, "%s", rl_errmsg());
    if (!t) return;
    cJSON *m = cJSON_Parse("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]");
    char *out = NULL;
    CHECK(rl_chat_template_render(t, m, 1, NULL, &out) == -1, "should raise");
    CHECK(!strcmp(rl_errmsg(), "Conversation roles must alternate user/assistant/user/assistant/..."), "msg: %s", rl_errmsg());
    CHECK(out == NULL, "no output on error");
    cJSON_Delete(m);
    rl_chat_template_free(t);
}

int main(void) {
    RUN_SHARED(test_qwen3);
    RUN_SHARED(test_llama3_1);
    RUN_SHARED(test_gemma3);
    RUN_SHARED(test_deepseek_v3);
    RUN(test_no_template);
    RUN_SHARED(test_raise_in_golden_template);
    TEST_END();
}
