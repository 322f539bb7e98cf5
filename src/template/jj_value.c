/* Construction, containers, truthiness and equality of Jinja runtime values. */
#include "template/jj_value.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

jv jv_none_v = { .k = JV_NONE };
jv jv_true_v = { .k = JV_BOOL, .u.b = 1 };
jv jv_false_v = { .k = JV_BOOL, .u.b = 0 };
jv jv_undef_v = { .k = JV_UNDEF };

static jv *mk(jj_arena *a, jv_kind k) { jv *v = jj_alloc(a, sizeof *v); v->k = k; return v; }
/* Scalars and strings only use the first union members: allocate just that much. */
static jv *mk_small(jj_arena *a, jv_kind k) {
    jv *v = jj_alloc(a, offsetof(jv, u) + 2 * sizeof(void *));
    v->k = k;
    return v;
}

jv *jv_undef(jj_arena *a, const char *hint) {
    jv *v = mk_small(a, JV_UNDEF);
    v->u.s.s = hint; v->u.s.n = hint ? strlen(hint) : 0;
    return v;
}
jv *jv_bool(int b) { return b ? JV_TRUE_P : JV_FALSE_P; }
jv *jv_int(jj_arena *a, long long i) { jv *v = mk_small(a, JV_INT); v->u.i = i; return v; }
jv *jv_float(jj_arena *a, double f) { jv *v = mk_small(a, JV_FLOAT); v->u.f = f; return v; }
jv *jv_str_own(jj_arena *a, const char *s, size_t n) { jv *v = mk_small(a, JV_STR); v->u.s.s = s; v->u.s.n = n; return v; }
jv *jv_str(jj_arena *a, const char *s, size_t n) { return jv_str_own(a, jj_strndup(a, s, n), n); }
jv *jv_cstr(jj_arena *a, const char *s) { return jv_str(a, s, strlen(s)); }

static jv *mkseq(jj_arena *a, jv_kind k, size_t cap) {
    jv *v = mk(a, k);
    if (cap) { v->u.l.v = jj_alloc(a, cap * sizeof(jv *)); v->u.l.cap = cap; }
    return v;
}
jv *jv_list(jj_arena *a, size_t cap) { return mkseq(a, JV_LIST, cap); }
jv *jv_tuple(jj_arena *a, size_t cap) { return mkseq(a, JV_TUPLE, cap); }
jv *jv_dict(jj_arena *a, jv_kind k) { return mk(a, k); }
jv *jv_native(jj_arena *a, jj_native fn, jv *self, const char *name) {
    jv *v = mk(a, JV_FUNC);
    v->u.fn.fn = fn; v->u.fn.self = self; v->u.fn.name = name;
    return v;
}

void jv_push(jj_arena *a, jv *l, jv *item) {
    if (l->u.l.n == l->u.l.cap) {
        size_t nc = l->u.l.cap ? l->u.l.cap * 2 : 4;
        jv **nv = jj_alloc(a, nc * sizeof(jv *));
        if (l->u.l.n) memcpy(nv, l->u.l.v, l->u.l.n * sizeof(jv *));
        l->u.l.v = nv; l->u.l.cap = nc;
    }
    l->u.l.v[l->u.l.n++] = item;
}

jv *jv_dict_get(const jv *d, const jv *key) {
    for (size_t i = 0; i < d->u.d.n; i++)
        if (jv_eq(d->u.d.k[i], key)) return d->u.d.v[i];
    return NULL;
}

jv *jv_dict_gets(const jv *d, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < d->u.d.n; i++) {
        const jv *k = d->u.d.k[i];
        if (k->k == JV_STR && k->u.s.n == n && memcmp(k->u.s.s, key, n) == 0) return d->u.d.v[i];
    }
    return NULL;
}

void jv_dict_set(jj_arena *a, jv *d, jv *key, jv *val) {
    for (size_t i = 0; i < d->u.d.n; i++)
        if (jv_eq(d->u.d.k[i], key)) { d->u.d.v[i] = val; return; }
    if (d->u.d.n == d->u.d.cap) {
        size_t nc = d->u.d.cap ? d->u.d.cap * 2 : 8;
        jv **nk = jj_alloc(a, nc * sizeof(jv *)), **nv = jj_alloc(a, nc * sizeof(jv *));
        if (d->u.d.n) { memcpy(nk, d->u.d.k, d->u.d.n * sizeof(jv *)); memcpy(nv, d->u.d.v, d->u.d.n * sizeof(jv *)); }
        d->u.d.k = nk; d->u.d.v = nv; d->u.d.cap = nc;
    }
    d->u.d.k[d->u.d.n] = key; d->u.d.v[d->u.d.n] = val; d->u.d.n++;
}

void jv_dict_sets(jj_arena *a, jv *d, const char *key, jv *val) { jv_dict_set(a, d, jv_cstr(a, key), val); }

int jv_truthy(const jv *v) {
    switch (v->k) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: return v->u.b;
    case JV_INT: return v->u.i != 0;
    case JV_FLOAT: return v->u.f != 0.0;
    case JV_STR: return v->u.s.n != 0;
    case JV_LIST: case JV_TUPLE: return v->u.l.n != 0;
    case JV_DICT: return v->u.d.n != 0;
    default: return 1;
    }
}

int jv_is_num(const jv *v) { return v->k == JV_BOOL || v->k == JV_INT || v->k == JV_FLOAT; }
double jv_num(const jv *v) {
    return v->k == JV_FLOAT ? v->u.f : v->k == JV_INT ? (double)v->u.i : v->k == JV_BOOL ? v->u.b : 0.0;
}

int jv_eq(const jv *a, const jv *b) {
    if (a == b) return a->k != JV_FLOAT || a->u.f == a->u.f;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a->k != JV_FLOAT && b->k != JV_FLOAT) {
            long long x = a->k == JV_INT ? a->u.i : a->u.b, y = b->k == JV_INT ? b->u.i : b->u.b;
            return x == y;
        }
        return jv_num(a) == jv_num(b);
    }
    if (a->k != b->k) return 0;
    switch (a->k) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a->u.s.n == b->u.s.n && memcmp(a->u.s.s, b->u.s.s, a->u.s.n) == 0;
    case JV_LIST: case JV_TUPLE:
        if (a->u.l.n != b->u.l.n) return 0;
        for (size_t i = 0; i < a->u.l.n; i++) if (!jv_eq(a->u.l.v[i], b->u.l.v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a->u.d.n != b->u.d.n) return 0;
        for (size_t i = 0; i < a->u.d.n; i++) {
            jv *o = jv_dict_get(b, a->u.d.k[i]);
            if (!o || !jv_eq(a->u.d.v[i], o)) return 0;
        }
        return 1;
    default: return 0;
    }
}

const char *jv_type_name(const jv *v) {
    switch (v->k) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return "list";
    case JV_TUPLE: return "tuple";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_LOOP: return "LoopContext";
    default: return v->u.fn.macro ? "Macro" : "builtin_function_or_method";
    }
}

jv *jv_from_json(jj_arena *a, const void *p) {
    const cJSON *j = p;
    if (!j || cJSON_IsNull(j)) return JV_NONE_P;
    if (cJSON_IsBool(j)) return jv_bool(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return jv_int(a, (long long)d);
        return jv_float(a, d);
    }
    if (cJSON_IsString(j)) return jv_cstr(a, j->valuestring ? j->valuestring : "");
    if (cJSON_IsArray(j)) {
        jv *l = jv_list(a, (size_t)cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) jv_push(a, l, jv_from_json(a, c));
        return l;
    }
    if (cJSON_IsObject(j)) {
        jv *d = jv_dict(a, JV_DICT);
        for (const cJSON *c = j->child; c; c = c->next)
            jv_dict_sets(a, d, c->string ? c->string : "", jv_from_json(a, c));
        return d;
    }
    return JV_NONE_P;
}
