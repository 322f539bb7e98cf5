/* Jinja filters (as in Jinja2 plus transformers' tojson): jj_filter dispatches by name. */
#include "template/jj_eval.h"
#include "template/jj_print.h"
#include "template/jj_pystr.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef jv *(*filter_fn)(jj_state *S, jv *in, const jj_args *a, const jnode *at);

static long long int_arg(jj_state *S, jv *v, long long dflt, const jnode *at) {
    if (!v || v->k == JV_NONE) return dflt;
    if (v->k == JV_INT) return v->u.i;
    if (v->k == JV_BOOL) return v->u.b;
    if (v->k == JV_FLOAT) return (long long)v->u.f;
    jj_fail(S, at, "expected an integer argument, got '%s'", jv_type_name(v));
}
static int bool_arg(jv *v, int dflt) { return v ? jv_truthy(v) : dflt; }

/* Follows a dotted attribute path ("a.b" or "0"), as Jinja's make_attrgetter. */
static jv *attr_path(jj_state *S, jv *item, jv *attr, const jnode *at) {
    if (attr->k == JV_INT) return jj_getitem(S, item, attr, at);
    jv *s = jj_str_of(S, attr);
    const char *p = s->u.s.s;
    while (1) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        jv *key;
        char *endp; long long iv = strtoll(p, &endp, 10);
        if (len && endp == p + len) key = jv_int(S->A, iv);
        else key = jv_str(S->A, p, len);
        item = jj_getitem(S, item, key, at);
        if (!dot) return item;
        p = dot + 1;
    }
}

static jv *f_trim(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)at; return jj_py_strip(S, in, jj_arg(a, 0, "chars"), 3); }
static jv *f_upper(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)a; (void)at; return jj_py_case(S, in, 1); }
static jv *f_lower(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)a; (void)at; return jj_py_case(S, in, 0); }
static jv *f_capitalize(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)a; (void)at; return jj_py_capitalize(S, in); }
static jv *f_string(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)a; (void)at; return jj_str_of(S, in); }
static jv *f_safe(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)S; (void)a; (void)at; return in; }

static jv *f_title(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a; (void)at;
    jv *s = jj_str_of(S, in);
    jj_sb b; jj_sb_init(&b, S->A, 0);
    size_t i = 0; int word_start = 1;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        int sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || jj_py_isspace(cp);
        if (sep) { jj_sb_put_cp(&b, cp); word_start = 1; continue; }
        jj_sb_put_cp(&b, word_start ? jj_upper(cp) : jj_lower(cp));
        word_start = 0;
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static jv *f_length(jj_state *S, jv *in, const jj_args *a, const jnode *at) { (void)a; return jv_int(S->A, jj_len(S, in, at)); }

static jv *f_tojson(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jj_json_opts o = { 0, -1, ", ", ": ", 0 };
    jv *ea = jj_arg(a, 0, "ensure_ascii"), *ind = jj_arg(a, 1, "indent"), *sep = jj_arg(a, 2, "separators"),
       *sk = jj_arg(a, 3, "sort_keys");
    if (ea) o.ensure_ascii = jv_truthy(ea);
    if (ind && ind->k != JV_NONE) {
        if (ind->k == JV_STR) jj_fail(S, at, "tojson: string indent is not supported");
        o.indent = (int)int_arg(S, ind, 0, at);
        if (o.indent < 0) o.indent = 0;
        o.item_sep = ",";
    }
    if (sep && sep->k != JV_NONE) {
        if ((sep->k != JV_LIST && sep->k != JV_TUPLE) || sep->u.l.n != 2 || sep->u.l.v[0]->k != JV_STR || sep->u.l.v[1]->k != JV_STR)
            jj_fail(S, at, "tojson: separators must be a pair of strings");
        o.item_sep = sep->u.l.v[0]->u.s.s; o.key_sep = sep->u.l.v[1]->u.s.s;
    }
    if (sk) o.sort_keys = jv_truthy(sk);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    const jv *bad = jj_write_json(&b, in, &o);
    if (bad) {
        if (bad->k == JV_UNDEF) jj_fail(S, at, "Object of type Undefined is not JSON serializable");
        jj_fail(S, at, "Object of type %s is not JSON serializable", jv_type_name(bad));
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static jv *f_replace(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *old = jj_arg(a, 0, "old"), *rep = jj_arg(a, 1, "new"), *cnt = jj_arg(a, 2, "count");
    if (!old || !rep) jj_fail(S, at, "replace() needs 'old' and 'new'");
    return jj_py_replace(S, in, old, rep, int_arg(S, cnt, -1, at));
}

static jv *f_join(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *d = jj_arg(a, 0, "d"), *attr = jj_arg(a, 1, "attribute");
    jv *items = jj_iter_list(S, in, at);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    jv *sep = d ? jj_str_of(S, d) : NULL;
    for (size_t i = 0; i < items->u.l.n; i++) {
        if (i && sep) jj_sb_put(&b, sep->u.s.s, sep->u.s.n);
        jv *v = items->u.l.v[i];
        if (attr && attr->k != JV_NONE) v = attr_path(S, v, attr, at);
        jj_write_str(&b, v);
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static jv *f_default(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)at;
    jv *d = jj_arg(a, 0, "default_value");
    int boolean = bool_arg(jj_arg(a, 1, "boolean"), 0);
    if (in->k == JV_UNDEF || (boolean && !jv_truthy(in))) return d ? d : jv_str(S->A, "", 0);
    return in;
}

static jv *f_first(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    jv *l = jj_iter_list(S, in, at);
    return l->u.l.n ? l->u.l.v[0] : jv_undef(S->A, "No first item, sequence was empty.");
}
static jv *f_last(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    jv *l = jj_iter_list(S, in, at);
    return l->u.l.n ? l->u.l.v[l->u.l.n - 1] : jv_undef(S->A, "No last item, sequence was empty.");
}

static jv *f_items(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    if (in->k == JV_UNDEF) return jv_list(S->A, 0);
    if (in->k != JV_DICT && in->k != JV_NS) jj_fail(S, at, "Can only get item pairs from a mapping.");
    jv *l = jv_list(S->A, in->u.d.n);
    for (size_t i = 0; i < in->u.d.n; i++) {
        jv *t = jv_tuple(S->A, 2);
        jv_push(S->A, t, in->u.d.k[i]); jv_push(S->A, t, in->u.d.v[i]);
        jv_push(S->A, l, t);
    }
    return l;
}

static jv *f_list(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    jv *l = jj_iter_list(S, in, at);
    jv *r = jv_list(S->A, l->u.l.n);
    for (size_t i = 0; i < l->u.l.n; i++) jv_push(S->A, r, l->u.l.v[i]);
    return r;
}

static int parse_ll(const char *s, long long base, long long *out) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    char buf[128]; size_t k = 0;
    for (const char *p = s; *p && k < sizeof buf - 1; p++) if (*p != '_') buf[k++] = *p;
    buf[k] = 0;
    while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\n' || buf[k - 1] == '\t' || buf[k - 1] == '\r')) buf[--k] = 0;
    if (!k) return 0;
    char *e; long long v = strtoll(buf, &e, (int)base);
    if (*e) return 0;
    *out = v;
    return 1;
}
static int parse_d(const char *s, double *out) {
    char *e; double v = strtod(s, &e);
    if (e == s) return 0;
    while (*e == ' ' || *e == '\n' || *e == '\t' || *e == '\r') e++;
    if (*e) return 0;
    *out = v;
    return 1;
}

static jv *f_int(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    long long d = int_arg(S, jj_arg(a, 0, "default"), 0, at), base = int_arg(S, jj_arg(a, 1, "base"), 10, at);
    switch (in->k) {
    case JV_INT: return in;
    case JV_BOOL: return jv_int(S->A, in->u.b);
    case JV_FLOAT: return isfinite(in->u.f) ? jv_int(S->A, (long long)in->u.f) : jv_int(S->A, d);
    case JV_STR: {
        long long v; double f;
        if (parse_ll(in->u.s.s, base, &v)) return jv_int(S->A, v);
        if (parse_d(in->u.s.s, &f) && isfinite(f)) return jv_int(S->A, (long long)f);
        return jv_int(S->A, d);
    }
    default: return jv_int(S->A, d);
    }
}

static jv *f_float(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)at;
    jv *dv = jj_arg(a, 0, "default");
    double d = dv && jv_is_num(dv) ? jv_num(dv) : 0.0;
    double f;
    if (jv_is_num(in)) return jv_float(S->A, jv_num(in));
    if (in->k == JV_STR && parse_d(in->u.s.s, &f)) return jv_float(S->A, f);
    return jv_float(S->A, d);
}

static jv *f_abs(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    if (in->k == JV_INT) return jv_int(S->A, in->u.i < 0 ? -in->u.i : in->u.i);
    if (in->k == JV_BOOL) return jv_int(S->A, in->u.b);
    if (in->k == JV_FLOAT) return jv_float(S->A, fabs(in->u.f));
    jj_fail(S, at, "bad operand type for abs(): '%s'", jv_type_name(in));
}

static jv *f_round(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    long long prec = int_arg(S, jj_arg(a, 0, "precision"), 0, at);
    jv *mv = jj_arg(a, 1, "method");
    const char *m = mv && mv->k == JV_STR ? mv->u.s.s : "common";
    if (!jv_is_num(in)) jj_fail(S, at, "type %s doesn't define __round__ method", jv_type_name(in));
    double x = jv_num(in), p = pow(10.0, (double)prec), r;
    if (!strcmp(m, "common")) {
        /* Python's round(): exact decimal rounding, half to even (glibc printf does the same) */
        if (in->k != JV_FLOAT) return in->k == JV_BOOL ? jv_int(S->A, in->u.b) : in;
        if (prec >= 0 && prec < 300) {
            char buf[400]; snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
            r = strtod(buf, NULL);
        } else r = nearbyint(x * p) / p;
    } else if (!strcmp(m, "ceil")) r = ceil(x * p) / p;
    else if (!strcmp(m, "floor")) r = floor(x * p) / p;
    else jj_fail(S, at, "method must be common, ceil or floor");
    return jv_float(S->A, r);
}

/* select/reject/selectattr/rejectattr: attr NULL for select/reject; want = 1 keep matches. */
static jv *select_common(jj_state *S, jv *in, const jj_args *a, const jnode *at, int by_attr, int want) {
    jv *l = jj_iter_list(S, in, at);
    int off = by_attr ? 1 : 0;
    jv *attr = by_attr ? jj_arg(a, 0, NULL) : NULL;
    if (by_attr && !attr) jj_fail(S, at, "Missing parameter for attribute name");
    jv *test = jj_arg(a, off, NULL);
    jj_args targs = { 0, NULL, 0, NULL, NULL };
    if (a->n > off + 1) { targs.n = a->n - off - 1; targs.v = a->v + off + 1; }
    jv *r = jv_list(S->A, 0);
    for (size_t i = 0; i < l->u.l.n; i++) {
        jv *item = l->u.l.v[i];
        jv *v = by_attr ? attr_path(S, item, attr, at) : item;
        int ok;
        if (!test) ok = jv_truthy(v);
        else {
            jv *tn = jj_str_of(S, test);
            ok = jj_test(S, tn->u.s.s, v, &targs, at);
        }
        if (ok == want) jv_push(S->A, r, item);
    }
    return r;
}
static jv *f_select(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return select_common(S, in, a, at, 0, 1); }
static jv *f_reject(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return select_common(S, in, a, at, 0, 0); }
static jv *f_selectattr(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return select_common(S, in, a, at, 1, 1); }
static jv *f_rejectattr(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return select_common(S, in, a, at, 1, 0); }

static jv *f_map(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *l = jj_iter_list(S, in, at);
    jv *attr = jj_arg(a, -1, "attribute"), *dflt = jj_arg(a, -1, "default");
    jv *r = jv_list(S->A, l->u.l.n);
    if (attr) {
        for (size_t i = 0; i < l->u.l.n; i++) {
            jv *v = attr_path(S, l->u.l.v[i], attr, at);
            if (v->k == JV_UNDEF && dflt) v = dflt;
            jv_push(S->A, r, v);
        }
        return r;
    }
    if (a->n < 1) jj_fail(S, at, "map requires a filter name or attribute=");
    jv *fname = jj_str_of(S, a->v[0]);
    jj_args fa = { a->n - 1, a->v + 1, a->nk, a->kn, a->kv };
    for (size_t i = 0; i < l->u.l.n; i++) jv_push(S->A, r, jj_filter(S, fname->u.s.s, l->u.l.v[i], &fa, at));
    return r;
}

static jv *fold_key(jj_state *S, jv *v, int case_sensitive) {
    if (!case_sensitive && v->k == JV_STR) return jj_py_case(S, v, 0);
    return v;
}

static jv *f_unique(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    int cs = bool_arg(jj_arg(a, 0, "case_sensitive"), 0);
    jv *attr = jj_arg(a, 1, "attribute");
    jv *l = jj_iter_list(S, in, at);
    jv *r = jv_list(S->A, 0), *seen = jv_list(S->A, 0);
    for (size_t i = 0; i < l->u.l.n; i++) {
        jv *k = l->u.l.v[i];
        if (attr && attr->k != JV_NONE) k = attr_path(S, k, attr, at);
        k = fold_key(S, k, cs);
        int dup = 0;
        for (size_t j = 0; j < seen->u.l.n && !dup; j++) dup = jv_eq(seen->u.l.v[j], k);
        if (!dup) { jv_push(S->A, seen, k); jv_push(S->A, r, l->u.l.v[i]); }
    }
    return r;
}

static jv *f_indent(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *w = jj_arg(a, 0, "width");
    int first = bool_arg(jj_arg(a, 1, "first"), 0), blank = bool_arg(jj_arg(a, 2, "blank"), 0);
    jv *ind;
    if (w && w->k == JV_STR) ind = w;
    else {
        long long n = int_arg(S, w, 4, at);
        if (n < 0) n = 0;
        if (n > 4096) jj_fail(S, at, "indent width too large");
        char *sp = jj_alloc(S->A, (size_t)n + 1);
        memset(sp, ' ', (size_t)n);
        ind = jv_str_own(S->A, sp, (size_t)n);
    }
    jv *s = jj_concat_str(S, in, jv_str(S->A, "\n", 1));
    jv *lines = jj_py_splitlines(S, s, 0);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    for (size_t i = 0; i < lines->u.l.n; i++) {
        jv *ln = lines->u.l.v[i];
        if (i) jj_sb_putc(&b, '\n');
        if (i && (blank || ln->u.s.n)) jj_sb_put(&b, ind->u.s.s, ind->u.s.n);
        jj_sb_put(&b, ln->u.s.s, ln->u.s.n);
    }
    jv *r = jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    if (first) r = jj_concat_str(S, ind, r);
    return r;
}

static jv *f_batch(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    long long n = int_arg(S, jj_arg(a, 0, "linecount"), 0, at);
    jv *fill = jj_arg(a, 1, "fill_with");
    if (n <= 0) jj_fail(S, at, "batch size must be positive");
    jv *l = jj_iter_list(S, in, at), *r = jv_list(S->A, 0), *cur = NULL;
    for (size_t i = 0; i < l->u.l.n; i++) {
        if (!cur || (long long)cur->u.l.n == n) { cur = jv_list(S->A, (size_t)n); jv_push(S->A, r, cur); }
        jv_push(S->A, cur, l->u.l.v[i]);
    }
    if (cur && fill && fill->k != JV_NONE) while ((long long)cur->u.l.n < n) jv_push(S->A, cur, fill);
    return r;
}

typedef struct { jv *key, *item; } sort_ent;
/* Stable insertion sort (template lists are small; every comparison counts as a sandbox step). */
static jv *sort_list(jj_state *S, jv *l, jv **keys, int rev, const jnode *at) {
    size_t n = l->u.l.n;
    sort_ent *e = jj_alloc(S->A, (n ? n : 1) * sizeof *e);
    for (size_t i = 0; i < n; i++) { e[i].key = keys[i]; e[i].item = l->u.l.v[i]; }
    for (size_t i = 1; i < n; i++) {
        sort_ent t = e[i]; size_t j = i;
        while (j > 0) {
            jj_step(S, at);
            int c = jj_compare(S, e[j - 1].key, t.key, at, "<");
            if ((rev ? -c : c) <= 0) break;
            e[j] = e[j - 1]; j--;
        }
        e[j] = t;
    }
    jv *r = jv_list(S->A, n);
    for (size_t i = 0; i < n; i++) jv_push(S->A, r, e[i].item);
    return r;
}

static jv *f_sort(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    int rev = bool_arg(jj_arg(a, 0, "reverse"), 0), cs = bool_arg(jj_arg(a, 1, "case_sensitive"), 0);
    jv *attr = jj_arg(a, 2, "attribute");
    jv *l = jj_iter_list(S, in, at);
    jv **keys = jj_alloc(S->A, (l->u.l.n + 1) * sizeof(jv *));
    for (size_t i = 0; i < l->u.l.n; i++) {
        jv *k = l->u.l.v[i];
        if (attr && attr->k != JV_NONE) k = attr_path(S, k, attr, at);
        keys[i] = fold_key(S, k, cs);
    }
    return sort_list(S, l, keys, rev, at);
}

static jv *f_dictsort(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    int cs = bool_arg(jj_arg(a, 0, "case_sensitive"), 0);
    jv *by = jj_arg(a, 1, "by");
    int rev = bool_arg(jj_arg(a, 2, "reverse"), 0);
    int pos = by && by->k == JV_STR && !strcmp(by->u.s.s, "value") ? 1 : 0;
    jv *items = f_items(S, in, a, at);
    jv **keys = jj_alloc(S->A, (items->u.l.n + 1) * sizeof(jv *));
    for (size_t i = 0; i < items->u.l.n; i++) keys[i] = fold_key(S, items->u.l.v[i]->u.l.v[pos], cs);
    return sort_list(S, items, keys, rev, at);
}

static jv *f_wordcount(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a; (void)at;
    jv *s = jj_str_of(S, in);
    long long c = 0; int inw = 0; size_t i = 0;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        int w = jj_isalnum(cp) || cp == '_';
        if (w && !inw) c++;
        inw = w;
    }
    return jv_int(S->A, c);
}

static jv *f_reverse(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a;
    if (in->k == JV_STR) {
        jv *chars = jj_iter_list(S, in, at);
        jj_sb b; jj_sb_init(&b, S->A, 0);
        for (size_t i = chars->u.l.n; i-- > 0;) jj_write_str(&b, chars->u.l.v[i]);
        return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    }
    jv *l = jj_iter_list(S, in, at), *r = jv_list(S->A, l->u.l.n);
    for (size_t i = l->u.l.n; i-- > 0;) jv_push(S->A, r, l->u.l.v[i]);
    return r;
}

static jv *f_sum(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *attr = jj_arg(a, 0, "attribute"), *acc = jj_arg(a, 1, "start");
    if (!acc) acc = jv_int(S->A, 0);
    jv *l = jj_iter_list(S, in, at);
    for (size_t i = 0; i < l->u.l.n; i++) {
        jv *v = l->u.l.v[i];
        if (attr && attr->k != JV_NONE) v = attr_path(S, v, attr, at);
        acc = jj_binop(S, "+", acc, v, at);
    }
    return acc;
}

static jv *minmax(jj_state *S, jv *in, const jj_args *a, const jnode *at, int want_max) {
    int cs = bool_arg(jj_arg(a, 0, "case_sensitive"), 0);
    jv *attr = jj_arg(a, 1, "attribute");
    jv *l = jj_iter_list(S, in, at), *best = NULL, *bk = NULL;
    for (size_t i = 0; i < l->u.l.n; i++) {
        jv *k = l->u.l.v[i];
        if (attr && attr->k != JV_NONE) k = attr_path(S, k, attr, at);
        k = fold_key(S, k, cs);
        if (!best || (want_max ? jj_compare(S, k, bk, at, ">") > 0 : jj_compare(S, k, bk, at, "<") < 0)) { best = l->u.l.v[i]; bk = k; }
    }
    return best ? best : jv_undef(S->A, want_max ? "No aggregated item, sequence was empty." : "No aggregated item, sequence was empty.");
}
static jv *f_max(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return minmax(S, in, a, at, 1); }
static jv *f_min(jj_state *S, jv *in, const jj_args *a, const jnode *at) { return minmax(S, in, a, at, 0); }

static jv *f_escape(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a; (void)at;
    jv *s = jj_str_of(S, in);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    for (size_t i = 0; i < s->u.s.n; i++) {
        char c = s->u.s.s[i];
        if (c == '&') jj_sb_puts(&b, "&amp;");
        else if (c == '<') jj_sb_puts(&b, "&lt;");
        else if (c == '>') jj_sb_puts(&b, "&gt;");
        else if (c == '"') jj_sb_puts(&b, "&#34;");
        else if (c == '\'') jj_sb_puts(&b, "&#39;");
        else jj_sb_putc(&b, c);
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static jv *f_format(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *s = jj_str_of(S, in);
    if (a->nk) {
        jv *d = jv_dict(S->A, JV_DICT);
        for (int i = 0; i < a->nk; i++) jv_dict_sets(S->A, d, a->kn[i], a->kv[i]);
        return jj_py_percent(S, s, d, at);
    }
    jv *t = jv_tuple(S->A, (size_t)a->n);
    for (int i = 0; i < a->n; i++) jv_push(S->A, t, a->v[i]);
    return jj_py_percent(S, s, t, at);
}

static jv *f_pprint(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    (void)a; (void)at;
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    jj_write_repr(&b, in);
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static jv *f_attr(jj_state *S, jv *in, const jj_args *a, const jnode *at) {
    jv *n = jj_arg(a, 0, "name");
    if (!n) jj_fail(S, at, "attr() needs a name");
    return jj_getattr(S, in, jj_str_of(S, n)->u.s.s, at);
}

static const struct { const char *name; filter_fn fn; } FILTERS[] = {
    { "trim", f_trim }, { "tojson", f_tojson }, { "length", f_length }, { "count", f_length },
    { "upper", f_upper }, { "lower", f_lower }, { "title", f_title }, { "capitalize", f_capitalize },
    { "replace", f_replace }, { "join", f_join }, { "default", f_default }, { "d", f_default },
    { "first", f_first }, { "last", f_last }, { "items", f_items }, { "list", f_list },
    { "string", f_string }, { "int", f_int }, { "float", f_float }, { "abs", f_abs }, { "round", f_round },
    { "selectattr", f_selectattr }, { "rejectattr", f_rejectattr }, { "select", f_select },
    { "reject", f_reject }, { "map", f_map }, { "unique", f_unique }, { "indent", f_indent },
    { "safe", f_safe }, { "batch", f_batch }, { "sort", f_sort }, { "dictsort", f_dictsort },
    { "wordcount", f_wordcount }, { "reverse", f_reverse }, { "sum", f_sum }, { "max", f_max },
    { "min", f_min }, { "escape", f_escape }, { "e", f_escape }, { "forceescape", f_escape },
    { "format", f_format }, { "pprint", f_pprint }, { "attr", f_attr }, { "mark_safe", f_safe },
};

int jj_has_filter(const char *name) {
    for (size_t i = 0; i < sizeof FILTERS / sizeof FILTERS[0]; i++) if (!strcmp(FILTERS[i].name, name)) return 1;
    return 0;
}

jv *jj_filter(jj_state *S, const char *name, jv *in, const jj_args *a, const jnode *at) {
    for (size_t i = 0; i < sizeof FILTERS / sizeof FILTERS[0]; i++)
        if (!strcmp(FILTERS[i].name, name)) return FILTERS[i].fn(S, in, a, at);
    jj_fail(S, at, "No filter named '%s'.", name);
}
