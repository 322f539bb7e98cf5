/* Answer, reasoning and tool calls kept apart while streaming (gen/out_router.h):
 * - harmony (gpt-oss): the stories260K tokenizer with harmony's control tokens added as special
 *   tokens; the final channel's text is the answer (pieces and text), the analysis channel
 *   reasoning, each message to a recipient a tool call (its name and arguments), whatever the
 *   prompt's tail; serve turns those calls into OpenAI tool_calls (rl_tools_from_stream);
 * - <think> tags (Qwen3's tokenizer from ../shared/tokenizers): inside is reasoning, the
 *   whitespace after </think> is dropped, a prompt ending inside <think> starts in reasoning, a
 *   prompt that closed it (thinking off) streams the answer;
 * a tokenizer with neither streams everything as before. */
#include "test.h"
#include "gen/detok_stream.h"
#include "server/tools.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"
#include "util/fileio.h"
#include <stdlib.h>
#include <string.h>

static const char *CTRL[] = {"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|return|>", "<|call|>"};

/* dir: stories260K's tokenizer with the control tokens (harmony) or as it is. */
static int make_tokenizer(const char *dir, int harmony) {
    char src[512], dst[600];
    snprintf(src, sizeof src, "%s/fixtures/stories260K/tokenizer.json", t_shared());
    cJSON *t = rl_json_load(src);
    if (!t) return -1;
    cJSON *added = cJSON_GetObjectItem(t, "added_tokens");
    int V = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "model"), "vocab"));
    for (int i = 0; harmony && i < 6; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", V + i);
        cJSON_AddStringToObject(a, "content", CTRL[i]);
        cJSON_AddFalseToObject(a, "single_word"); cJSON_AddFalseToObject(a, "lstrip"); cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddFalseToObject(a, "normalized"); cJSON_AddTrueToObject(a, "special");
        cJSON_AddItemToArray(added, a);
    }
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    char *txt = cJSON_PrintUnformatted(t);
    int rc = !txt || rl_write_file_atomic(dst, txt, strlen(txt));
    free(txt);
    cJSON_Delete(t);
    return rc ? -1 : 0;
}

/* Streams the ids of `gen` after the prompt `prompt`; the pieces joined into pieces[]. */
static rl_detok_stream *stream(const rl_tokenizer *tok, const char *prompt, const char *gen, char *pieces, size_t cap) {
    int32_t *p = NULL, *g = NULL;
    size_t np = 0, ng = 0, at = 0;
    CHECK(!rl_tok_encode(tok, prompt, strlen(prompt), 0, &p, &np) && !rl_tok_encode(tok, gen, strlen(gen), 0, &g, &ng), "encode");
    rl_detok_stream *s = rl_detok_stream_new(tok, p, (int)np);
    CHECK(s != NULL, "stream: %s", rl_last_error());
    for (size_t i = 0; s && i < ng; i++) {
        const char *piece;
        size_t len;
        CHECK(rl_detok_stream_push(s, g[i], &piece, &len) == 0, "push");
        if (at + len < cap) { memcpy(pieces + at, piece, len); at += len; }
    }
    const char *piece;
    size_t len;
    if (s && !rl_detok_stream_finish(s, &piece, &len) && at + len < cap) { memcpy(pieces + at, piece, len); at += len; }
    pieces[at] = 0;
    free(p); free(g);
    return s;
}

/* calls: "name=args|name=args" of the tool calls expected ("" none) */
static void expect_calls(const rl_tokenizer *tok, const char *prompt, const char *gen, const char *answer, const char *reasoning,
                         const char *calls) {
    char pieces[1024];
    rl_detok_stream *s = stream(tok, prompt, gen, pieces, sizeof pieces);
    if (!s) return;
    size_t tl, rl;
    const char *t = rl_detok_stream_text(s, &tl), *r = rl_detok_stream_reasoning(s, &rl);
    CHECK(!strcmp(pieces, answer), "%s: pieces \"%s\", expected \"%s\"", gen, pieces, answer);
    CHECK(tl == strlen(answer) && !strcmp(t, answer), "%s: text \"%s\", expected \"%s\"", gen, t, answer);
    CHECK(rl == strlen(reasoning) && !strcmp(r, reasoning), "%s: reasoning \"%s\", expected \"%s\"", gen, r, reasoning);
    char got[512] = "";
    for (int i = 0; i < rl_detok_stream_n_calls(s); i++) {
        const char *args;
        size_t al;
        const char *name = rl_detok_stream_call(s, i, &args, &al);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s=%.*s", i ? "|" : "", name, (int)al, args);
    }
    CHECK(!strcmp(got, calls), "%s: calls \"%s\", expected \"%s\"", gen, got, calls);
    CHECK(rl_detok_stream_call(s, rl_detok_stream_n_calls(s), &r, &rl) == NULL, "no call past the last");
    cJSON *tc = rl_tools_from_stream(s, 7); /* serve's tool_calls: the name without "functions.", the text as arguments */
    CHECK(!tc == !rl_detok_stream_n_calls(s), "%s: tool_calls iff calls", gen);
    for (int i = 0; tc && i < rl_detok_stream_n_calls(s); i++) {
        const char *args, *name = rl_detok_stream_call(s, i, &args, &rl);
        const cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(tc, i), "function");
        CHECK(f && !strcmp(cJSON_GetObjectItem(f, "name")->valuestring, name + 10) &&
                  !strncmp(cJSON_GetObjectItem(f, "arguments")->valuestring, args, rl) &&
                  !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(tc, i), "type")->valuestring, "function"),
              "%s: tool call %d", gen, i);
    }
    cJSON_Delete(tc);
    rl_detok_stream_free(s);
}

static void expect(const rl_tokenizer *tok, const char *prompt, const char *gen, const char *answer, const char *reasoning) {
    expect_calls(tok, prompt, gen, answer, reasoning, "");
}

static void test_routes(void) {
    char dir[64] = "/tmp/rl_harmony_XXXXXX", cmd[128];
    CHECK(mkdtemp(dir) && make_tokenizer(dir, 1) == 0, "tokenizer");
    rl_tokenizer *tok = rl_tok_load(dir);
    CHECK(tok != NULL, "load: %s", rl_last_error());
    if (tok) {
        /* the usual turn: analysis, then the final answer (the prompt ends with the generation prompt) */
        expect(tok, "<|start|>user<|message|>Hi<|end|><|start|>assistant",
               "<|channel|>analysis<|message|>The cat sat.<|end|><|start|>assistant<|channel|>final<|message|>Once upon a time.<|return|>",
               "Once upon a time.", "The cat sat.");
        /* tool calls: commentary messages to a recipient (named in the header or after the
           channel) are neither answer nor reasoning, each a call of its own */
        expect_calls(tok, "<|start|>assistant",
                     "<|channel|>analysis<|message|>Look it up.<|end|><|start|>assistant to=functions.find<|channel|>commentary json<|message|>{\"a\": 1}<|call|>",
                     "", "Look it up.", "functions.find={\"a\": 1}");
        expect_calls(tok, "<|start|>assistant",
                     "<|channel|>commentary to=functions.get json<|message|>{}<|call|><|start|>assistant to=functions.put<|channel|>commentary<|message|>{\"b\": 2}<|call|>",
                     "", "", "functions.get={}|functions.put={\"b\": 2}");
        /* a commentary preamble to nobody is shown; the prompt already opened the final channel */
        expect(tok, "<|start|>assistant<|channel|>commentary<|message|>", "I will look.<|end|>", "I will look.", "");
        expect(tok, "<|start|>assistant<|channel|>final<|message|>", "The end.<|return|>", "The end.", "");
        rl_tok_free(tok);
    }
    /* <think> tags (Qwen3): the tokenizer as shipped */
    char qdir[600];
    snprintf(qdir, sizeof qdir, "%s/tokenizers/qwen3", t_shared());
    tok = rl_tok_load(qdir);
    CHECK(tok != NULL, "load: %s", rl_last_error());
    if (tok) {
        expect(tok, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<think>\nThe user greets me.\n</think>\n\nHello there!<|im_end|>",
               "Hello there!", "\nThe user greets me.\n");
        expect(tok, "<|im_start|>assistant\n<think>\n", "Hmm, two plus two.\n</think>\n\nFour.", "Four.", "Hmm, two plus two.\n");
        expect(tok, "<|im_start|>assistant\n<think>\n\n</think>\n\n", "Four.", "Four.", "");
        rl_tok_free(tok);
    }
    /* without the control tokens: everything is the answer, as before */
    CHECK(make_tokenizer(dir, 0) == 0, "tokenizer");
    tok = rl_tok_load(dir);
    CHECK(tok != NULL, "load: %s", rl_last_error());
    if (tok) {
        expect(tok, "Once", "upon a time.", " upon a time.", ""); /* (a word-start space at the segment's start) */
        rl_tok_free(tok);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN_SHARED(test_routes);
    TEST_END();
}
