/* The public text API (include/rabbitllm.h): sessions on the bundled models/stories260K give
 * the golden greedy text (../shared), stream UTF-8-complete pieces that concatenate to the
 * answer, honour max_tokens, stop strings, callbacks and rl_session_cancel, reuse the KV-cache
 * prefix; tokenizer and chat-template calls; errors carry messages. */
#include "test.h"
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <ftw.h>
#include <unistd.h>

#define MODEL "models/stories260K"

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

typedef struct { char text[8192]; size_t len; int pieces, bad_utf8, stop_after; } sink;

static int utf8_complete(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++) if (((unsigned char)s[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

static int collect(void *user, const char *piece, size_t len) {
    sink *k = user;
    if (!utf8_complete(piece, len)) k->bad_utf8++;
    if (k->len + len < sizeof k->text) { memcpy(k->text + k->len, piece, len); k->len += len; k->text[k->len] = 0; }
    k->pieces++;
    return k->stop_after && k->pieces >= k->stop_after;
}

static void test_golden_text(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/stories260K/text_golden.json", t_shared());
    cJSON *g = read_json(path);
    CHECK(g != NULL, "cannot read %s", path);
    if (!g) return;
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItem(g, "prompt_text"));
    const char *expect = cJSON_GetStringValue(cJSON_GetObjectItem(g, "expected_text"));
    int max_new = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(g, "max_new_tokens"));
    cJSON *pids = cJSON_GetObjectItem(g, "prompt_ids");
    CHECK(prompt && expect && max_new > 0 && cJSON_IsArray(pids), "golden fields");
    rl_session *s = rl_session_open(MODEL, NULL);
    CHECK(s != NULL, "open: %s", rl_last_error());
    if (!s || !prompt || !expect || !cJSON_IsArray(pids)) { rl_session_close(s); cJSON_Delete(g); return; }
    int32_t *ids = NULL;
    int n = 0;
    CHECK(rl_session_prompt(s, NULL, NULL, prompt, &ids, &n) == 0, "prompt: %s", rl_last_error());
    CHECK(n == cJSON_GetArraySize(pids), "prompt ids %d", n);
    for (int i = 0; ids && i < n && i < cJSON_GetArraySize(pids); i++)
        CHECK(ids[i] == (int32_t)cJSON_GetNumberValue(cJSON_GetArrayItem(pids, i)), "prompt id %d", i);
    rl_release(ids);
    sink k = {0};
    rl_gen_params p = rl_gen_params_default();
    p.max_tokens = max_new;
    p.on_text = collect;
    p.user = &k;
    char *text = NULL;
    rl_gen_info in;
    CHECK(rl_session_generate(s, prompt, &p, &text, &in) == 0, "generate: %s", rl_last_error());
    size_t pl = strlen(prompt);
    CHECK(text && !strncmp(expect, prompt, pl) && !strcmp(text, expect + pl), "text differs: [%s]", text ? text : "");
    CHECK(!strcmp(k.text, text ? text : ""), "streamed pieces differ from the text");
    CHECK(k.bad_utf8 == 0 && k.pieces > 1, "pieces %d, incomplete %d", k.pieces, k.bad_utf8);
    CHECK(in.n_prompt == n && in.n_reused == 0 && in.n_gen == max_new && in.finish == RL_FINISH_LENGTH,
          "info %d %d %d %d", in.n_prompt, in.n_reused, in.n_gen, in.finish);
    CHECK(in.prefill_s > 0 && in.decode_s > 0, "timing");
    rl_release(text);
    /* the same prompt again: all but one token reused, the same text */
    CHECK(rl_session_generate(s, prompt, &p, &text, &in) == 0, "again: %s", rl_last_error());
    CHECK(in.n_reused == n - 1, "reused %d", in.n_reused);
    CHECK(text && !strcmp(text, expect + pl), "text after reuse differs");
    rl_release(text);
    rl_session_close(s);
    cJSON_Delete(g);
}

static void test_limits_stops_cancel(void) {
    rl_session *s = rl_session_open(MODEL, NULL);
    CHECK(s != NULL, "open: %s", rl_last_error());
    if (!s) return;
    rl_gen_params p = rl_gen_params_default();
    char *full = NULL, *text = NULL;
    rl_gen_info in;
    p.max_tokens = 48;
    CHECK(rl_session_generate(s, "Once upon a time", &p, &full, &in) == 0, "%s", rl_last_error());
    p.max_tokens = 5;
    CHECK(rl_session_generate(s, "Once upon a time", &p, NULL, &in) == 0 && in.n_gen == 5 && in.finish == RL_FINISH_LENGTH,
          "max_tokens: %d %d", in.n_gen, in.finish);
    /* a stop string taken from the middle of the full answer cuts it there */
    char word[8] = "zzz";
    if (full && strlen(full) > 20) { memcpy(word, full + 12, 5); word[5] = 0; }
    const char *stop[] = {word};
    p.stop = stop; p.n_stop = 1; p.max_tokens = 48;
    sink k = {0};
    p.on_text = collect; p.user = &k;
    CHECK(rl_session_generate(s, "Once upon a time", &p, &text, &in) == 0, "%s", rl_last_error());
    CHECK(text && full && !strncmp(text, full, strlen(text)) && strstr(full, word) == full + strlen(text),
          "stop string cut: [%s] at [%s]", text ? text : "", word);
    CHECK(in.finish == RL_FINISH_STOP && !strcmp(k.text, text ? text : "-"), "finish %d, streamed [%s]", in.finish, k.text);
    rl_release(text);
    /* the callback stops it */
    p.stop = NULL; p.n_stop = 0;
    memset(&k, 0, sizeof k);
    k.stop_after = 2;
    CHECK(rl_session_generate(s, "Once upon a time", &p, &text, &in) == 0 && in.finish == RL_FINISH_CANCELLED && k.pieces == 2,
          "callback stop: %d %d", in.finish, k.pieces);
    rl_release(text);
    /* rl_session_cancel before a generation stops it after its first token, then clears */
    p.on_text = NULL;
    rl_session_cancel(s);
    CHECK(rl_session_generate(s, "Once upon a time", &p, NULL, &in) == 0 && in.finish == RL_FINISH_CANCELLED && in.n_gen == 1,
          "cancel: %d %d", in.finish, in.n_gen);
    CHECK(rl_session_generate(s, "Once upon a time", &p, &text, &in) == 0 && in.finish == RL_FINISH_LENGTH && text && full && !strcmp(text, full),
          "after cancel: %d", in.finish);
    rl_release(text);
    volatile int flag = 1;
    p.cancel = &flag;
    CHECK(rl_session_generate(s, "Once upon a time", &p, NULL, &in) == 0 && in.finish == RL_FINISH_CANCELLED, "cancel flag");
    p.cancel = NULL;
    /* no template: chat is an error with a message; too-long prompts and bad ids fail cleanly */
    rl_chat_message m = {"user", "hi"};
    CHECK(rl_session_chat(s, &m, 1, &p, &text, &in) == -1 && strstr(rl_last_error(), "chat template") && !text, "chat without template");
    int32_t bad[2] = {1, 99999};
    CHECK(rl_session_generate_ids(s, bad, 2, &p, &text, &in) == -1 && *rl_last_error(), "bad id accepted");
    CHECK(rl_session_generate_ids(s, bad, 0, &p, &text, &in) == -1, "empty prompt accepted");
    CHECK(rl_session_generate(s, "Once upon a time", &p, &text, &in) == 0 && text && full && !strcmp(text, full), "after errors");
    rl_release(text);
    rl_release(full);
    rl_session_close(s);
}

static void test_tokenizer(void) {
    rl_tokenizer *t = rl_tokenizer_open(MODEL);
    CHECK(t != NULL, "%s", rl_last_error());
    if (!t) return;
    int32_t *ids = NULL, *ids2 = NULL;
    int n = 0, n2 = 0;
    CHECK(rl_tokenize(t, "Once upon a time", 16, 1, &ids, &n) == 0 && n > 1, "tokenize");
    CHECK(rl_tokenize(t, "Once upon a time", 16, 0, &ids2, &n2) == 0 && n2 == n - 1 && ids && ids2 && ids[0] == rl_token_id(t, "<s>"),
          "special tokens: %d vs %d", n, n2);
    char *text = NULL, *piece = NULL;
    size_t len = 0, pl = 0;
    CHECK(ids && rl_detokenize(t, ids, n, 1, &text, &len) == 0 && text && !strcmp(text, "Once upon a time") && len == 16, "roundtrip");
    rl_release(text);
    CHECK(ids && rl_detokenize(t, ids, n, 0, &text, &len) == 0 && text && strstr(text, "<s>"), "specials kept");
    rl_release(text);
    CHECK(ids2 && rl_token_to_piece(t, ids2[1], &piece, &pl) == 0 && piece && pl > 0 && strstr("Once upon a time", piece), "piece");
    rl_release(piece);
    CHECK(rl_token_to_piece(t, 1 << 20, &piece, &pl) == -1 && !piece && *rl_last_error(), "bad id piece");
    CHECK(rl_tokenizer_vocab(t) == 512 && rl_token_id(t, "no such token here") == -1, "vocab");
    rl_release(ids); rl_release(ids2);
    CHECK(rl_tokenize(t, "\xff\xfe", 2, 0, &ids2, &n2) == -1 && !ids2 && *rl_last_error(), "invalid UTF-8 is an error");
    rl_release(ids2);
    rl_tokenizer_close(t);
    CHECK(rl_tokenizer_open("/nonexistent/dir") == NULL && strstr(rl_last_error(), "/nonexistent/dir"), "%s", rl_last_error());
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* a copy of stories260K with a small chat template */
static void test_template_chat(void) {
    char dir[] = "/tmp/rl_session_XXXXXX", cmd[512], path[600];
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
    snprintf(cmd, sizeof cmd, "cp " MODEL "/*.json " MODEL "/model.safetensors %s/", dir);
    CHECK(system(cmd) == 0, "copy");
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}", f); fclose(f); }
    rl_chat_template *t = rl_chat_template_open(dir);
    CHECK(t != NULL, "%s", rl_last_error());
    char *out = NULL;
    CHECK(t && rl_chat_template_apply(t, "[{\"role\":\"user\",\"content\":\"Hi\"}]", 1, NULL, &out) == 0 && out &&
          !strcmp(out, "user: Hi\nassistant:"), "rendered [%s]", out ? out : "");
    rl_release(out);
    CHECK(t && rl_chat_template_apply(t, "{not json", 1, NULL, &out) == -1 && strstr(rl_last_error(), "messages"), "bad json");
    rl_chat_template_close(t);
    CHECK(rl_chat_template_open(MODEL) == NULL && strstr(rl_last_error(), "no chat template"), "%s", rl_last_error());

    rl_session *s = rl_session_open(dir, NULL);
    CHECK(s && rl_session_template(s), "session: %s", rl_last_error());
    if (s) {
        rl_chat_message m[2] = {{"system", "Be short."}, {"user", "Once upon a time"}};
        rl_gen_params p = rl_gen_params_default();
        p.max_tokens = 8;
        char *a = NULL, *b = NULL;
        rl_gen_info ia, ib;
        CHECK(rl_session_chat(s, m, 2, &p, &a, &ia) == 0 && a, "chat: %s", rl_last_error());
        CHECK(rl_session_chat_json(s, "[{\"role\":\"system\",\"content\":\"Be short.\"},{\"role\":\"user\",\"content\":\"Once upon a time\"}]",
                                   "{\"tools\": []}", &p, &b, &ib) == 0 && b, "chat_json: %s", rl_last_error());
        CHECK(a && b && !strcmp(a, b) && ia.n_prompt == ib.n_prompt && ib.n_reused == ib.n_prompt - 1, "json and struct chats agree");
        int32_t *ids = NULL;
        int n = 0;
        rl_tokenizer *tk = rl_tokenizer_open(dir);
        const char *rendered = "system: Be short.\nuser: Once upon a time\nassistant:";
        CHECK(tk && rl_tokenize(tk, rendered, strlen(rendered), 0, &ids, &n) == 0 && n == ia.n_prompt,
              "prompt = rendered template encoded without specials: %d vs %d", n, ia.n_prompt);
        rl_release(ids); rl_tokenizer_close(tk);
        rl_release(a); rl_release(b);
        CHECK(rl_session_chat_json(s, "[1,", NULL, &p, &a, &ia) == -1 && !a, "bad messages json");
        CHECK(rl_session_reset(s) == 0, "reset");
        rl_session_close(s);
    }
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_version_and_errors(void) {
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", RL_VERSION_MAJOR, RL_VERSION_MINOR, RL_VERSION_PATCH);
    CHECK(!strcmp(rl_version(), v) && !strcmp(RL_VERSION_STRING, v), "version %s", rl_version());
    CHECK(rl_session_open("/nonexistent/model", NULL) == NULL && strstr(rl_last_error(), "/nonexistent/model"), "%s", rl_last_error());
    CHECK(rl_session_open(NULL, NULL) == NULL && *rl_last_error(), "NULL model");
}

int main(void) {
    RUN_SHARED(test_golden_text);
    RUN(test_limits_stops_cancel);
    RUN(test_tokenizer);
    RUN(test_template_chat);
    RUN(test_version_and_errors);
    TEST_END();
}
