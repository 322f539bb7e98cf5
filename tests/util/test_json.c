/* Tests for util/json's file loader: Python's json literals (Infinity, -Infinity, NaN, as
 * transformers writes float('inf') into config.json) are read outside strings and left alone
 * inside them; malformed JSON is still an error naming the file and the byte. */
#include "test.h"
#include "util/json.h"
#include "util/err.h"
#include "util/fileio.h"
#include <math.h>
#include <unistd.h>

static cJSON *load(const char *text) {
    char path[] = "/tmp/rl_json_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) return NULL;
    close(fd);
    CHECK(rl_write_file_atomic(path, text, strlen(text)) == 0, "write %s", path);
    cJSON *j = rl_json_load(path);
    unlink(path);
    return j;
}

static void test_python_literals(void) {
    cJSON *j = load("{\"time_step_limit\": [0.0, Infinity], \"lo\": -Infinity, \"x\": NaN,"
                    " \"s\": \"Infinity and NaN \\\" Infinity\", \"t\": [NaN,Infinity]}");
    CHECK(j != NULL, "parse: %s", rl_errmsg());
    if (!j) return;
    const cJSON *tl = cJSON_GetObjectItem(j, "time_step_limit");
    CHECK(cJSON_IsArray(tl) && cJSON_GetArrayItem(tl, 0)->valuedouble == 0.0 && isinf(cJSON_GetArrayItem(tl, 1)->valuedouble) &&
          cJSON_GetArrayItem(tl, 1)->valuedouble > 0, "time_step_limit [0, inf]");
    const cJSON *lo = cJSON_GetObjectItem(j, "lo");
    CHECK(cJSON_IsNumber(lo) && isinf(lo->valuedouble) && lo->valuedouble < 0, "-Infinity");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "x")), "NaN: null");
    const cJSON *s = cJSON_GetObjectItem(j, "s");
    CHECK(cJSON_IsString(s) && !strcmp(s->valuestring, "Infinity and NaN \" Infinity"), "string kept: %s", s ? s->valuestring : "?");
    const cJSON *t = cJSON_GetObjectItem(j, "t");
    CHECK(cJSON_GetArraySize(t) == 2 && cJSON_IsNull(cJSON_GetArrayItem(t, 0)) && isinf(cJSON_GetArrayItem(t, 1)->valuedouble), "[NaN,Infinity]");
    cJSON_Delete(j);
}

static void test_malformed(void) {
    cJSON *j = load("{\"a\": Infinit}");
    CHECK(j == NULL && strstr(rl_errmsg(), "invalid JSON at byte"), "malformed: %s", j ? "parsed" : rl_errmsg());
    cJSON_Delete(j);
    j = load("{\"a\": 1,}");
    CHECK(j == NULL && strstr(rl_errmsg(), "invalid JSON at byte 8"), "trailing comma: %s", j ? "parsed" : rl_errmsg());
    cJSON_Delete(j);
}

int main(void) {
    RUN(test_python_literals);
    RUN(test_malformed);
    TEST_END();
}
