/* Bounded resources: inputs built to hit each parser's limit are refused with an error (no
 * unbounded allocation or time; under ASan a huge malloc would abort): a safetensors header
 * length past the file, a GGUF with counts that cannot fit its file, JSON nested past cJSON's
 * limit in config.json, and Jinja's
 * loop, recursion, output and range limits (the latter also in tests/template). */
#include "test.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/config.h"
#include "template/jinja.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static const char *put(const char *name, const void *buf, size_t n) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) { fwrite(buf, 1, n, f); fclose(f); }
    return p;
}

static void test_st_header_length(void) {
    uint8_t b[16] = {0};
    uint64_t n = (uint64_t)1 << 60;   /* claims an exabyte of header */
    memcpy(b, &n, 8);
    memcpy(b + 8, "{}      ", 8);
    rl_st_header *h = rl_st_open(put("a.safetensors", b, sizeof b));
    CHECK(h == NULL, "huge header length accepted");
    rl_st_free(h);
}

static void test_gguf_counts(void) {
    uint8_t b[24];
    memcpy(b, "GGUF", 4);
    uint32_t v = 3;
    uint64_t nt = (uint64_t)1 << 40, nk = (uint64_t)1 << 40;
    memcpy(b + 4, &v, 4); memcpy(b + 8, &nt, 8); memcpy(b + 16, &nk, 8);
    rl_gguf *g = rl_gguf_open(put("a.gguf", b, sizeof b), -1);
    CHECK(g == NULL, "GGUF with 2^40 tensors in 24 bytes accepted");
    CHECK(strstr(rl_errmsg(), "cannot fit") != NULL, "message: %s", rl_errmsg());
    rl_gguf_free(g);
}

static void test_json_depth(void) {
    size_t depth = 100000, n = 2 * depth + 64;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "{\"model_type\":\"llama\",\"x\":");
    for (size_t i = 0; i < depth; i++) *p++ = '[';
    for (size_t i = 0; i < depth; i++) *p++ = ']';
    *p++ = '}';
    put("config.json", s, (size_t)(p - s));
    free(s);
    static rl_model_desc d;
    CHECK(rl_config_load(dir, &d) != 0, "100000-deep JSON accepted");
}

static void expect_jinja_err(const char *src, const char *what) {
    rl_jinja *t = rl_jinja_parse(src, strlen(src));
    char *out = NULL;
    size_t len = 0;
    int rc = t ? rl_jinja_render(t, NULL, &out, &len) : -1;
    CHECK(rc != 0, "%s: rendered", what);
    CHECK(strstr(rl_errmsg(), what) != NULL, "%s: message %s", what, rl_errmsg());
    free(out);
    rl_jinja_free(t);
}

static void test_jinja_limits(void) {
    expect_jinja_err("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations");
    expect_jinja_err("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion");
    expect_jinja_err("{% for i in range(10**9) %}{% endfor %}", "Range too big");
    expect_jinja_err("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", "");
    /* parse nesting */
    size_t depth = 5000;
    char *s = malloc(depth * 2 + 16), *p = s;
    p += sprintf(p, "{{ ");
    for (size_t i = 0; i < depth; i++) *p++ = '(';
    *p++ = '1';
    for (size_t i = 0; i < depth; i++) *p++ = ')';
    p += sprintf(p, " }}");
    rl_jinja *t = rl_jinja_parse(s, (size_t)(p - s));
    CHECK(t == NULL, "5000-deep expression parsed");
    rl_jinja_free(t);
    free(s);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/rl-limits-%d", (int)getpid());
    mkdir(dir, 0700);
    RUN(test_st_header_length);
    RUN(test_gguf_counts);
    RUN(test_json_depth);
    RUN(test_jinja_limits);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    TEST_END();
}
