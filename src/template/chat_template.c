/* Chat-template loader and renderer (see chat_template.h). */
#include "template/chat_template.h"
#include "tokenizer/tok_gguf.h"
#include "format/gguf_find.h"
#include "template/jinja.h"
#include "util/err.h"
#include "util/fileio.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rl_chat_template {
    rl_jinja *dflt, *tool_use;      /* tool_use: the named "tool_use" variant, if any */
    cJSON *tokens;                  /* object: special token name -> string / list of strings */
};

static const char *const TOKEN_KEYS[] = { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                                          "cls_token", "mask_token", NULL };

static cJSON *token_string(const cJSON *v) {
    if (cJSON_IsString(v)) return cJSON_CreateString(v->valuestring);
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return cJSON_CreateString(c->valuestring);
    }
    return NULL;
}

static cJSON *special_tokens(const cJSON *cfg) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cfg) return o;
    for (int i = 0; TOKEN_KEYS[i]; i++) {
        cJSON *s = token_string(cJSON_GetObjectItemCaseSensitive(cfg, TOKEN_KEYS[i]));
        if (s) cJSON_AddItemToObject(o, TOKEN_KEYS[i], s);
    }
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(cfg, "additional_special_tokens");
    if (cJSON_IsArray(add) && cJSON_GetArraySize(add) > 0) {
        cJSON *l = cJSON_CreateArray();
        for (const cJSON *e = add->child; e; e = e->next) {
            cJSON *s = token_string(e);
            if (s) cJSON_AddItemToArray(l, s);
        }
        cJSON_AddItemToObject(o, "additional_special_tokens", l);
    }
    return o;
}

static rl_jinja *parse_named(const char *src, const char *what) {
    rl_jinja *j = rl_jinja_parse(src, strlen(src));
    if (!j) rl_err_prefix("%s: ", what);
    return j;
}

/* Fills t from a "chat_template" value: a string, or a list of {name, template}. */
static int take_template(rl_chat_template *t, const cJSON *ct, const char *what) {
    if (cJSON_IsString(ct)) return (t->dflt = parse_named(ct->valuestring, what)) ? 0 : -1;
    if (!cJSON_IsArray(ct)) return rl_err("%s: chat_template must be a string or a list of {name, template}", what);
    for (const cJSON *e = ct->child; e; e = e->next) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name"), *s = cJSON_GetObjectItemCaseSensitive(e, "template");
        if (!cJSON_IsString(n) || !cJSON_IsString(s)) return rl_err("%s: chat_template entries need string name and template", what);
        rl_jinja **slot = !strcmp(n->valuestring, "default") ? &t->dflt : !strcmp(n->valuestring, "tool_use") ? &t->tool_use : NULL;
        if (!slot || *slot) continue;
        if (!(*slot = parse_named(s->valuestring, what))) return -1;
    }
    if (!t->dflt) return rl_err("%s: chat_template list has no \"default\" entry", what);
    return 0;
}

rl_chat_template *rl_chat_template_from_string(const char *source, const cJSON *cfg) {
    rl_chat_template *t = calloc(1, sizeof *t);
    if (!t) { rl_err("chat template: out of memory"); return NULL; }
    t->tokens = special_tokens(cfg);
    if (!(t->dflt = parse_named(source, "chat template"))) { rl_chat_template_free(t); return NULL; }
    return t;
}

rl_chat_template *rl_chat_template_load(const char *dir, int *found) {
    char path[4096];
    if (found) *found = 0;
    cJSON *cfg = NULL;
    if (rl_path_join(path, sizeof path, dir, "tokenizer_config.json") == 0 && rl_file_exists(path)) {
        char *txt = rl_read_file(path, NULL);
        if (!txt) return NULL;
        cfg = cJSON_Parse(txt);
        free(txt);
        if (!cfg) { rl_err("%s: invalid JSON", path); return NULL; }
    } else {
        int g = rl_gguf_find(dir, path, sizeof path); /* GGUF: tokenizer.chat_template and the special tokens */
        if (g < 0 || (g > 0 && !(cfg = rl_gguf_tokenizer_config(path)))) return NULL;
    }
    rl_chat_template *t = calloc(1, sizeof *t);
    if (!t) { cJSON_Delete(cfg); rl_err("chat template: out of memory"); return NULL; }
    t->tokens = special_tokens(cfg);
    int rc = 1;   /* 1 = not found yet */
    if (rl_path_join(path, sizeof path, dir, "chat_template.jinja") == 0 && rl_file_exists(path)) {
        char *src = rl_read_file(path, NULL);
        if (!src) rc = -1;
        else { t->dflt = parse_named(src, path); rc = t->dflt ? 0 : -1; free(src); }
    } else if (rl_path_join(path, sizeof path, dir, "chat_template.json") == 0 && rl_file_exists(path)) {
        char *txt = rl_read_file(path, NULL);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        free(txt);
        if (!j) { if (txt) rl_err("%s: invalid JSON", path); rc = -1; }
        else {
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(j, "chat_template");
            rc = ct ? take_template(t, ct, path) : rl_err("%s: no \"chat_template\" key", path);
            cJSON_Delete(j);
        }
    } else if (cfg) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (ct && !cJSON_IsNull(ct)) {
            if (rl_path_join(path, sizeof path, dir, "tokenizer_config.json") == 0 && !rl_file_exists(path))
                snprintf(path, sizeof path, "%s: tokenizer.chat_template", dir);
            rc = take_template(t, ct, path);
        }
    }
    cJSON_Delete(cfg);
    if (rc == 1) { rl_chat_template_free(t); rl_err("%s: no chat template", dir); return NULL; }
    if (found) *found = 1;
    if (rc < 0) { rl_chat_template_free(t); return NULL; }
    return t;
}

int rl_chat_template_render(const rl_chat_template *t, const cJSON *messages, int add_generation_prompt,
                            const cJSON *extra, char **out) {
    *out = NULL;
    if (messages && !cJSON_IsArray(messages)) return rl_err("chat template: messages must be a JSON array");
    if (extra && !cJSON_IsObject(extra) && !cJSON_IsNull(extra)) return rl_err("chat template: extra must be a JSON object");
    cJSON *ctx = cJSON_CreateObject();
    if (!ctx) return rl_err("chat template: out of memory");
    const cJSON *tools = extra && cJSON_IsObject(extra) ? cJSON_GetObjectItemCaseSensitive(extra, "tools") : NULL;
    cJSON_AddItemToObject(ctx, "messages", messages ? cJSON_Duplicate(messages, 1) : cJSON_CreateArray());
    cJSON_AddItemToObject(ctx, "tools", tools ? cJSON_Duplicate(tools, 1) : cJSON_CreateNull());
    cJSON_AddItemToObject(ctx, "documents", cJSON_CreateNull());
    cJSON_AddItemToObject(ctx, "add_generation_prompt", cJSON_CreateBool(add_generation_prompt));
    for (const cJSON *e = t->tokens ? t->tokens->child : NULL; e; e = e->next)
        cJSON_AddItemToObject(ctx, e->string, cJSON_Duplicate(e, 1));
    if (extra && cJSON_IsObject(extra))
        for (const cJSON *e = extra->child; e; e = e->next) {
            if (!strcmp(e->string, "tools")) continue;
            cJSON_DeleteItemFromObjectCaseSensitive(ctx, e->string);
            cJSON_AddItemToObject(ctx, e->string, cJSON_Duplicate(e, 1));
        }
    const rl_jinja *tpl = (tools && !cJSON_IsNull(tools) && t->tool_use) ? t->tool_use : t->dflt;
    int rc = rl_jinja_render(tpl, ctx, out, NULL);
    cJSON_Delete(ctx);
    return rc;
}

void rl_chat_template_free(rl_chat_template *t) {
    if (!t) return;
    rl_jinja_free(t->dflt);
    rl_jinja_free(t->tool_use);
    cJSON_Delete(t->tokens);
    free(t);
}
