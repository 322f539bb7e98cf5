/* Jinja tests (`x is name`): jj_test dispatches by name. */
#include "template/jj_eval.h"
#include "template/jj_pystr.h"
#include <math.h>
#include <string.h>

static jv *arg0(jj_state *S, const jj_args *a, const char *test, const jnode *at) {
    jv *v = jj_arg(a, 0, NULL);
    if (!v && a->nk) v = a->kv[0];
    if (!v) jj_fail(S, at, "test '%s' needs an argument", test);
    return v;
}

static int str_case_test(jj_state *S, jv *in, int upper) {
    jv *s = jj_str_of(S, in);
    size_t i = 0; int cased = 0;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        if (upper ? jj_islower(cp) : jj_isupper(cp)) return 0;
        if (jj_iscased(cp)) cased = 1;
    }
    return cased;
}

static const char *const TESTS[] = {
    "defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
    "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=",
    "lessthan", "greaterthan", "in", "odd", "even", "divisibleby", "lower", "upper", "callable", "sameas",
    "escaped", NULL
};

int jj_has_test(const char *name) {
    for (int i = 0; TESTS[i]; i++) if (!strcmp(TESTS[i], name)) return 1;
    return 0;
}

int jj_test(jj_state *S, const char *t, jv *in, const jj_args *a, const jnode *at) {
    if (!strcmp(t, "defined")) return in->k != JV_UNDEF;
    if (!strcmp(t, "undefined")) return in->k == JV_UNDEF;
    if (!strcmp(t, "none")) return in->k == JV_NONE;
    if (!strcmp(t, "string")) return in->k == JV_STR;
    if (!strcmp(t, "number")) return jv_is_num(in);
    if (!strcmp(t, "integer")) return in->k == JV_INT;
    if (!strcmp(t, "float")) return in->k == JV_FLOAT;
    if (!strcmp(t, "mapping")) return in->k == JV_DICT;
    if (!strcmp(t, "iterable")) return in->k == JV_STR || in->k == JV_LIST || in->k == JV_TUPLE || in->k == JV_DICT || in->k == JV_UNDEF;
    if (!strcmp(t, "sequence")) return in->k == JV_STR || in->k == JV_LIST || in->k == JV_TUPLE || in->k == JV_DICT || in->k == JV_UNDEF;
    if (!strcmp(t, "boolean")) return in->k == JV_BOOL;
    if (!strcmp(t, "true")) return in->k == JV_BOOL && in->u.b;
    if (!strcmp(t, "false")) return in->k == JV_BOOL && !in->u.b;
    if (!strcmp(t, "callable")) return in->k == JV_FUNC;
    if (!strcmp(t, "escaped")) return 0;
    if (!strcmp(t, "equalto") || !strcmp(t, "eq") || !strcmp(t, "==")) return jv_eq(in, arg0(S, a, t, at));
    if (!strcmp(t, "ne") || !strcmp(t, "!=")) return !jv_eq(in, arg0(S, a, t, at));
    if (!strcmp(t, "lt") || !strcmp(t, "<") || !strcmp(t, "lessthan")) return jj_compare(S, in, arg0(S, a, t, at), at, "<") < 0;
    if (!strcmp(t, "le") || !strcmp(t, "<=")) return jj_compare(S, in, arg0(S, a, t, at), at, "<=") <= 0;
    if (!strcmp(t, "gt") || !strcmp(t, ">") || !strcmp(t, "greaterthan")) return jj_compare(S, in, arg0(S, a, t, at), at, ">") > 0;
    if (!strcmp(t, "ge") || !strcmp(t, ">=")) return jj_compare(S, in, arg0(S, a, t, at), at, ">=") >= 0;
    if (!strcmp(t, "in")) return jj_contains(S, arg0(S, a, t, at), in, at);
    if (!strcmp(t, "sameas")) {
        jv *o = arg0(S, a, t, at);
        if (in->k == JV_NONE || in->k == JV_BOOL || in->k == JV_UNDEF) return in->k == o->k && (in->k != JV_BOOL || in->u.b == o->u.b);
        return in == o;
    }
    if (!strcmp(t, "odd") || !strcmp(t, "even") || !strcmp(t, "divisibleby")) {
        if (in->k == JV_UNDEF) jj_undef_fail(S, in, at);
        if (!jv_is_num(in)) jj_fail(S, at, "test '%s' needs a number, got '%s'", t, jv_type_name(in));
        if (t[0] == 'd') {
            jv *d = arg0(S, a, t, at);
            if (!jv_is_num(d)) jj_fail(S, at, "divisibleby needs a number");
            if (jv_num(d) == 0) jj_fail(S, at, "integer division or modulo by zero");
            if (in->k != JV_FLOAT && d->k != JV_FLOAT) {
                long long x = in->k == JV_INT ? in->u.i : in->u.b, y = d->k == JV_INT ? d->u.i : d->u.b;
                return x % y == 0;
            }
            return fmod(jv_num(in), jv_num(d)) == 0;
        }
        long long x = in->k == JV_FLOAT ? (long long)in->u.f : in->k == JV_INT ? in->u.i : in->u.b;
        if (in->k == JV_FLOAT && in->u.f != floor(in->u.f)) return t[0] == 'o' ? 0 : 0;
        return t[0] == 'o' ? (x % 2 != 0) : (x % 2 == 0);
    }
    if (!strcmp(t, "lower")) return str_case_test(S, in, 0);
    if (!strcmp(t, "upper")) return str_case_test(S, in, 1);
    jj_fail(S, at, "No test named '%s'.", t);
}
