/* The OpenAI reply bodies of serve (server/oai.c): a chat choice carries "reasoning_content"
 * beside its content when the model's output had reasoning apart from the answer (harmony's
 * analysis channel), and not otherwise; completions never do; streamed reasoning goes out as
 * chunks whose delta is {"reasoning_content"}. */
#include "test.h"
#include "server/oai.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *reply(rl_oai_kind kind, const char *text, const char *reasoning) {
    rl_oai_choice c = {.text = text, .finish = "stop", .reasoning = reasoning};
    char *s = rl_oai_response_json(kind, "id", "m", 0, &c, 1, 3, 4);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    CHECK(j != NULL, "reply parses");
    return j;
}

static void test_reasoning_content(void) {
    cJSON *j = reply(RL_OAI_CHAT, "Hello.", "The user greets me.");
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    CHECK(m && !strcmp(cJSON_GetObjectItem(m, "content")->valuestring, "Hello.") &&
              !strcmp(cJSON_GetObjectItem(m, "reasoning_content")->valuestring, "The user greets me."), "content and reasoning");
    cJSON_Delete(j);
    for (int k = 0; k < 2; k++) {
        j = reply(RL_OAI_CHAT, "Hello.", k ? "" : NULL);
        m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
        CHECK(m && !cJSON_GetObjectItem(m, "reasoning_content"), "no reasoning: no reasoning_content (%s)", k ? "empty" : "NULL");
        cJSON_Delete(j);
    }
    j = reply(RL_OAI_COMPLETION, "Hello.", "The user greets me.");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    CHECK(c && !cJSON_GetObjectItem(c, "reasoning_content") && !strcmp(cJSON_GetObjectItem(c, "text")->valuestring, "Hello."), "completion text only");
    cJSON_Delete(j);
}

/* A streamed reasoning delta: a chat chunk whose delta holds only reasoning_content. */
static void test_reasoning_chunk(void) {
    char *s = rl_oai_reasoning_chunk_json("id", "m", 0, 2, "Let me think. \xc3\xa9", 16);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), *d = cJSON_GetObjectItem(c, "delta");
    CHECK(j && !strcmp(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion.chunk"), "a chunk");
    CHECK(d && !strcmp(cJSON_GetObjectItem(d, "reasoning_content")->valuestring, "Let me think. \xc3\xa9") && !cJSON_GetObjectItem(d, "content"),
          "delta.reasoning_content only");
    CHECK(cJSON_GetObjectItem(c, "index")->valueint == 2 && cJSON_IsNull(cJSON_GetObjectItem(c, "finish_reason")), "index, no finish");
    cJSON_Delete(j);
    free(s);
}

int main(void) {
    RUN(test_reasoning_content);
    RUN(test_reasoning_chunk);
    TEST_END();
}
