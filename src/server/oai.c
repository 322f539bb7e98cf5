/* OpenAI request parsing and response JSON (see oai.h). */
#include "server/oai.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errsz, const char **param, const char *p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errsz, const char **param, const char *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    *param = p;
    return -1;
}

/* A present, non-null field: 1 with *out = the number in [lo, hi] (integral if integer), 0 if
 * absent or null, -1 if wrong. */
static int get_num(const cJSON *o, const char *key, double lo, double hi, int integer, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return -1;
    double x = v->valuedouble;
    if (x < lo || x > hi || (integer && x != floor(x))) return -1;
    *out = x;
    return 1;
}

/* Joins the text parts of an OpenAI content array into one string item; NULL if a part is not text. */
static cJSON *join_parts(const cJSON *parts) {
    size_t total = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) return NULL;
        total += strlen(text->valuestring);
    }
    char *s = malloc(total + 1), *q = s;
    if (!s) return NULL;
    cJSON_ArrayForEach(p, parts) {
        const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
        size_t l = strlen(t);
        memcpy(q, t, l);
        q += l;
    }
    *q = 0;
    cJSON *item = cJSON_CreateString(s);
    free(s);
    return item;
}

static int parse_messages(rl_oai_request *r, char *err, size_t errsz, const char **param) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r->root, "messages");
    if (!msgs) return fail(err, errsz, param, "messages", "'messages' is required");
    if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs))
        return fail(err, errsz, param, "messages", "'messages' must be a non-empty array of messages");
    if (!(r->messages = cJSON_Duplicate(msgs, 1))) return fail(err, errsz, param, NULL, "out of memory");
    int i = 0;
    cJSON *m;
    cJSON_ArrayForEach(m, r->messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role))
            return fail(err, errsz, param, "messages", "messages[%d] must be an object with a string 'role'", i);
        cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsArray(content)) {
            cJSON *joined = join_parts(content);
            if (!joined) return fail(err, errsz, param, "messages", "messages[%d].content: only text parts are supported", i);
            cJSON_ReplaceItemInObjectCaseSensitive(m, "content", joined);
        } else if (content && !cJSON_IsString(content) && !cJSON_IsNull(content)) {
            return fail(err, errsz, param, "messages", "messages[%d].content must be a string or an array of text parts", i);
        }
        i++;
    }
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(r->root, "tools");
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(r->root, "chat_template_kwargs");
    if (kw && !cJSON_IsNull(kw) && !cJSON_IsObject(kw))
        return fail(err, errsz, param, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
    if ((tools && !cJSON_IsNull(tools)) || cJSON_IsObject(kw)) {
        if (!(r->extra = cJSON_IsObject(kw) ? cJSON_Duplicate(kw, 1) : cJSON_CreateObject()))
            return fail(err, errsz, param, NULL, "out of memory");
        if (tools && !cJSON_IsNull(tools)) {
            const cJSON *tc = cJSON_GetObjectItemCaseSensitive(r->root, "tool_choice");
            cJSON_DeleteItemFromObjectCaseSensitive(r->extra, "tools");
            cJSON_AddItemToObject(r->extra, "tools", cJSON_Duplicate(tools, 1));
            if (tc && !cJSON_IsNull(tc)) {   /* templates that read it (the parse below checks its shape) */
                cJSON_DeleteItemFromObjectCaseSensitive(r->extra, "tool_choice");
                cJSON_AddItemToObject(r->extra, "tool_choice", cJSON_Duplicate(tc, 1));
            }
        }
    }
    return 0;
}

int rl_oai_parse(rl_oai_kind kind, const char *body, size_t len, const rl_sampling *def, rl_oai_request *r,
                 char *err, size_t errsz, const char **param) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = -1;
    r->sampling = *def;
    *param = NULL;
    const char *end = NULL;
    r->root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!r->root) {
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        return fail(err, errsz, param, NULL, "the request body is not valid JSON (near byte %zu)", at);
    }
    while (end && end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end && end < body + len) return fail(err, errsz, param, NULL, "the request body has text after the JSON value");
    if (!cJSON_IsObject(r->root)) return fail(err, errsz, param, NULL, "the request body must be a JSON object");

    if (kind == RL_OAI_CHAT) {
        if (parse_messages(r, err, errsz, param)) return -1;
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(r->root, "prompt");
        if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1) p = cJSON_GetArrayItem(p, 0);
        if (!p) return fail(err, errsz, param, "prompt", "'prompt' is required");
        if (!cJSON_IsString(p)) return fail(err, errsz, param, "prompt", "'prompt' must be a string");
        r->prompt = p->valuestring;
    }

    double x;
    int k;
    static const char *const MAXES[] = {"max_completion_tokens", "max_tokens"};
    for (int i = 0; i < 2 && r->max_tokens < 0; i++) {
        if ((k = get_num(r->root, MAXES[i], 1, 1e9, 1, &x)) < 0)
            return fail(err, errsz, param, MAXES[i], "'%s' must be an integer >= 1", MAXES[i]);
        if (k) r->max_tokens = (int)x;
    }
    if ((k = get_num(r->root, "temperature", 0, 100, 0, &x)) < 0)
        return fail(err, errsz, param, "temperature", "'temperature' must be a number in [0, 100]");
    if (k) r->sampling.temperature = (float)x;
    if ((k = get_num(r->root, "top_p", 0, 1, 0, &x)) < 0 || (k && x <= 0))
        return fail(err, errsz, param, "top_p", "'top_p' must be a number in (0, 1]");
    if (k) r->sampling.top_p = (float)x;
    if ((k = get_num(r->root, "top_k", -1, 1e9, 1, &x)) < 0)
        return fail(err, errsz, param, "top_k", "'top_k' must be an integer >= 0 (0 or -1: off)");
    if (k) r->sampling.top_k = x < 0 ? 0 : (int)x;
    if ((k = get_num(r->root, "min_p", 0, 1, 0, &x)) < 0)
        return fail(err, errsz, param, "min_p", "'min_p' must be a number in [0, 1]");
    if (k) r->sampling.min_p = (float)x;
    if ((k = get_num(r->root, "repetition_penalty", 0.01, 100, 0, &x)) < 0)
        return fail(err, errsz, param, "repetition_penalty", "'repetition_penalty' must be a number in [0.01, 100]");
    if (k) r->sampling.repetition_penalty = (float)x;
    if ((k = get_num(r->root, "seed", -9.2e18, 1.8e19, 1, &x)) < 0)
        return fail(err, errsz, param, "seed", "'seed' must be an integer");
    if (k) { r->sampling.seed = x < 0 ? (uint64_t)(int64_t)x : (uint64_t)x; r->has_seed = 1; }
    r->n = 1;
    if ((k = get_num(r->root, "n", 1, RL_OAI_MAX_N, 1, &x)) < 0)
        return fail(err, errsz, param, "n", "'n' must be an integer in [1, %d]", RL_OAI_MAX_N);
    if (k) r->n = (int)x;
    if ((k = get_num(r->root, "presence_penalty", -2, 2, 0, &x)) < 0)
        return fail(err, errsz, param, "presence_penalty", "'presence_penalty' must be a number in [-2, 2]");
    if (k) r->presence = (float)x;
    if ((k = get_num(r->root, "frequency_penalty", -2, 2, 0, &x)) < 0)
        return fail(err, errsz, param, "frequency_penalty", "'frequency_penalty' must be a number in [-2, 2]");
    if (k) r->frequency = (float)x;
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(r->root, "logit_bias"), *b;
    if (lb && !cJSON_IsNull(lb)) {
        if (!cJSON_IsObject(lb)) return fail(err, errsz, param, "logit_bias", "'logit_bias' must be an object of token id -> bias");
        cJSON_ArrayForEach(b, lb) {
            char *end = NULL;
            long id = strtol(b->string, &end, 10);
            if (!*b->string || *end || id < 0 || id > INT32_MAX || !cJSON_IsNumber(b) || b->valuedouble < -100 || b->valuedouble > 100)
                return fail(err, errsz, param, "logit_bias", "'logit_bias' keys must be token ids and values numbers in [-100, 100]");
            if (r->n_bias == RL_OAI_MAX_BIAS) return fail(err, errsz, param, "logit_bias", "at most %d logit_bias entries", RL_OAI_MAX_BIAS);
            r->bias_id[r->n_bias] = (int32_t)id;
            r->bias[r->n_bias++] = (float)b->valuedouble;
        }
    }
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(r->root, "logprobs");
    if (kind == RL_OAI_CHAT) {
        if (lp && !cJSON_IsNull(lp) && !cJSON_IsBool(lp)) return fail(err, errsz, param, "logprobs", "'logprobs' must be a boolean");
        r->logprobs = cJSON_IsTrue(lp);
        if ((k = get_num(r->root, "top_logprobs", 0, 20, 1, &x)) < 0)
            return fail(err, errsz, param, "top_logprobs", "'top_logprobs' must be an integer in [0, 20]");
        if (k && !r->logprobs) return fail(err, errsz, param, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        if (k) r->top_logprobs = (int)x;
    } else {
        if ((k = get_num(r->root, "logprobs", 0, 5, 1, &x)) < 0)
            return fail(err, errsz, param, "logprobs", "'logprobs' must be an integer in [0, 5]");
        if (k) { r->logprobs = 1; r->top_logprobs = (int)x; }
    }
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(r->root, "response_format");
    if (rf && !cJSON_IsNull(rf)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rf, "type");
        if (!cJSON_IsObject(rf) || !cJSON_IsString(ty))
            return fail(err, errsz, param, "response_format", "'response_format' must be an object with a string 'type'");
        if (!strcmp(ty->valuestring, "json_object")) r->format = RL_OAI_FMT_JSON_OBJECT;
        else if (!strcmp(ty->valuestring, "json_schema")) {
            const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
            r->schema = cJSON_IsObject(js) ? cJSON_GetObjectItemCaseSensitive(js, "schema") : NULL;
            if (!cJSON_IsObject(r->schema))
                return fail(err, errsz, param, "response_format", "'response_format.json_schema.schema' must be an object");
            r->format = RL_OAI_FMT_JSON_SCHEMA;
        } else if (strcmp(ty->valuestring, "text"))
            return fail(err, errsz, param, "response_format", "'response_format.type' must be text, json_object or json_schema");
    }
    if (kind == RL_OAI_CHAT) {
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(r->root, "tools");
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(r->root, "tool_choice");
        if (tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools)) return fail(err, errsz, param, "tools", "'tools' must be an array");
        r->has_tools = cJSON_IsArray(tools) && cJSON_GetArraySize(tools) > 0 && !(cJSON_IsString(tc) && !strcmp(tc->valuestring, "none"));
        if (cJSON_IsString(tc)) {
            if (strcmp(tc->valuestring, "none") && strcmp(tc->valuestring, "auto") && strcmp(tc->valuestring, "required"))
                return fail(err, errsz, param, "tool_choice", "'tool_choice' must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\"}}");
            r->tool_force = !strcmp(tc->valuestring, "required");
        } else if (cJSON_IsObject(tc)) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(tc, "function");
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(f, "name");
            if (!cJSON_IsString(nm)) return fail(err, errsz, param, "tool_choice", "'tool_choice.function.name' must be a string");
            r->tool_force = 1;
            r->tool_name = nm->valuestring;
        } else if (tc && !cJSON_IsNull(tc)) {
            return fail(err, errsz, param, "tool_choice", "'tool_choice' must be a string or an object");
        }
        if (r->tool_force && !r->has_tools) return fail(err, errsz, param, "tool_choice", "'tool_choice' forces a call but no tools are given");
        if (r->tool_force && r->format != RL_OAI_FMT_TEXT)
            return fail(err, errsz, param, "tool_choice", "a forced tool call and response_format json cannot be combined");
    }

    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(r->root, "stop");
    if (cJSON_IsString(stop)) {
        if (*stop->valuestring) r->stop[r->n_stop++] = stop->valuestring;
    } else if (cJSON_IsArray(stop)) {
        const cJSON *s;
        cJSON_ArrayForEach(s, stop) {
            if (!cJSON_IsString(s)) return fail(err, errsz, param, "stop", "'stop' must be a string or an array of strings");
            if (r->n_stop == RL_OAI_MAX_STOP) return fail(err, errsz, param, "stop", "at most %d stop strings", RL_OAI_MAX_STOP);
            if (*s->valuestring) r->stop[r->n_stop++] = s->valuestring;
        }
    } else if (stop && !cJSON_IsNull(stop)) {
        return fail(err, errsz, param, "stop", "'stop' must be a string or an array of strings");
    }

    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->root, "stream");
    if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) return fail(err, errsz, param, "stream", "'stream' must be a boolean");
    r->stream = cJSON_IsTrue(st);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(r->root, "stream_options");
    if (cJSON_IsObject(so)) r->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    return 0;
}

void rl_oai_request_free(rl_oai_request *r) {
    cJSON_Delete(r->root);
    cJSON_Delete(r->messages);
    cJSON_Delete(r->extra);
    memset(r, 0, sizeof *r);
}

static char *print_free(cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v) {
    if (v) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

char *rl_oai_error_json(const char *message, const char *type, const char *param, const char *code) {
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddStringToObject(e, "type", type);
    add_str_or_null(e, "param", param);
    add_str_or_null(e, "code", code);
    return print_free(o);
}

static cJSON *model_obj(const char *model, long created, int ctx, const char *family) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", model);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)created);
    cJSON_AddStringToObject(m, "owned_by", "rabbitllm");
    if (ctx > 0) cJSON_AddNumberToObject(m, "context_length", ctx);
    if (family) cJSON_AddStringToObject(m, "family", family);
    return m;
}

char *rl_oai_models_json_ex(const char *model, long created, int single, int ctx, const char *family) {
    if (single) return print_free(model_obj(model, created, ctx, family));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *d = cJSON_AddArrayToObject(o, "data");
    cJSON_AddItemToArray(d, model_obj(model, created, ctx, family));
    return print_free(o);
}

char *rl_oai_models_json(const char *model, long created, int single) {
    return rl_oai_models_json_ex(model, created, single, 0, NULL);
}

static cJSON *head(rl_oai_kind kind, const char *id, const char *model, long created, int chunk) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", kind == RL_OAI_COMPLETION ? "text_completion"
                                         : chunk ? "chat.completion.chunk" : "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)created);
    cJSON_AddStringToObject(o, "model", model);
    return o;
}

static void add_usage(cJSON *o, int n_prompt, int n_gen) {
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", n_prompt + n_gen);
}

char *rl_oai_response_json(rl_oai_kind kind, const char *id, const char *model, long created, rl_oai_choice *ch, int n,
                           int n_prompt, int n_gen) {
    cJSON *o = head(kind, id, model, created, 0), *choices = cJSON_AddArrayToObject(o, "choices");
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", i);
        if (kind == RL_OAI_CHAT) {
            cJSON *m = cJSON_AddObjectToObject(c, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            add_str_or_null(m, "content", ch[i].text);
            if (ch[i].reasoning && *ch[i].reasoning) cJSON_AddStringToObject(m, "reasoning_content", ch[i].reasoning);
            if (ch[i].tool_calls) cJSON_AddItemToObject(m, "tool_calls", ch[i].tool_calls);
        } else {
            cJSON_AddStringToObject(c, "text", ch[i].text ? ch[i].text : "");
        }
        if (ch[i].logprobs && kind == RL_OAI_CHAT) {
            cJSON *l = cJSON_AddObjectToObject(c, "logprobs");
            cJSON_AddItemToObject(l, "content", ch[i].logprobs);
        } else if (ch[i].logprobs) cJSON_AddItemToObject(c, "logprobs", ch[i].logprobs);
        else cJSON_AddNullToObject(c, "logprobs");
        ch[i].logprobs = ch[i].tool_calls = NULL;
        cJSON_AddStringToObject(c, "finish_reason", ch[i].finish);
        cJSON_AddItemToArray(choices, c);
    }
    add_usage(o, n_prompt, n_gen);
    return print_free(o);
}

char *rl_oai_reasoning_chunk_json(const char *id, const char *model, long created, int index, const char *text, size_t len) {
    cJSON *o = head(RL_OAI_CHAT, id, model, created, 1), *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(c, "delta");
    char *t = strndup(text, len);
    if (!t) { cJSON_Delete(o); cJSON_Delete(c); return NULL; }
    cJSON_AddNumberToObject(c, "index", index);
    cJSON_AddStringToObject(d, "reasoning_content", t);
    cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    free(t);
    return print_free(o);
}

char *rl_oai_chunk_json(rl_oai_kind kind, const char *id, const char *model, long created, int index, const char *role,
                        const char *text, size_t len, cJSON *logprobs, cJSON *tool_calls, const char *finish,
                        int n_prompt, int n_gen, int usage) {
    cJSON *o = head(kind, id, model, created, 1);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    if (usage) { add_usage(o, n_prompt, n_gen); cJSON_Delete(logprobs); cJSON_Delete(tool_calls); return print_free(o); }
    char *t = text ? strndup(text, len) : NULL;
    if (text && !t) { cJSON_Delete(o); cJSON_Delete(logprobs); cJSON_Delete(tool_calls); return NULL; }
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", index);
    if (kind == RL_OAI_CHAT) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role) cJSON_AddStringToObject(d, "role", role);
        if (t) cJSON_AddStringToObject(d, "content", t);
        if (tool_calls) cJSON_AddItemToObject(d, "tool_calls", tool_calls);
    } else {
        cJSON_AddStringToObject(c, "text", t ? t : "");
        cJSON_Delete(tool_calls);
    }
    if (logprobs && kind == RL_OAI_CHAT) {
        cJSON *l = cJSON_AddObjectToObject(c, "logprobs");
        cJSON_AddItemToObject(l, "content", logprobs);
    } else if (logprobs) cJSON_AddItemToObject(c, "logprobs", logprobs);
    else cJSON_AddNullToObject(c, "logprobs");
    add_str_or_null(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    free(t);
    return print_free(o);
}
