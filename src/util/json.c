/* Typed cJSON accessors for config files (see json.h). */
#include "util/json.h"
#include "util/err.h"
#include "util/fileio.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Python's json writes float('inf') / float('nan') as the bare words Infinity, -Infinity and NaN
 * (transformers' config.json: Mamba-2's "time_step_limit": [0.0, Infinity]); JSON has no such
 * literal. Outside strings they become 1e999 (strtod: an infinity) and null; NULL when the text
 * has none (or out of memory: the parser then reports the word). */
static char *python_literals(const char *t, size_t len, size_t *out_len) {
    if (!memmem(t, len, "Infinity", 8) && !memmem(t, len, "NaN", 3)) return NULL;
    char *o = malloc(len + len / 3 + 1);
    if (!o) return NULL;
    size_t n = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (in_str) {
            o[n++] = c;
            if (c == '\\' && i + 1 < len) o[n++] = t[++i];
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        if (c == 'I' && len - i >= 8 && !memcmp(t + i, "Infinity", 8)) { memcpy(o + n, "1e999", 5); n += 5; i += 7; continue; }
        if (c == 'N' && len - i >= 3 && !memcmp(t + i, "NaN", 3)) { memcpy(o + n, "null", 4); n += 4; i += 2; continue; }
        o[n++] = c;
    }
    o[n] = 0;
    *out_len = n;
    return o;
}

cJSON *rl_json_load(const char *path) {
    size_t len;
    char *text = rl_read_file(path, &len);
    if (!text) return NULL;
    size_t plen;
    char *p = python_literals(text, len, &plen);
    if (p) { free(text); text = p; len = plen; }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        rl_err("%s: invalid JSON at byte %zu", path, off);
    }
    free(text);
    return j;
}

const cJSON *rl_json_get(const cJSON *obj, const char *key) {
    if (!obj || !cJSON_IsObject(obj)) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

int rl_json_num(const cJSON *obj, const char *key, double def, double *out, const char *file) {
    const cJSON *v = rl_json_get(obj, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsNumber(v)) return rl_err("%s: \"%s\" must be a number", file, key);
    *out = v->valuedouble;
    return 0;
}

int rl_json_int(const cJSON *obj, const char *key, long long def, long long *out, const char *file) {
    double d = 0;
    if (rl_json_num(obj, key, (double)def, &d, file)) return -1;
    if (d != floor(d) || fabs(d) > 9e15) return rl_err("%s: \"%s\" must be an integer", file, key);
    *out = (long long)d;
    return 0;
}

int rl_json_bool(const cJSON *obj, const char *key, int def, int *out, const char *file) {
    const cJSON *v = rl_json_get(obj, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsBool(v)) return rl_err("%s: \"%s\" must be true or false", file, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int rl_json_str(const cJSON *obj, const char *key, const char *def, const char **out, const char *file) {
    const cJSON *v = rl_json_get(obj, key);
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsString(v)) return rl_err("%s: \"%s\" must be a string", file, key);
    *out = v->valuestring;
    return 0;
}
