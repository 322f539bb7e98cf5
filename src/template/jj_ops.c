/* Jinja operators with Python semantics: attribute/item access, slicing, arithmetic, comparison,
 * membership, iteration and length. */
#include "template/jj_eval.h"
#include "template/jj_print.h"
#include <limits.h>
#include <math.h>
#include <string.h>

static jv *undef_attr(jj_state *S, jv *obj, const char *name) {
    jj_sb b; jj_sb_init(&b, S->A, 0);
    if (obj->k == JV_NONE) jj_sb_printf(&b, "'None' has no attribute '%s'", name);
    else jj_sb_printf(&b, "'%s object' has no attribute '%s'", jv_type_name(obj), name);
    return jv_undef(S->A, jj_sb_str(&b));
}

static jv *loop_attr(jj_state *S, jv *lv, const char *name) {
    jj_loop *L = lv->u.loop;
    jj_arena *A = S->A;
    long long i = (long long)L->i, n = (long long)L->n;
    if (!strcmp(name, "index")) return jv_int(A, i + 1);
    if (!strcmp(name, "index0")) return jv_int(A, i);
    if (!strcmp(name, "revindex")) return jv_int(A, n - i);
    if (!strcmp(name, "revindex0")) return jv_int(A, n - i - 1);
    if (!strcmp(name, "first")) return jv_bool(i == 0);
    if (!strcmp(name, "last")) return jv_bool(i == n - 1);
    if (!strcmp(name, "length")) return jv_int(A, n);
    if (!strcmp(name, "depth")) return jv_int(A, L->depth);
    if (!strcmp(name, "depth0")) return jv_int(A, L->depth - 1);
    if (!strcmp(name, "previtem")) return i > 0 ? L->items[i - 1] : jv_undef(A, "there is no previous item");
    if (!strcmp(name, "nextitem")) return i + 1 < n ? L->items[i + 1] : jv_undef(A, "there is no next item");
    jv *m = jj_method(S, lv, name, NULL);
    return m ? m : undef_attr(S, lv, name);
}

jv *jj_getattr(jj_state *S, jv *obj, const char *name, const jnode *at) {
    switch (obj->k) {
    case JV_UNDEF: jj_undef_fail(S, obj, at);
    case JV_LOOP: return loop_attr(S, obj, name);
    case JV_NS: { jv *v = jv_dict_gets(obj, name); return v ? v : undef_attr(S, obj, name); }
    case JV_DICT: {
        jv *m = jj_method(S, obj, name, at);
        if (m) return m;
        jv *v = jv_dict_gets(obj, name);
        return v ? v : undef_attr(S, obj, name);
    }
    default: {
        jv *m = jj_method(S, obj, name, at);
        return m ? m : undef_attr(S, obj, name);
    }
    }
}

static int as_index(const jv *k, long long *out) {
    if (k->k == JV_INT) { *out = k->u.i; return 1; }
    if (k->k == JV_BOOL) { *out = k->u.b; return 1; }
    return 0;
}

jv *jj_getitem(jj_state *S, jv *obj, jv *key, const jnode *at) {
    long long idx;
    switch (obj->k) {
    case JV_UNDEF: jj_undef_fail(S, obj, at);
    case JV_DICT: case JV_NS: {
        jv *v = jv_dict_get(obj, key);
        if (v) return v;
        break;
    }
    case JV_LIST: case JV_TUPLE:
        if (as_index(key, &idx)) {
            long long n = (long long)obj->u.l.n;
            if (idx < 0) idx += n;
            if (idx >= 0 && idx < n) return obj->u.l.v[idx];
            jj_sb b; jj_sb_init(&b, S->A, 0);
            jj_sb_printf(&b, "'%s object' has no element %lld", jv_type_name(obj), key->k == JV_INT ? key->u.i : (long long)key->u.b);
            return jv_undef(S->A, jj_sb_str(&b));
        }
        break;
    case JV_STR:
        if (as_index(key, &idx)) {
            long long n = (long long)jj_utf8_len(obj->u.s.s, obj->u.s.n);
            if (idx < 0) idx += n;
            if (idx >= 0 && idx < n) {
                size_t o = jj_utf8_off(obj->u.s.s, obj->u.s.n, (size_t)idx), e = o;
                jj_utf8_next(obj->u.s.s, obj->u.s.n, &e);
                return jv_str(S->A, obj->u.s.s + o, e - o);
            }
            return jv_undef(S->A, "string index out of range");
        }
        break;
    default: break;
    }
    if (key->k == JV_STR) return jj_getattr(S, obj, key->u.s.s, at);
    jj_sb b; jj_sb_init(&b, S->A, 0);
    jj_sb_printf(&b, "'%s object' has no element ", jv_type_name(obj));
    jj_write_repr(&b, key);
    return jv_undef(S->A, jj_sb_str(&b));
}

static long long slice_arg(jj_state *S, jv *v, const jnode *at, long long dflt) {
    if (!v || v->k == JV_NONE) return dflt;
    long long i;
    if (!as_index(v, &i)) jj_fail(S, at, "slice indices must be integers or None");
    return i;
}

jv *jj_slice(jj_state *S, jv *obj, jv *start, jv *stop, jv *step, const jnode *at) {
    if (obj->k == JV_UNDEF) jj_undef_fail(S, obj, at);
    long long st = slice_arg(S, step, at, 1);
    if (st == 0) jj_fail(S, at, "slice step cannot be zero");
    int is_str = obj->k == JV_STR;
    if (!is_str && obj->k != JV_LIST && obj->k != JV_TUPLE)
        jj_fail(S, at, "'%s' object is not subscriptable", jv_type_name(obj));
    /* strings: work on code point offsets */
    size_t *offs = NULL;
    long long n;
    if (is_str) {
        n = (long long)jj_utf8_len(obj->u.s.s, obj->u.s.n);
        offs = jj_alloc(S->A, ((size_t)n + 1) * sizeof(size_t));
        size_t i = 0; long long c = 0;
        while (i < obj->u.s.n) { offs[c++] = i; jj_utf8_next(obj->u.s.s, obj->u.s.n, &i); }
        offs[n] = obj->u.s.n;
    } else n = (long long)obj->u.l.n;
    long long lo, hi;
    if (st > 0) {
        lo = slice_arg(S, start, at, 0); hi = slice_arg(S, stop, at, n);
        if (lo < 0) { lo += n; if (lo < 0) lo = 0; } else if (lo > n) lo = n;
        if (hi < 0) { hi += n; if (hi < 0) hi = 0; } else if (hi > n) hi = n;
    } else {
        lo = slice_arg(S, start, at, n - 1); hi = slice_arg(S, stop, at, LLONG_MIN);
        if (start && start->k != JV_NONE) { if (lo < 0) { lo += n; if (lo < 0) lo = -1; } else if (lo >= n) lo = n - 1; }
        if (hi == LLONG_MIN) hi = -1;
        else if (hi < 0) { hi += n; if (hi < 0) hi = -1; } else if (hi >= n) hi = n - 1;
    }
    if (is_str) {
        jj_sb b; jj_sb_init(&b, S->A, 0);
        if (st == 1) { if (hi > lo) jj_sb_put(&b, obj->u.s.s + offs[lo], offs[hi] - offs[lo]); }
        else for (long long i = lo; st > 0 ? i < hi : i > hi; i += st) jj_sb_put(&b, obj->u.s.s + offs[i], offs[i + 1] - offs[i]);
        return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    }
    jv *r = obj->k == JV_TUPLE ? jv_tuple(S->A, 0) : jv_list(S->A, 0);
    for (long long i = lo; st > 0 ? i < hi : i > hi; i += st) jv_push(S->A, r, obj->u.l.v[i]);
    return r;
}

jv *jj_concat_str(jj_state *S, jv *a, jv *b) {
    jj_sb sb; jj_sb_init(&sb, S->A, 0);
    jj_write_str(&sb, a); jj_write_str(&sb, b);
    return jv_str_own(S->A, (char *)jj_sb_str(&sb), sb.n);
}

__attribute__((noreturn))
static void bad_operands(jj_state *S, const char *op, jv *a, jv *b, const jnode *at) {
    jj_fail(S, at, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(a), jv_type_name(b));
}

static jv *repeat(jj_state *S, jv *seq, long long n) {
    if (n < 0) n = 0;
    if (seq->k == JV_STR) {
        if (seq->u.s.n && (unsigned long long)n > JJ_MAX_OUTPUT / seq->u.s.n) jj_fail(S, NULL, "string too large (sandbox limit)");
        jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
        for (long long i = 0; i < n; i++) jj_sb_put(&b, seq->u.s.s, seq->u.s.n);
        return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    }
    jv *r = seq->k == JV_TUPLE ? jv_tuple(S->A, 0) : jv_list(S->A, 0);
    if (seq->u.l.n && (unsigned long long)n > (unsigned long long)JJ_MAX_OUTPUT / seq->u.l.n) jj_fail(S, NULL, "sequence too large");
    for (long long i = 0; i < n; i++)
        for (size_t j = 0; j < seq->u.l.n; j++) jv_push(S->A, r, seq->u.l.v[j]);
    return r;
}

static long long ival(const jv *v) { return v->k == JV_INT ? v->u.i : v->u.b; }

static jv *int_pow(jj_state *S, long long b, long long e, const jnode *at) {
    if (e < 0) return jv_float(S->A, pow((double)b, (double)e));
    long long r = 1;
    while (e--) {
        if (__builtin_mul_overflow(r, b, &r)) jj_fail(S, at, "integer overflow in '**'");
        if (r == 0 || r == 1) break;
    }
    return jv_int(S->A, r);
}

jv *jj_binop(jj_state *S, const char *op, jv *a, jv *b, const jnode *at) {
    if (a->k == JV_UNDEF) jj_undef_fail(S, a, at);
    if (b->k == JV_UNDEF) jj_undef_fail(S, b, at);
    int ints = (a->k == JV_INT || a->k == JV_BOOL) && (b->k == JV_INT || b->k == JV_BOOL);
    int nums = jv_is_num(a) && jv_is_num(b);
    char c = op[0];
    if (c == '+' ) {
        long long r;
        if (ints) { if (__builtin_add_overflow(ival(a), ival(b), &r)) jj_fail(S, at, "integer overflow in '+'"); return jv_int(S->A, r); }
        if (nums) return jv_float(S->A, jv_num(a) + jv_num(b));
        if (a->k == JV_STR && b->k == JV_STR) return jj_concat_str(S, a, b);
        if ((a->k == JV_LIST || a->k == JV_TUPLE) && a->k == b->k) {
            jv *r2 = a->k == JV_TUPLE ? jv_tuple(S->A, a->u.l.n + b->u.l.n) : jv_list(S->A, a->u.l.n + b->u.l.n);
            for (size_t i = 0; i < a->u.l.n; i++) jv_push(S->A, r2, a->u.l.v[i]);
            for (size_t i = 0; i < b->u.l.n; i++) jv_push(S->A, r2, b->u.l.v[i]);
            return r2;
        }
        if (a->k == JV_STR) jj_fail(S, at, "can only concatenate str (not \"%s\") to str", jv_type_name(b));
        if (a->k == JV_LIST) jj_fail(S, at, "can only concatenate list (not \"%s\") to list", jv_type_name(b));
        bad_operands(S, "+", a, b, at);
    }
    if (c == '-' ) {
        long long r;
        if (ints) { if (__builtin_sub_overflow(ival(a), ival(b), &r)) jj_fail(S, at, "integer overflow in '-'"); return jv_int(S->A, r); }
        if (nums) return jv_float(S->A, jv_num(a) - jv_num(b));
        bad_operands(S, "-", a, b, at);
    }
    if (c == '*' && op[1] == '*') {
        if (ints) return int_pow(S, ival(a), ival(b), at);
        if (nums) return jv_float(S->A, pow(jv_num(a), jv_num(b)));
        bad_operands(S, "** or pow()", a, b, at);
    }
    if (c == '*') {
        long long r;
        if (ints) { if (__builtin_mul_overflow(ival(a), ival(b), &r)) jj_fail(S, at, "integer overflow in '*'"); return jv_int(S->A, r); }
        if (nums) return jv_float(S->A, jv_num(a) * jv_num(b));
        if ((a->k == JV_STR || a->k == JV_LIST || a->k == JV_TUPLE) && (b->k == JV_INT || b->k == JV_BOOL)) return repeat(S, a, ival(b));
        if ((b->k == JV_STR || b->k == JV_LIST || b->k == JV_TUPLE) && (a->k == JV_INT || a->k == JV_BOOL)) return repeat(S, b, ival(a));
        bad_operands(S, "*", a, b, at);
    }
    if (c == '/' && op[1] == '/') {
        if (!nums) bad_operands(S, "//", a, b, at);
        if (jv_num(b) == 0) jj_fail(S, at, ints ? "integer division or modulo by zero" : "float floor division by zero");
        if (ints) {
            long long x = ival(a), y = ival(b), q = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
            return jv_int(S->A, q);
        }
        return jv_float(S->A, floor(jv_num(a) / jv_num(b)));
    }
    if (c == '/') {
        if (!nums) bad_operands(S, "/", a, b, at);
        if (jv_num(b) == 0) jj_fail(S, at, "division by zero");
        return jv_float(S->A, jv_num(a) / jv_num(b));
    }
    if (c == '%') {
        if (a->k == JV_STR) {
            jv *f = jj_method(S, a, "__mod__", at);
            jj_args args = { 1, &b, 0, NULL, NULL };
            return jj_call(S, f, &args, at);
        }
        if (!nums) bad_operands(S, "%", a, b, at);
        if (jv_num(b) == 0) jj_fail(S, at, ints ? "integer division or modulo by zero" : "float modulo");
        if (ints) {
            long long x = ival(a), y = ival(b), m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return jv_int(S->A, m);
        }
        double x = jv_num(a), y = jv_num(b), m = fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return jv_float(S->A, m);
    }
    jj_fail(S, at, "unknown operator '%s'", op);
}

static int seq_cmp(jj_state *S, jv *a, jv *b, const jnode *at, const char *op) {
    size_t n = a->u.l.n < b->u.l.n ? a->u.l.n : b->u.l.n;
    for (size_t i = 0; i < n; i++) {
        if (jv_eq(a->u.l.v[i], b->u.l.v[i])) continue;
        return jj_compare(S, a->u.l.v[i], b->u.l.v[i], at, op);
    }
    return (a->u.l.n > b->u.l.n) - (a->u.l.n < b->u.l.n);
}

int jj_compare(jj_state *S, jv *a, jv *b, const jnode *at, const char *op) {
    if (a->k == JV_UNDEF) jj_undef_fail(S, a, at);
    if (b->k == JV_UNDEF) jj_undef_fail(S, b, at);
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a->k != JV_FLOAT && b->k != JV_FLOAT) { long long x = ival(a), y = ival(b); return (x > y) - (x < y); }
        double x = jv_num(a), y = jv_num(b);
        return (x > y) - (x < y);
    }
    if (a->k == JV_STR && b->k == JV_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int c = memcmp(a->u.s.s, b->u.s.s, n);
        if (c) return c < 0 ? -1 : 1;
        return (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    if ((a->k == JV_LIST || a->k == JV_TUPLE) && a->k == b->k) return seq_cmp(S, a, b, at, op);
    jj_fail(S, at, "'%s' not supported between instances of '%s' and '%s'", op, jv_type_name(a), jv_type_name(b));
}

int jj_contains(jj_state *S, jv *c, jv *item, const jnode *at) {
    switch (c->k) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (item->k == JV_UNDEF) jj_undef_fail(S, item, at);
        if (item->k != JV_STR) jj_fail(S, at, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        if (!item->u.s.n) return 1;
        return memmem(c->u.s.s, c->u.s.n, item->u.s.s, item->u.s.n) != NULL;
    case JV_LIST: case JV_TUPLE:
        for (size_t i = 0; i < c->u.l.n; i++) if (jv_eq(c->u.l.v[i], item)) return 1;
        return 0;
    case JV_DICT: case JV_NS: return jv_dict_get(c, item) != NULL;
    default: jj_fail(S, at, "argument of type '%s' is not iterable", jv_type_name(c));
    }
}

jv *jj_iter_list(jj_state *S, jv *v, const jnode *at) {
    switch (v->k) {
    case JV_LIST: case JV_TUPLE: return v;
    case JV_UNDEF: return jv_list(S->A, 0);
    case JV_DICT: {
        jv *l = jv_list(S->A, v->u.d.n);
        for (size_t i = 0; i < v->u.d.n; i++) jv_push(S->A, l, v->u.d.k[i]);
        return l;
    }
    case JV_STR: {
        jv *l = jv_list(S->A, 0);
        size_t i = 0;
        while (i < v->u.s.n) { size_t st = i; jj_utf8_next(v->u.s.s, v->u.s.n, &i); jv_push(S->A, l, jv_str(S->A, v->u.s.s + st, i - st)); }
        return l;
    }
    default: jj_fail(S, at, "'%s' object is not iterable", jv_type_name(v));
    }
}

long long jj_len(jj_state *S, jv *v, const jnode *at) {
    switch (v->k) {
    case JV_UNDEF: return 0;
    case JV_STR: return (long long)jj_utf8_len(v->u.s.s, v->u.s.n);
    case JV_LIST: case JV_TUPLE: return (long long)v->u.l.n;
    case JV_DICT: case JV_NS: return (long long)v->u.d.n;
    case JV_LOOP: return (long long)v->u.loop->n;
    default: jj_fail(S, at, "object of type '%s' has no len()", jv_type_name(v));
    }
}
