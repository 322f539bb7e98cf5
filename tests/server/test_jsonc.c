/* The JSON output constraint (server/jsonc.h) accepts exactly the texts of its schema, character
 * by character (the basic types here, the other keywords in test_jsonc_schema.c); and the tool-call parser (server/tools.h) finds Qwen/Hermes, Mistral and Llama 3.1
 * calls, and holds back streamed text that may become one. */
#include "test.h"
#include "server/jsonc.h"
#include "server/tools.h"

/* 1 if text is accepted and leaves the value complete (done) / accepted at all. */
static int accepts(const char *schema, const char *text, int *done) {
    cJSON *s = schema ? cJSON_Parse(schema) : NULL;
    char err[256];
    rl_jsonc *c = rl_jsonc_new(s, NULL, err, sizeof err);
    int ok = c && rl_jsonc_feed(c, text) == 0;
    if (done) *done = c && rl_jsonc_done(c);
    rl_jsonc_free(c);
    cJSON_Delete(s);
    return ok;
}

static void test_any_object(void) {
    int d;
    CHECK(accepts(NULL, "{\"a\": [1, 2.5e3, -0.1, true, null, \"x\\u00e9\\n\"], \"b\": {}}", &d) && d, "object");
    CHECK(accepts(NULL, "{}", &d) && d, "empty");
    CHECK(accepts(NULL, "{\"a\"", &d) && !d, "prefix");
    CHECK(!accepts(NULL, "[1]", NULL), "json_object wants an object");
    CHECK(!accepts(NULL, "{\"a\": 01}", NULL), "leading zero");
    CHECK(!accepts(NULL, "{\"a\": tru }", NULL), "bad literal");
    CHECK(!accepts(NULL, "{} x", NULL), "text after the value");
    CHECK(!accepts(NULL, "{\"a\":1,}", NULL), "trailing comma");
    CHECK(!accepts(NULL, "{\"a\n\":1}", NULL), "control char in a string");
}

static void test_schema(void) {
    const char *S = "{\"type\":\"object\",\"properties\":{\"color\":{\"enum\":[\"red\",\"green\"]},\"ok\":{\"type\":\"boolean\"},"
                    "\"none\":{\"type\":\"null\"},\"n\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
                    "\"required\":[\"color\",\"ok\",\"none\",\"n\",\"tags\"]}";
    int d;
    CHECK(accepts(S, "{\"color\": \"green\", \"ok\": false, \"none\": null, \"n\": -12, \"tags\": [\"a\", \"b\"]}", &d) && d, "valid");
    CHECK(accepts(S, " \n{ \"color\" :\"red\" , \"ok\":true,\"none\":null , \"n\":0,\"tags\":[] \n } ", &d) == 0, "trailing ws after the end");
    CHECK(accepts(S, " \n{ \"color\" :\"red\" , \"ok\":true,\"none\":null , \"n\":0,\"tags\":[] \n }", &d) && d, "whitespace");
    CHECK(!accepts(S, "{\"colour\"", NULL), "unknown key");
    CHECK(!accepts(S, "{\"ok\": true}", NULL), "keys in schema order");
    CHECK(!accepts(S, "{\"color\": \"blue\"", NULL), "not in enum");
    CHECK(!accepts(S, "{\"color\": \"red\", \"ok\": 1", NULL), "boolean");
    CHECK(!accepts(S, "{\"color\": \"red\", \"ok\": true, \"none\": null, \"n\": 1.5", NULL), "integer");
    CHECK(!accepts(S, "{\"color\": \"red\"}", NULL), "every required property");
    CHECK(!accepts(S, "{\"color\": \"red\", \"ok\": true, \"none\": null, \"n\": 1, \"tags\": [1]", NULL), "items");
    int dd;
    CHECK(accepts("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\"}},\"required\":[\"a\"]}", "{\"a\": null  \n\n\n\n  }", &dd) && dd, "ws before }");
    char err[256];
    cJSON *bad = cJSON_Parse("{\"type\":\"wat\"}");
    CHECK(rl_jsonc_new(bad, NULL, err, sizeof err) == NULL && strstr(err, "wat"), "bad type: %s", err);
    cJSON_Delete(bad);
}

static void test_tools(void) {
    size_t keep;
    const char *q = "Sure.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>";
    cJSON *c = rl_tools_parse(q, strlen(q), &keep, 1);
    CHECK(c && cJSON_GetArraySize(c) == 2 && keep == 5, "qwen: %d calls, keep %zu", c ? cJSON_GetArraySize(c) : -1, keep);
    if (c) {
        cJSON *f = cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "function");
        CHECK(!strcmp(cJSON_GetObjectItem(f, "name")->valuestring, "f") && !strcmp(cJSON_GetObjectItem(f, "arguments")->valuestring, "{\"x\":1}"), "qwen call 0");
    }
    cJSON_Delete(c);
    const char *m = "[TOOL_CALLS] [{\"name\": \"h\", \"arguments\": {\"a\": \"b\"}}]";
    c = rl_tools_parse(m, strlen(m), &keep, 1);
    CHECK(c && cJSON_GetArraySize(c) == 1 && keep == 0, "mistral");
    cJSON_Delete(c);
    const char *l = " {\"name\": \"w\", \"parameters\": {\"city\": \"P\"}}";
    c = rl_tools_parse(l, strlen(l), &keep, 1);
    CHECK(c && cJSON_GetArraySize(c) == 1 && keep == 0, "llama 3.1");
    cJSON_Delete(c);
    const char *p = "<|python_tag|>{\"name\": \"w\", \"parameters\": {}}";
    c = rl_tools_parse(p, strlen(p), &keep, 1);
    CHECK(c && cJSON_GetArraySize(c) == 1, "python_tag");
    cJSON_Delete(c);
    const char *t = "Just text {not a call}";
    CHECK(rl_tools_parse(t, strlen(t), &keep, 1) == NULL && keep == strlen(t), "no call");
    CHECK(rl_tools_safe_prefix("Hello <tool", 11) == 6, "partial marker held back");
    CHECK(rl_tools_safe_prefix("Hello world", 11) == 11, "plain text goes out");
    CHECK(rl_tools_safe_prefix("  {\"name\"", 9) == 0, "a JSON start waits");
    CHECK(rl_tools_safe_prefix("ab<tool_call>{", 14) == 2, "text before a marker");
}

int main(void) {
    RUN(test_any_object);
    RUN(test_schema);
    RUN(test_tools);
    TEST_END();
}
