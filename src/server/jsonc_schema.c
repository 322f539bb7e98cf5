/* JSON schema -> the node tree of the output constraint (jsonc_node.h): types, properties /
 * required, additionalProperties, items, length and count limits, numeric ranges, enum / const,
 * anyOf / oneOf / allOf-of-one, $ref with recursion, nullable; unsupported assertions are errors. */
#include "server/jsonc_node.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 96           /* schema nesting (recursion through $ref is not nesting) */
#define MAX_ENUM 4096

typedef struct {
    js_pool *pool;
    const cJSON *root;
    struct { const cJSON *target; js_node *node; } *refs;
    int n_refs, cap_refs;
    char *err;
    size_t errsz;
} ctx;

static js_node *new_node(ctx *c, int type) {
    js_node *n = calloc(1, sizeof *n);
    if (!n) { snprintf(c->err, c->errsz, "out of memory"); return NULL; }
    n->type = type;
    n->max = -1;
    n->next_free = c->pool->all;
    c->pool->all = n;
    return n;
}

static void *fail(ctx *c, const char *fmt, const char *a) {
    snprintf(c->err, c->errsz, fmt, a);
    return NULL;
}

static const cJSON *get(const cJSON *s, const char *k) { return cJSON_GetObjectItemCaseSensitive(s, k); }

/* A literal node for values v[0..k) (the JSON texts, compact), split into an alternative of
 * nodes of at most JS_MAX_LITS. */
static js_node *literals(ctx *c, const cJSON *const *v, int k) {
    if (k > JS_MAX_LITS) {
        int parts = (k + JS_MAX_LITS - 1) / JS_MAX_LITS;
        js_node *a = new_node(c, T_ALT);
        if (!a || !(a->sub = calloc((size_t)parts, sizeof *a->sub))) return a ? fail(c, "out of memory", NULL) : NULL;
        for (int p = 0; p < parts; p++) {
            int m = k - p * JS_MAX_LITS < JS_MAX_LITS ? k - p * JS_MAX_LITS : JS_MAX_LITS;
            if (!(a->sub[p] = literals(c, v + p * JS_MAX_LITS, m))) return NULL;
            a->n++;
        }
        return a;
    }
    js_node *n = new_node(c, T_LITS);
    if (!n || !(n->keys = calloc((size_t)k, sizeof *n->keys))) return n ? fail(c, "out of memory", NULL) : NULL;
    for (int i = 0; i < k; i++) {
        if (!(n->keys[i] = cJSON_PrintUnformatted(v[i]))) return fail(c, "out of memory", NULL);
        n->n++;
    }
    return n;
}

static js_node *literal_words(ctx *c, int boolean) {
    cJSON *t = boolean ? cJSON_CreateTrue() : cJSON_CreateNull(), *f = boolean ? cJSON_CreateFalse() : NULL;
    const cJSON *v[2] = {t, f};
    js_node *n = t && (f || !boolean) ? literals(c, v, boolean ? 2 : 1) : fail(c, "out of memory", NULL);
    cJSON_Delete(t);
    cJSON_Delete(f);
    return n;
}

/* A non-negative integer keyword (-1 when absent); -2 (error set) when present but bad. */
static int count_kw(ctx *c, const cJSON *s, const char *k) {
    const cJSON *v = get(s, k);
    if (!v) return -1;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) || v->valuedouble > 1e9) {
        fail(c, "'%s' must be a non-negative integer", k);
        return -2;
    }
    return (int)v->valuedouble;
}

static int limits(ctx *c, const cJSON *s, js_node *n, const char *kmin, const char *kmax) {
    int lo = count_kw(c, s, kmin), hi = count_kw(c, s, kmax);
    if (lo == -2 || hi == -2) return -1;
    n->min = lo > 0 ? lo : 0;
    n->max = hi;
    if (hi >= 0 && n->min > hi) { snprintf(c->err, c->errsz, "'%s' is above '%s'", kmin, kmax); return -1; }
    return 0;
}

/* The JSON pointer ref ("#", "#/a/b" with ~0 ~1 escapes) inside the root. */
static const cJSON *resolve(ctx *c, const char *ref) {
    if (ref[0] != '#') return fail(c, "$ref '%.200s': only references into this schema (#/...) are supported", ref);
    const cJSON *at = c->root;
    const char *p = ref + 1;
    while (*p) {
        if (*p != '/') return fail(c, "$ref '%.200s' is not a JSON pointer", ref);
        p++;
        char name[256];
        size_t l = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '~' && (*p == '0' || *p == '1')) ch = *p++ == '0' ? '~' : '/';
            if (l + 1 < sizeof name) name[l++] = ch;
        }
        name[l] = 0;
        if (cJSON_IsArray(at)) {
            char *end;
            long i = strtol(name, &end, 10);
            at = *name && !*end ? cJSON_GetArrayItem(at, (int)i) : NULL;
        } else {
            at = cJSON_IsObject(at) ? get(at, name) : NULL;
        }
        if (!at) return fail(c, "$ref '%.200s' points to nothing", ref);
    }
    return at;
}

static js_node *compile(ctx *c, const cJSON *s, int depth, const char *only_type, int skip_nullable);

static js_node *compile_ref(ctx *c, const char *ref, int depth) {
    const cJSON *t = resolve(c, ref);
    if (!t) return NULL;
    for (int i = 0; i < c->n_refs; i++) if (c->refs[i].target == t) return c->refs[i].node;
    if (c->n_refs == c->cap_refs) {
        int cap = c->cap_refs ? c->cap_refs * 2 : 8;
        void *nr = realloc(c->refs, (size_t)cap * sizeof *c->refs);
        if (!nr) return fail(c, "out of memory", NULL);
        c->refs = nr;
        c->cap_refs = cap;
    }
    js_node *a = new_node(c, T_ALT);   /* a placeholder of one alternative: recursion finds it */
    if (!a || !(a->sub = calloc(1, sizeof *a->sub))) return a ? fail(c, "out of memory", NULL) : NULL;
    c->refs[c->n_refs].target = t;
    c->refs[c->n_refs++].node = a;
    if (!(a->sub[0] = compile(c, t, depth + 1, NULL, 0))) return NULL;
    a->n = 1;
    return a;
}

/* The alternatives of an array of schemas (anyOf / oneOf). */
static js_node *alternatives(ctx *c, const cJSON *arr, const char *kw, int depth) {
    int k = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || k < 1) return fail(c, "'%s' must be a non-empty array of schemas", kw);
    js_node *a = new_node(c, T_ALT);
    if (!a || !(a->sub = calloc((size_t)k, sizeof *a->sub))) return a ? fail(c, "out of memory", NULL) : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!(a->sub[a->n] = compile(c, e, depth + 1, NULL, 0))) return NULL;
        a->n++;
    }
    return a;
}

static int bound(ctx *c, const cJSON *s, const char *k, const char *kex, double *v, int *ex) {
    const cJSON *b = get(s, k), *e = get(s, kex);
    int has = 0;
    if (b) {
        if (!cJSON_IsNumber(b)) { fail(c, "'%s' must be a number", k); return -1; }
        *v = b->valuedouble;
        has = 1;
    }
    if (cJSON_IsNumber(e)) {            /* draft 6+: the exclusive bound itself */
        if (!has || (k[1] == 'i' ? e->valuedouble >= *v : e->valuedouble <= *v)) { *v = e->valuedouble; *ex = 1; }
        has = 1;
    } else if (cJSON_IsTrue(e) && has) { /* draft 4: a flag on minimum / maximum */
        *ex = 1;
    } else if (e && !cJSON_IsBool(e)) {
        fail(c, "'%s' must be a number", kex);
        return -1;
    }
    return has;
}

static js_node *number(ctx *c, const cJSON *s, int integer) {
    js_node *n = new_node(c, integer ? T_INT : T_NUM);
    if (!n) return NULL;
    int hl = bound(c, s, "minimum", "exclusiveMinimum", &n->lo, &n->lo_ex);
    int hh = bound(c, s, "maximum", "exclusiveMaximum", &n->hi, &n->hi_ex);
    if (hl < 0 || hh < 0) return NULL;
    n->has_lo = hl;
    n->has_hi = hh;
    if (integer) {                      /* inclusive integer bounds */
        if (hl) { n->lo = n->lo_ex ? floor(n->lo) + 1 : ceil(n->lo); n->lo_ex = 0; }
        if (hh) { n->hi = n->hi_ex ? ceil(n->hi) - 1 : floor(n->hi); n->hi_ex = 0; }
    }
    if ((hl && fabs(n->lo) > 1e15) || (hh && fabs(n->hi) > 1e15)) return fail(c, "numeric bounds beyond 1e15 are not supported", NULL);
    if (hl && hh && (n->lo > n->hi || (n->lo == n->hi && (n->lo_ex || n->hi_ex))))
        return fail(c, "the range of %s values is empty", integer ? "integer" : "number");
    return n;
}

static js_node *object(ctx *c, const cJSON *s, int depth) {
    js_node *n = new_node(c, T_OBJ);
    if (!n || limits(c, s, n, "minProperties", "maxProperties")) return NULL;
    const cJSON *pr = get(s, "properties"), *rq = get(s, "required"), *ap = get(s, "additionalProperties"), *p;
    if (!ap) ap = get(s, "unevaluatedProperties");
    if (pr && !cJSON_IsObject(pr)) return fail(c, "'properties' must be an object", NULL);
    if (rq && !cJSON_IsArray(rq)) return fail(c, "'required' must be an array of names", NULL);
    int k = cJSON_GetArraySize(pr);
    if (k > JS_MAX_PROPS) return fail(c, "more than 64 properties in one object are not supported", NULL);
    if (k) {
        n->keys = calloc((size_t)k, sizeof *n->keys);
        n->sub = calloc((size_t)k, sizeof *n->sub);
        if (!n->keys || !n->sub) return fail(c, "out of memory", NULL);
        cJSON_ArrayForEach(p, pr) {
            cJSON *ks = cJSON_CreateString(p->string);
            n->keys[n->n] = ks ? cJSON_PrintUnformatted(ks) : NULL;
            cJSON_Delete(ks);
            if (!n->keys[n->n]) return fail(c, "out of memory", NULL);
            n->n++;
            if (!(n->sub[n->n - 1] = compile(c, p, depth + 1, NULL, 0))) return NULL;
        }
    } else if (cJSON_IsFalse(ap)) {
        n->no_extra = 1;
    } else if (cJSON_IsObject(ap)) {
        if (!(n->extra = compile(c, ap, depth + 1, NULL, 0))) return NULL;
    } else if (ap && !cJSON_IsTrue(ap)) {
        return fail(c, "'additionalProperties' must be a schema or a boolean", NULL);
    }
    cJSON_ArrayForEach(p, rq) {
        if (!cJSON_IsString(p)) return fail(c, "'required' must be an array of names", NULL);
        int i = 0;
        while (i < n->n && strcmp(cJSON_GetArrayItem(pr, i)->string, p->valuestring)) i++;
        if (i == n->n) return fail(c, "required property '%.100s' is not among the object's properties", p->valuestring);
        n->required |= 1ull << i;
    }
    int nreq = 0;
    for (int i = 0; i < n->n; i++) nreq += (int)(n->required >> i & 1);
    if ((n->max >= 0 && nreq > n->max) || (n->n && n->min > n->n) || (n->no_extra && n->min > 0))
        return fail(c, "the object's property counts cannot be met", NULL);
    return n;
}

static js_node *array(ctx *c, const cJSON *s, int depth) {
    js_node *n = new_node(c, T_ARR);
    if (!n || limits(c, s, n, "minItems", "maxItems")) return NULL;
    const cJSON *it = get(s, "items");
    if (cJSON_IsArray(it)) return fail(c, "'items' as an array (tuples) is not supported", NULL);
    if (cJSON_IsFalse(it)) { if (n->min > 0) return fail(c, "'items' is false but 'minItems' is above 0", NULL); n->max = 0; }
    else if (cJSON_IsObject(it) && !(n->items = compile(c, it, depth + 1, NULL, 0))) return NULL;
    return n;
}

static const char *const UNSUPPORTED[] = {
    "pattern", "patternProperties", "propertyNames", "not", "if", "then", "else", "multipleOf", "prefixItems", "contains",
    "minContains", "maxContains", "dependentRequired", "dependentSchemas", "dependencies", "unevaluatedItems", NULL};

static js_node *compile(ctx *c, const cJSON *s, int depth, const char *only_type, int skip_nullable) {
    if (depth > MAX_NEST) return fail(c, "the schema is nested too deeply", NULL);
    if (cJSON_IsTrue(s)) return new_node(c, T_ANY);
    if (cJSON_IsFalse(s)) return fail(c, "a schema 'false' matches nothing", NULL);
    if (!cJSON_IsObject(s)) return fail(c, "a schema must be an object or a boolean", NULL);
    const cJSON *ref = get(s, "$ref");
    if (ref) {
        if (!cJSON_IsString(ref)) return fail(c, "'$ref' must be a string", NULL);
        return compile_ref(c, ref->valuestring, depth);
    }
    for (int i = 0; UNSUPPORTED[i]; i++) {
        const cJSON *v = get(s, UNSUPPORTED[i]);
        if (v && !(cJSON_IsObject(v) && !cJSON_GetArraySize(v)))
            return fail(c, "the schema keyword '%s' is not supported by constrained output", UNSUPPORTED[i]);
    }
    if (cJSON_IsTrue(get(s, "uniqueItems"))) return fail(c, "the schema keyword '%s' is not supported by constrained output", "uniqueItems");
    if (!skip_nullable && cJSON_IsTrue(get(s, "nullable"))) {   /* OpenAPI: the schema or null */
        js_node *a = new_node(c, T_ALT);
        if (!a || !(a->sub = calloc(2, sizeof *a->sub))) return a ? fail(c, "out of memory", NULL) : NULL;
        if (!(a->sub[0] = compile(c, s, depth + 1, only_type, 1)) || !(a->sub[1] = literal_words(c, 0))) return NULL;
        a->n = 2;
        return a;
    }
    const cJSON *all = get(s, "allOf");
    if (all) {
        if (!cJSON_IsArray(all) || cJSON_GetArraySize(all) != 1) return fail(c, "'allOf' is supported with one schema only", NULL);
        return compile(c, cJSON_GetArrayItem(all, 0), depth + 1, NULL, 0);
    }
    const cJSON *any = get(s, "anyOf");
    if (any) return alternatives(c, any, "anyOf", depth);
    if ((any = get(s, "oneOf"))) return alternatives(c, any, "oneOf", depth);
    const cJSON *en = get(s, "enum"), *cn = get(s, "const");
    if (cn) return literals(c, &cn, 1);
    if (en) {
        int k = cJSON_GetArraySize(en);
        if (!cJSON_IsArray(en) || k < 1 || k > MAX_ENUM) return fail(c, "'enum' needs 1 to 4096 values", NULL);
        const cJSON **v = malloc((size_t)k * sizeof *v), *e;
        if (!v) return fail(c, "out of memory", NULL);
        int i = 0;
        cJSON_ArrayForEach(e, en) v[i++] = e;
        js_node *n = literals(c, v, k);
        free(v);
        return n;
    }
    const cJSON *ty = get(s, "type");
    const char *t = only_type;
    if (!t && cJSON_IsArray(ty)) {       /* several types: one alternative each */
        int k = cJSON_GetArraySize(ty);
        if (k < 1) return fail(c, "'type' is an empty array", NULL);
        js_node *a = new_node(c, T_ALT);
        if (!a || !(a->sub = calloc((size_t)k, sizeof *a->sub))) return a ? fail(c, "out of memory", NULL) : NULL;
        const cJSON *e;
        cJSON_ArrayForEach(e, ty) {
            if (!cJSON_IsString(e)) return fail(c, "'type' must be a name or an array of names", NULL);
            if (!(a->sub[a->n] = compile(c, s, depth + 1, e->valuestring, 1))) return NULL;
            a->n++;
        }
        return a;
    }
    if (!t && ty && !cJSON_IsString(ty)) return fail(c, "'type' must be a name or an array of names", NULL);
    if (!t && ty) t = ty->valuestring;
    if (!t) {                            /* no type: what the keywords describe, else any value */
        if (get(s, "properties") || get(s, "required") || get(s, "additionalProperties")) t = "object";
        else if (get(s, "items") || get(s, "minItems") || get(s, "maxItems")) t = "array";
        else return new_node(c, T_ANY);
    }
    if (!strcmp(t, "string")) {
        js_node *n = new_node(c, T_STR);
        return n && !limits(c, s, n, "minLength", "maxLength") ? n : NULL;
    }
    if (!strcmp(t, "number")) return number(c, s, 0);
    if (!strcmp(t, "integer")) return number(c, s, 1);
    if (!strcmp(t, "boolean")) return literal_words(c, 1);
    if (!strcmp(t, "null")) return literal_words(c, 0);
    if (!strcmp(t, "array")) return array(c, s, depth);
    if (!strcmp(t, "object")) return object(c, s, depth);
    return fail(c, "unsupported schema type '%.40s'", t);
}

js_node *js_compile(js_pool *pool, const cJSON *schema, char *err, size_t errsz) {
    ctx c = {.pool = pool, .root = schema, .err = err, .errsz = errsz};
    err[0] = 0;
    js_node *n;
    if (schema) n = compile(&c, schema, 0, NULL, 0);
    else n = new_node(&c, T_OBJ);        /* json_object: any object */
    free(c.refs);
    if (!n && !err[0]) snprintf(err, errsz, "out of memory");
    return n;
}

void js_pool_free(js_pool *pool) {
    js_node *n = pool->all;
    while (n) {
        js_node *nx = n->next_free;
        if (n->keys) for (int i = 0; i < n->n; i++) free(n->keys[i]);
        free(n->keys);
        free(n->sub);
        free(n);
        n = nx;
    }
    pool->all = NULL;
}
