/* Forced tool calls (toolforce.h): the call schema {"name": const, "arguments" | "parameters":
 * the function's parameters} (one per allowed function, anyOf when several), wrapped in the
 * template's markers as the constraint's prefix and suffix. */
#include "server/toolforce.h"
#include <stdio.h>
#include <string.h>

rl_tools_style rl_tools_style_of(const char *r) {
    if (!r) return RL_TOOLS_JSON;
    if (strstr(r, "<tool_call>")) return RL_TOOLS_HERMES;
    if (strstr(r, "[TOOL_CALLS]") || strstr(r, "[AVAILABLE_TOOLS]")) return RL_TOOLS_MISTRAL;
    return RL_TOOLS_JSON;
}

const char *rl_tools_style_name(rl_tools_style st) {
    return st == RL_TOOLS_HERMES ? "hermes" : st == RL_TOOLS_MISTRAL ? "mistral" : "json";
}

static const cJSON *fn_of(const cJSON *tool) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(tool, "function");
    return cJSON_IsObject(f) ? f : NULL;
}

/* Appends the call schema of function f to alts, and f's $defs / definitions to defs (the
 * parameters' "#/$defs/..." references then resolve at the top of the call schema). */
static int add_call(cJSON *alts, cJSON *defs, const cJSON *f, rl_tools_style st) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name"), *params = cJSON_GetObjectItemCaseSensitive(f, "parameters");
    if (!cJSON_IsString(name)) return -1;
    cJSON *c = cJSON_CreateObject(), *pr = cJSON_AddObjectToObject(c, "properties"), *rq = cJSON_AddArrayToObject(c, "required");
    const char *akey = st == RL_TOOLS_JSON ? "parameters" : "arguments";
    cJSON_AddStringToObject(c, "type", "object");
    cJSON *n = cJSON_AddObjectToObject(pr, "name");
    cJSON_AddStringToObject(n, "const", name->valuestring);
    cJSON *a = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    if (a && !cJSON_IsObject(params)) cJSON_AddStringToObject(a, "type", "object");
    if (a) {
        for (int k = 0; k < 2; k++) {
            const char *dk = k ? "definitions" : "$defs";
            cJSON *d = cJSON_GetObjectItemCaseSensitive(a, dk), *e;
            if (!cJSON_IsObject(d)) continue;
            cJSON *to = cJSON_GetObjectItemCaseSensitive(defs, dk);
            if (!to) to = cJSON_AddObjectToObject(defs, dk);
            cJSON_ArrayForEach(e, d) if (to && !cJSON_GetObjectItemCaseSensitive(to, e->string))
                cJSON_AddItemToObject(to, e->string, cJSON_Duplicate(e, 1));
        }
        cJSON_AddItemToObject(pr, akey, a);
    }
    cJSON_AddItemToArray(rq, cJSON_CreateString("name"));
    cJSON_AddItemToArray(rq, cJSON_CreateString(akey));
    cJSON_AddFalseToObject(c, "additionalProperties");
    cJSON_AddItemToArray(alts, c);
    return a && n ? 0 : -1;
}

rl_jsonc *rl_toolforce_new(const cJSON *tools, const char *name, rl_tools_style st, const rl_vocab_text *vt, char *err, size_t errsz) {
    cJSON *defs = cJSON_CreateObject(), *alts = cJSON_CreateArray();
    const cJSON *t;
    int n = 0, bad = !defs || !alts;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *f = fn_of(t), *fn = cJSON_GetObjectItemCaseSensitive(f, "name");
        if (!f || !cJSON_IsString(fn) || (name && strcmp(fn->valuestring, name))) continue;
        if (add_call(alts, defs, f, st)) bad = 1;
        n++;
    }
    if (bad || !n) {
        if (bad) snprintf(err, errsz, "out of memory");
        else if (name) snprintf(err, errsz, "tool_choice names the function '%.100s', which is not among the tools", name);
        else snprintf(err, errsz, "tool_choice 'required' needs at least one function in tools");
        cJSON_Delete(defs); cJSON_Delete(alts);
        return NULL;
    }
    cJSON *call = n == 1 ? cJSON_DetachItemFromArray(alts, 0) : cJSON_CreateObject();
    if (n > 1 && call) cJSON_AddItemToObject(call, "anyOf", alts), alts = NULL;
    cJSON *schema = call;
    if (call && st == RL_TOOLS_MISTRAL) {   /* [TOOL_CALLS] [call] */
        schema = cJSON_CreateObject();
        if (schema) {
            cJSON_AddStringToObject(schema, "type", "array");
            cJSON_AddItemToObject(schema, "items", call);
            cJSON_AddNumberToObject(schema, "minItems", 1);
            cJSON_AddNumberToObject(schema, "maxItems", 1);
        } else {
            cJSON_Delete(call);
        }
    }
    rl_jsonc *c = NULL;
    if (!schema) {
        snprintf(err, errsz, "out of memory");
    } else {
        cJSON *d;
        while ((d = defs->child)) cJSON_AddItemToObject(schema, d->string, cJSON_DetachItemViaPointer(defs, d));
        const char *pre = st == RL_TOOLS_HERMES ? "<tool_call>\n" : st == RL_TOOLS_MISTRAL ? "[TOOL_CALLS] " : NULL;
        const char *suf = st == RL_TOOLS_HERMES ? "\n</tool_call>" : NULL;
        char e2[400];
        if (!(c = rl_jsonc_new_ex(schema, pre, suf, vt, e2, sizeof e2))) snprintf(err, errsz, "the tool's parameters: %s", e2);
    }
    cJSON_Delete(schema); cJSON_Delete(defs); cJSON_Delete(alts);
    return c;
}
