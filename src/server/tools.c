/* Tool-call parsing for the three output conventions of tools.h. */
#include "server/tools.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const MARKERS[] = {"<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"};
#define N_MARKERS (sizeof MARKERS / sizeof MARKERS[0])

static size_t skip_ws(const char *t, size_t i, size_t len) {
    while (i < len && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t')) i++;
    return i;
}

/* Appends one call from obj ({"name", "arguments" | "parameters"}); 0 if obj is not a call. */
static int add_call(cJSON *calls, const cJSON *obj, uint64_t seed) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(obj, "arguments");
    if (!args) args = cJSON_GetObjectItemCaseSensitive(obj, "parameters");
    if (!cJSON_IsObject(obj) || !cJSON_IsString(name)) return 0;
    char *a = args ? (cJSON_IsString(args) ? strdup(args->valuestring) : cJSON_PrintUnformatted(args)) : strdup("{}");
    if (!a) return 0;
    char id[40];
    snprintf(id, sizeof id, "call_%016llx", (unsigned long long)(seed * 0x9E3779B97F4A7C15ull + (uint64_t)cJSON_GetArraySize(calls) + 1));
    cJSON *c = cJSON_CreateObject(), *f;
    cJSON_AddStringToObject(c, "id", id);
    cJSON_AddStringToObject(c, "type", "function");
    f = cJSON_AddObjectToObject(c, "function");
    cJSON_AddStringToObject(f, "name", name->valuestring);
    cJSON_AddStringToObject(f, "arguments", a);
    free(a);
    cJSON_AddItemToArray(calls, c);
    return 1;
}

/* Adds the calls of a parsed value: an object or an array of objects; number added. */
static int add_value(cJSON *calls, const cJSON *v, uint64_t seed) {
    if (cJSON_IsObject(v)) return add_call(calls, v, seed);
    int n = 0;
    const cJSON *e;
    if (cJSON_IsArray(v)) cJSON_ArrayForEach(e, v) n += add_call(calls, e, seed);
    return n;
}

/* Parses the JSON value starting at t[i..len) (strict: nothing but JSON and whitespace before end). */
static cJSON *parse_at(const char *t, size_t i, size_t end, size_t *used) {
    const char *e = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(t + i, end - i, &e, 0);
    if (v && used) *used = e ? (size_t)(e - t) : end;
    return v;
}

cJSON *rl_tools_parse(const char *t, size_t len, size_t *content_len, uint64_t seed) {
    *content_len = len;
    size_t first = len;
    int kind = -1;
    for (size_t k = 0; k < N_MARKERS; k++) {
        const char *f = memmem(t, len, MARKERS[k], strlen(MARKERS[k]));
        if (f && (size_t)(f - t) < first) { first = (size_t)(f - t); kind = (int)k; }
    }
    size_t start = skip_ws(t, 0, len);
    if (kind < 0 && !(start < len && t[start] == '{')) return NULL;
    cJSON *calls = cJSON_CreateArray();
    if (!calls) return NULL;
    if (kind == 0) {                     /* <tool_call> JSON </tool_call> ... */
        size_t i = first;
        for (;;) {
            const char *f = memmem(t + i, len - i, "<tool_call>", 11);
            if (!f) break;
            size_t b = (size_t)(f - t) + 11;
            const char *e = memmem(t + b, len - b, "</tool_call>", 12);
            size_t end = e ? (size_t)(e - t) : len;
            cJSON *v = parse_at(t, skip_ws(t, b, end), end, NULL);
            add_value(calls, v, seed);
            cJSON_Delete(v);
            i = e ? end + 12 : len;
        }
    } else if (kind >= 1) {              /* [TOOL_CALLS] [..] / <|python_tag|> {..} */
        size_t b = skip_ws(t, first + strlen(MARKERS[kind]), len);
        cJSON *v = parse_at(t, b, len, NULL);
        add_value(calls, v, seed);
        cJSON_Delete(v);
    } else {                             /* Llama 3.1: the whole answer is {"name", "parameters"} */
        size_t used = 0;
        cJSON *v = parse_at(t, start, len, &used);
        if (v && skip_ws(t, used, len) == len) add_value(calls, v, seed);
        cJSON_Delete(v);
        first = start;
    }
    if (!cJSON_GetArraySize(calls)) { cJSON_Delete(calls); return NULL; }
    while (first > 0 && (t[first - 1] == ' ' || t[first - 1] == '\n')) first--;
    *content_len = first;
    return calls;
}

cJSON *rl_tools_from_stream(const rl_detok_stream *ds, uint64_t seed) {
    int n = ds ? rl_detok_stream_n_calls(ds) : 0;
    cJSON *calls = n ? cJSON_CreateArray() : NULL;
    for (int i = 0; calls && i < n; i++) {
        const char *args;
        size_t al;
        const char *name = rl_detok_stream_call(ds, i, &args, &al);
        if (!strncmp(name, "functions.", 10)) name += 10;
        size_t a0 = skip_ws(args, 0, al);
        while (al > a0 && (args[al - 1] == ' ' || args[al - 1] == '\n' || args[al - 1] == '\r' || args[al - 1] == '\t')) al--;
        char *a = strndup(args + a0, al - a0), id[40];
        cJSON *c = cJSON_CreateObject(), *f = c ? cJSON_AddObjectToObject(c, "function") : NULL;
        if (!a || !f) { free(a); cJSON_Delete(c); break; }
        snprintf(id, sizeof id, "call_%016llx", (unsigned long long)(seed * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1));
        cJSON_AddStringToObject(c, "id", id);
        cJSON_AddStringToObject(c, "type", "function");
        cJSON_AddStringToObject(f, "name", name);
        cJSON_AddStringToObject(f, "arguments", *a ? a : "{}");
        cJSON_AddItemToArray(calls, c);
        free(a);
    }
    return calls;
}

size_t rl_tools_safe_prefix(const char *t, size_t len) {
    size_t start = skip_ws(t, 0, len);
    if (start < len && t[start] == '{') return 0;      /* may be a Llama 3.1 call: wait for the end */
    if (start == len) return 0;
    size_t safe = len;
    for (size_t k = 0; k < N_MARKERS; k++) {
        size_t ml = strlen(MARKERS[k]);
        const char *f = memmem(t, len, MARKERS[k], ml);
        if (f && (size_t)(f - t) < safe) safe = (size_t)(f - t);
        for (size_t p = ml - 1; p > 0; p--)            /* a marker's beginning at the very end */
            if (p <= len && !memcmp(t + len - p, MARKERS[k], p)) { if (len - p < safe) safe = len - p; break; }
    }
    return safe;
}
