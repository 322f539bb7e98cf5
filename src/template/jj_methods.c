/* Python methods callable from templates on str, dict, list and loop values, with the immutable
 * sandbox's refusal of mutating methods (list.append, dict.update, ...). */
#include "template/jj_eval.h"
#include "template/jj_print.h"
#include "template/jj_pystr.h"
#include <string.h>

static jv *need_str(jj_state *S, jv *v, const char *m, const jnode *at) {
    if (!v) jj_fail(S, at, "%s() missing required argument", m);
    if (v->k == JV_UNDEF) jj_undef_fail(S, v, at);
    if (v->k != JV_STR) jj_fail(S, at, "%s() argument must be str, not %s", m, jv_type_name(v));
    return v;
}
static long long opt_int(jj_state *S, jv *v, long long d, const jnode *at) {
    if (!v || v->k == JV_NONE) return d;
    if (v->k == JV_INT) return v->u.i;
    if (v->k == JV_BOOL) return v->u.b;
    jj_fail(S, at, "expected an integer, got '%s'", jv_type_name(v));
}

#define M(name) static jv *name(jj_state *S, jv *self, const jj_args *a, const jnode *at)

M(m_strip) { (void)at; return jj_py_strip(S, self, jj_arg(a, 0, "chars"), 3); }
M(m_lstrip) { (void)at; return jj_py_strip(S, self, jj_arg(a, 0, "chars"), 1); }
M(m_rstrip) { (void)at; return jj_py_strip(S, self, jj_arg(a, 0, "chars"), 2); }
M(m_upper) { (void)a; (void)at; return jj_py_case(S, self, 1); }
M(m_lower) { (void)a; (void)at; return jj_py_case(S, self, 0); }
M(m_title) { (void)a; (void)at; return jj_py_title(S, self); }
M(m_capitalize) { (void)a; (void)at; return jj_py_capitalize(S, self); }
M(m_split) { return jj_py_split(S, self, jj_arg(a, 0, "sep"), opt_int(S, jj_arg(a, 1, "maxsplit"), -1, at), at); }
M(m_rsplit) { return jj_py_rsplit(S, self, jj_arg(a, 0, "sep"), opt_int(S, jj_arg(a, 1, "maxsplit"), -1, at), at); }
M(m_splitlines) { (void)at; jv *k = jj_arg(a, 0, "keepends"); return jj_py_splitlines(S, self, k && jv_truthy(k)); }
M(m_replace) {
    jv *o = need_str(S, jj_arg(a, 0, NULL), "replace", at), *n = need_str(S, jj_arg(a, 1, NULL), "replace", at);
    return jj_py_replace(S, self, o, n, opt_int(S, jj_arg(a, 2, "count"), -1, at));
}

static jv *affix(jj_state *S, jv *self, const jj_args *a, const jnode *at, int ends) {
    jv *p = jj_arg(a, 0, NULL);
    if (!p) jj_fail(S, at, "%s() takes at least 1 argument", ends ? "endswith" : "startswith");
    long long n = (long long)jj_utf8_len(self->u.s.s, self->u.s.n);
    long long st = opt_int(S, jj_arg(a, 1, NULL), 0, at), en = opt_int(S, jj_arg(a, 2, NULL), n, at);
    if (st < 0) { st += n; if (st < 0) st = 0; }
    if (en < 0) { en += n; if (en < 0) en = 0; }
    if (en > n) en = n;
    if (st > n) return JV_FALSE_P;
    size_t bs = jj_utf8_off(self->u.s.s, self->u.s.n, (size_t)st), be = jj_utf8_off(self->u.s.s, self->u.s.n, (size_t)en);
    if (be < bs) be = bs;
    jv **cands = &p; size_t nc = 1;
    if (p->k == JV_TUPLE || p->k == JV_LIST) {
        if (p->k == JV_LIST) jj_fail(S, at, "%s first arg must be str or a tuple of str, not list", ends ? "endswith" : "startswith");
        cands = p->u.l.v; nc = p->u.l.n;
    }
    for (size_t i = 0; i < nc; i++) {
        jv *c = cands[i];
        if (c->k != JV_STR) jj_fail(S, at, "%s first arg must be str or a tuple of str, not %s", ends ? "endswith" : "startswith", jv_type_name(c));
        if (c->u.s.n > be - bs) continue;
        const char *at_p = ends ? self->u.s.s + be - c->u.s.n : self->u.s.s + bs;
        if (memcmp(at_p, c->u.s.s, c->u.s.n) == 0) return JV_TRUE_P;
    }
    return JV_FALSE_P;
}
M(m_startswith) { return affix(S, self, a, at, 0); }
M(m_endswith) { return affix(S, self, a, at, 1); }

static jv *find_impl(jj_state *S, jv *self, const jj_args *a, const jnode *at, int rev, int raise) {
    jv *sub = need_str(S, jj_arg(a, 0, NULL), rev ? "rfind" : "find", at);
    long long r = -1, p; size_t from = 0;
    while ((p = jj_py_find(self, sub, from)) >= 0) { r = p; if (!rev) break; from = (size_t)p + 1; }
    if (r < 0) { if (raise) jj_fail(S, at, "substring not found"); return jv_int(S->A, -1); }
    return jv_int(S->A, (long long)jj_utf8_len(self->u.s.s, (size_t)r));
}
M(m_find) { return find_impl(S, self, a, at, 0, 0); }
M(m_rfind) { return find_impl(S, self, a, at, 1, 0); }
M(m_sindex) { return find_impl(S, self, a, at, 0, 1); }
M(m_scount) { return jv_int(S->A, jj_py_count(self, need_str(S, jj_arg(a, 0, NULL), "count", at))); }
M(m_join) {
    jv *it = jj_arg(a, 0, NULL);
    if (!it) jj_fail(S, at, "join() takes exactly one argument");
    jv *l = jj_iter_list(S, it, at);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    for (size_t i = 0; i < l->u.l.n; i++) {
        if (l->u.l.v[i]->k != JV_STR) jj_fail(S, at, "sequence item %zu: expected str instance, %s found", i, jv_type_name(l->u.l.v[i]));
        if (i) jj_sb_put(&b, self->u.s.s, self->u.s.n);
        jj_sb_put(&b, l->u.l.v[i]->u.s.s, l->u.l.v[i]->u.s.n);
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}
M(m_format) { return jj_py_format(S, self, a, at); }
M(m_mod) { return jj_py_percent(S, self, a->v[0], at); }

static jv *str_class(jj_state *S, jv *self, int kind) {
    if (!self->u.s.n) return JV_FALSE_P;
    size_t i = 0;
    while (i < self->u.s.n) {
        uint32_t c = jj_utf8_next(self->u.s.s, self->u.s.n, &i);
        int ok = kind == 0 ? (c >= '0' && c <= '9') : kind == 1 ? (jj_isalnum(c) && !(c >= '0' && c <= '9')) :
                 kind == 2 ? jj_py_isspace(c) : jj_isalnum(c);
        if (!ok) return JV_FALSE_P;
    }
    (void)S;
    return JV_TRUE_P;
}
M(m_isdigit) { (void)a; (void)at; return str_class(S, self, 0); }
M(m_isalpha) { (void)a; (void)at; return str_class(S, self, 1); }
M(m_isspace) { (void)a; (void)at; return str_class(S, self, 2); }
M(m_isalnum) { (void)a; (void)at; return str_class(S, self, 3); }
M(m_isupper) { (void)at; return jv_bool(jj_test(S, "upper", self, a, at)); }
M(m_islower) { (void)at; return jv_bool(jj_test(S, "lower", self, a, at)); }

/* dict */
M(m_items) { return jj_filter(S, "items", self, a, at); }
M(m_keys) { (void)a; return jj_iter_list(S, self, at); }
M(m_values) {
    (void)a; (void)at;
    jv *l = jv_list(S->A, self->u.d.n);
    for (size_t i = 0; i < self->u.d.n; i++) jv_push(S->A, l, self->u.d.v[i]);
    return l;
}
M(m_get) {
    jv *k = jj_arg(a, 0, NULL), *d = jj_arg(a, 1, NULL);
    if (!k) jj_fail(S, at, "get expected at least 1 argument, got 0");
    jv *v = jv_dict_get(self, k);
    return v ? v : d ? d : JV_NONE_P;
}
M(m_dcopy) {
    (void)a; (void)at;
    jv *d = jv_dict(S->A, JV_DICT);
    for (size_t i = 0; i < self->u.d.n; i++) jv_dict_set(S->A, d, self->u.d.k[i], self->u.d.v[i]);
    return d;
}

/* list / tuple */
M(m_lindex) {
    jv *x = jj_arg(a, 0, NULL);
    if (!x) jj_fail(S, at, "index expected 1 argument");
    for (size_t i = 0; i < self->u.l.n; i++) if (jv_eq(self->u.l.v[i], x)) return jv_int(S->A, (long long)i);
    jj_fail(S, at, "value is not in %s", jv_type_name(self));
}
M(m_lcount) {
    jv *x = jj_arg(a, 0, NULL);
    if (!x) jj_fail(S, at, "count expected 1 argument");
    long long c = 0;
    for (size_t i = 0; i < self->u.l.n; i++) c += jv_eq(self->u.l.v[i], x);
    return jv_int(S->A, c);
}
M(m_lcopy) {
    (void)a; (void)at;
    jv *l = jv_list(S->A, self->u.l.n);
    for (size_t i = 0; i < self->u.l.n; i++) jv_push(S->A, l, self->u.l.v[i]);
    return l;
}

/* loop */
M(m_cycle) {
    if (!a->n) jj_fail(S, at, "no items for cycling given");
    return a->v[self->u.loop->i % (size_t)a->n];
}

typedef struct { const char *name; jj_native fn; } method;

static const method STR_M[] = {
    { "strip", m_strip }, { "lstrip", m_lstrip }, { "rstrip", m_rstrip }, { "upper", m_upper }, { "lower", m_lower },
    { "title", m_title }, { "capitalize", m_capitalize }, { "split", m_split }, { "rsplit", m_rsplit },
    { "splitlines", m_splitlines }, { "replace", m_replace }, { "startswith", m_startswith },
    { "endswith", m_endswith }, { "find", m_find }, { "rfind", m_rfind }, { "index", m_sindex },
    { "count", m_scount }, { "join", m_join }, { "format", m_format }, { "__mod__", m_mod },
    { "isdigit", m_isdigit }, { "isalpha", m_isalpha }, { "isspace", m_isspace }, { "isalnum", m_isalnum },
    { "isupper", m_isupper }, { "islower", m_islower }, { NULL, NULL }
};
static const method DICT_M[] = {
    { "items", m_items }, { "keys", m_keys }, { "values", m_values }, { "get", m_get }, { "copy", m_dcopy }, { NULL, NULL }
};
static const method LIST_M[] = { { "index", m_lindex }, { "count", m_lcount }, { "copy", m_lcopy }, { NULL, NULL } };
static const method TUPLE_M[] = { { "index", m_lindex }, { "count", m_lcount }, { NULL, NULL } };
static const method LOOP_M[] = { { "cycle", m_cycle }, { NULL, NULL } };

static const char *const LIST_UNSAFE[] = { "append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort", NULL };
static const char *const DICT_UNSAFE[] = { "clear", "pop", "popitem", "setdefault", "update", NULL };

static jv *find(jj_state *S, const method *t, jv *obj, const char *name) {
    for (int i = 0; t[i].name; i++) if (!strcmp(t[i].name, name)) return jv_native(S->A, t[i].fn, obj, t[i].name);
    return NULL;
}
static int listed(const char *const *l, const char *n) { for (int i = 0; l[i]; i++) if (!strcmp(l[i], n)) return 1; return 0; }

jv *jj_method(jj_state *S, jv *obj, const char *name, const jnode *at) {
    switch (obj->k) {
    case JV_STR: return find(S, STR_M, obj, name);
    case JV_DICT:
        if (listed(DICT_UNSAFE, name)) jj_fail(S, at, "access to attribute '%s' of 'dict' object is unsafe.", name);
        return find(S, DICT_M, obj, name);
    case JV_LIST:
        if (listed(LIST_UNSAFE, name)) jj_fail(S, at, "access to attribute '%s' of 'list' object is unsafe.", name);
        return find(S, LIST_M, obj, name);
    case JV_TUPLE: return find(S, TUPLE_M, obj, name);
    case JV_LOOP: return find(S, LOOP_M, obj, name);
    default: return NULL;
    }
}
