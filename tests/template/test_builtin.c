/* The built-in chat templates (serve --chat-template NAME) render every case of the chat.jsonl
 * goldens of the models they stand for exactly as the models' own templates (errors where the
 * golden has rendered null); every name resolves; ChatML renders its plain form. */
#include "test.h"
#include "rabbitllm.h"
#include "template/chat_template.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>

static void check_builtin(const char *name, const char *folder) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", t_shared(), folder);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    char *cfgtxt = rl_read_file(path, NULL);
    CHECK(cfgtxt != NULL, "%s", rl_errmsg());
    snprintf(path, sizeof path, "%s/chat.jsonl", dir);
    char *txt = rl_read_file(path, NULL);
    CHECK(txt != NULL, "%s", rl_errmsg());
    cJSON *cfg = cfgtxt ? cJSON_Parse(cfgtxt) : NULL;
    const char *src = rl_chat_template_builtin(name);
    CHECK(src != NULL, "no built-in %s", name);
    rl_chat_template *t = src && cfg ? rl_chat_template_from_string(src, cfg) : NULL;
    CHECK(t != NULL, "%s: %s", name, rl_errmsg());
    int cases = 0, ok = 0;
    for (char *line = txt ? strtok(txt, "\n") : NULL; line && t; line = strtok(NULL, "\n")) {
        cJSON *c = cJSON_Parse(line);
        if (!c) continue;
        cases++;
        const cJSON *want = cJSON_GetObjectItem(c, "rendered"), *extra = cJSON_GetObjectItem(c, "extra");
        char *out = NULL;
        int rc = rl_chat_template_render(t, cJSON_GetObjectItem(c, "messages"),
                                         cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt")),
                                         cJSON_IsObject(extra) ? extra : NULL, &out);
        const char *conv = cJSON_GetStringValue(cJSON_GetObjectItem(c, "conv"));
        int same = cJSON_IsNull(want) ? rc == -1 : rc == 0 && !strcmp(out, cJSON_GetStringValue(want));
        CHECK(same, "%s/%s: rendered differs (%s)", name, conv, rc ? rl_errmsg() : "text");
        ok += same;
        free(out);
        cJSON_Delete(c);
    }
    fprintf(stderr, "  built-in %s vs %s: %d/%d\n", name, folder, ok, cases);
    CHECK(cases > 0, "%s: no cases", folder);
    rl_chat_template_free(t);
    cJSON_Delete(cfg);
    free(txt);
    free(cfgtxt);
}

static void test_qwen(void) { check_builtin("qwen", "qwen3"); }
static void test_llama3(void) { check_builtin("llama3", "llama3_1"); }
static void test_gemma(void) { check_builtin("gemma", "gemma3"); }
static void test_deepseek(void) { check_builtin("deepseek", "deepseek_v3"); }

static void test_names(void) {
    static const char *const want[] = {"chatml", "llama3", "llama2", "gemma", "mistral", "phi3", "qwen", "deepseek"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *src = rl_chat_template_builtin(want[i]);
        CHECK(src != NULL, "no built-in %s", want[i]);
        rl_chat_template *t = src ? rl_chat_template_from_string(src, NULL) : NULL;
        CHECK(t != NULL, "%s does not parse: %s", want[i], rl_errmsg());
        rl_chat_template_free(t);
    }
    CHECK(rl_chat_template_builtin("nope") == NULL, "unknown name");
    int n = 0;
    while (rl_chat_template_builtin_name(n)) n++;
    CHECK(n == 8, "8 names, got %d", n);
}

static void test_chatml_llama2_mistral_phi3(void) {
    cJSON *cfg = cJSON_Parse("{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"}");
    cJSON *m = cJSON_Parse("[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Yo\"},"
                           "{\"role\":\"user\",\"content\":\"Q\"}]");
    static const struct { const char *name, *want; } C[] = {
        {"chatml", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"},
        {"llama2", "<s>[INST] Hi [/INST] Yo </s><s>[INST] Q [/INST]"},
        {"mistral", "<s>[INST] Hi [/INST]Yo</s>[INST] Q [/INST]"},
        {"phi3", "<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n<|user|>\nQ<|end|>\n<|assistant|>\n"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        rl_chat_template *t = rl_chat_template_from_string(rl_chat_template_builtin(C[i].name), cfg);
        char *out = NULL;
        CHECK(t && rl_chat_template_render(t, m, 1, NULL, &out) == 0, "%s: %s", C[i].name, rl_errmsg());
        CHECK(out && !strcmp(out, C[i].want), "%s rendered '%s'", C[i].name, out ? out : "");
        free(out);
        rl_chat_template_free(t);
    }
    cJSON_Delete(m);
    cJSON_Delete(cfg);
}

int main(void) {
    RUN_SHARED(test_qwen);
    RUN_SHARED(test_llama3);
    RUN_SHARED(test_gemma);
    RUN_SHARED(test_deepseek);
    RUN(test_names);
    RUN(test_chatml_llama2_mistral_phi3);
    TEST_END();
}
