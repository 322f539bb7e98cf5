/* Template globals: range, dict, namespace, raise_exception, strftime_now (as transformers sets up). */
#include "template/jj_eval.h"
#include "template/jj_pystr.h"
#include <string.h>
#include <time.h>

static long long iarg(jj_state *S, jv *v, const jnode *at) {
    if (v->k == JV_INT) return v->u.i;
    if (v->k == JV_BOOL) return v->u.b;
    if (v->k == JV_UNDEF) jj_undef_fail(S, v, at);
    jj_fail(S, at, "'%s' object cannot be interpreted as an integer", jv_type_name(v));
}

static jv *g_range(jj_state *S, jv *self, const jj_args *a, const jnode *at) {
    (void)self;
    long long start = 0, stop, step = 1;
    if (a->n == 1) stop = iarg(S, a->v[0], at);
    else if (a->n == 2 || a->n == 3) {
        start = iarg(S, a->v[0], at); stop = iarg(S, a->v[1], at);
        if (a->n == 3) step = iarg(S, a->v[2], at);
    } else jj_fail(S, at, "range expected 1 to 3 arguments, got %d", a->n);
    if (step == 0) jj_fail(S, at, "range() arg 3 must not be zero");
    long long n = 0;
    if (step > 0 && stop > start) n = (stop - start + step - 1) / step;
    else if (step < 0 && stop < start) n = (start - stop - step - 1) / -step;
    if (n > JJ_MAX_RANGE)
        jj_fail(S, at, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", JJ_MAX_RANGE);
    jv *l = jv_list(S->A, (size_t)n);
    for (long long i = 0; i < n; i++) jv_push(S->A, l, jv_int(S->A, start + i * step));
    return l;
}

static void fill_dict(jj_state *S, jv *d, const jj_args *a, const jnode *at) {
    for (int i = 0; i < a->n; i++) {
        jv *src = a->v[i];
        if (src->k == JV_DICT || src->k == JV_NS) {
            for (size_t j = 0; j < src->u.d.n; j++) jv_dict_set(S->A, d, src->u.d.k[j], src->u.d.v[j]);
        } else if (src->k == JV_LIST || src->k == JV_TUPLE) {
            for (size_t j = 0; j < src->u.l.n; j++) {
                jv *p = src->u.l.v[j];
                if ((p->k != JV_LIST && p->k != JV_TUPLE) || p->u.l.n != 2) jj_fail(S, at, "dictionary update sequence element has wrong length");
                jv_dict_set(S->A, d, p->u.l.v[0], p->u.l.v[1]);
            }
        } else jj_fail(S, at, "'%s' object is not iterable", jv_type_name(src));
    }
    for (int i = 0; i < a->nk; i++) jv_dict_sets(S->A, d, a->kn[i], a->kv[i]);
}

static jv *g_dict(jj_state *S, jv *self, const jj_args *a, const jnode *at) {
    (void)self;
    jv *d = jv_dict(S->A, JV_DICT);
    fill_dict(S, d, a, at);
    return d;
}

static jv *g_namespace(jj_state *S, jv *self, const jj_args *a, const jnode *at) {
    (void)self;
    jv *d = jv_dict(S->A, JV_NS);
    fill_dict(S, d, a, at);
    return d;
}

static jv *g_raise(jj_state *S, jv *self, const jj_args *a, const jnode *at) {
    (void)self; (void)at;
    jv *m = jj_arg(a, 0, "message");
    jj_raise(S, m ? jj_str_of(S, m)->u.s.s : "");
}

static jv *g_strftime(jj_state *S, jv *self, const jj_args *a, const jnode *at) {
    (void)self;
    jv *f = jj_arg(a, 0, "format");
    if (!f || f->k != JV_STR) jj_fail(S, at, "strftime_now() needs a format string");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char buf[512];
    size_t n = strftime(buf, sizeof buf, f->u.s.s, &tm);
    return jv_str(S->A, buf, n);
}

jv *jj_global(jj_state *S, const char *name) {
    if (!strcmp(name, "range")) return jv_native(S->A, g_range, NULL, "range");
    if (!strcmp(name, "dict")) return jv_native(S->A, g_dict, NULL, "dict");
    if (!strcmp(name, "namespace")) return jv_native(S->A, g_namespace, NULL, "namespace");
    if (!strcmp(name, "raise_exception")) return jv_native(S->A, g_raise, NULL, "raise_exception");
    if (!strcmp(name, "strftime_now")) return jv_native(S->A, g_strftime, NULL, "strftime_now");
    return NULL;
}
