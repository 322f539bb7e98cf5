/* Python str operations (strip, case, split, replace, find, % and format) on UTF-8 strings. */
#include "template/jj_pystr.h"
#include "template/jj_print.h"
#include <stdlib.h>
#include <string.h>

jv *jj_str_of(jj_state *S, jv *v) { return jj_to_str(S->A, v); }

static int in_chars(uint32_t cp, const jv *chars) {
    if (!chars) return jj_py_isspace(cp);
    size_t i = 0;
    while (i < chars->u.s.n) if (jj_utf8_next(chars->u.s.s, chars->u.s.n, &i) == cp) return 1;
    return 0;
}

jv *jj_py_strip(jj_state *S, jv *s, jv *chars, int mode) {
    s = jj_str_of(S, s);
    if (chars && chars->k == JV_NONE) chars = NULL;
    if (chars) chars = jj_str_of(S, chars);
    const char *p = s->u.s.s; size_t n = s->u.s.n, b = 0, e = n;
    if (mode & 1) {
        while (b < n) { size_t i = b; uint32_t cp = jj_utf8_next(p, n, &i); if (!in_chars(cp, chars)) break; b = i; }
    }
    if (mode & 2) {
        while (e > b) {
            size_t st = e - 1;
            while (st > b && ((unsigned char)p[st] & 0xC0) == 0x80) st--;
            size_t i = st; uint32_t cp = jj_utf8_next(p, n, &i);
            if (!in_chars(cp, chars)) break;
            e = st;
        }
    }
    if (b == 0 && e == n) return s;
    return jv_str(S->A, p + b, e - b);
}

jv *jj_py_case(jj_state *S, jv *s, int upper) {
    s = jj_str_of(S, s);
    jj_sb b; jj_sb_init(&b, S->A, 0);
    size_t i = 0;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        if (upper && cp == 0xDF) { jj_sb_puts(&b, "SS"); continue; }
        jj_sb_put_cp(&b, upper ? jj_upper(cp) : jj_lower(cp));
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

jv *jj_py_title(jj_state *S, jv *s) {
    s = jj_str_of(S, s);
    jj_sb b; jj_sb_init(&b, S->A, 0);
    size_t i = 0; int prev_cased = 0;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        jj_sb_put_cp(&b, prev_cased ? jj_lower(cp) : jj_upper(cp));
        prev_cased = jj_iscased(cp);
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

jv *jj_py_capitalize(jj_state *S, jv *s) {
    s = jj_str_of(S, s);
    jj_sb b; jj_sb_init(&b, S->A, 0);
    size_t i = 0; int first = 1;
    while (i < s->u.s.n) {
        uint32_t cp = jj_utf8_next(s->u.s.s, s->u.s.n, &i);
        jj_sb_put_cp(&b, first ? jj_upper(cp) : jj_lower(cp));
        first = 0;
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

long long jj_py_find(const jv *s, const jv *sub, size_t from) {
    if (from > s->u.s.n) return -1;
    if (!sub->u.s.n) return (long long)from;
    const char *h = memmem(s->u.s.s + from, s->u.s.n - from, sub->u.s.s, sub->u.s.n);
    return h ? (long long)(h - s->u.s.s) : -1;
}

long long jj_py_count(const jv *s, const jv *sub) {
    if (!sub->u.s.n) return (long long)jj_utf8_len(s->u.s.s, s->u.s.n) + 1;
    long long c = 0; size_t from = 0; long long p;
    while ((p = jj_py_find(s, sub, from)) >= 0) { c++; from = (size_t)p + sub->u.s.n; }
    return c;
}

jv *jj_py_replace(jj_state *S, jv *s, jv *old, jv *rep, long long count) {
    s = jj_str_of(S, s); old = jj_str_of(S, old); rep = jj_str_of(S, rep);
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    if (!old->u.s.n) {
        size_t i = 0; long long done = 0;
        while (i <= s->u.s.n) {
            if (count < 0 || done < count) { jj_sb_put(&b, rep->u.s.s, rep->u.s.n); done++; }
            if (i == s->u.s.n) break;
            size_t st = i; jj_utf8_next(s->u.s.s, s->u.s.n, &i);
            jj_sb_put(&b, s->u.s.s + st, i - st);
        }
        return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    }
    size_t from = 0; long long p, done = 0;
    while ((count < 0 || done < count) && (p = jj_py_find(s, old, from)) >= 0) {
        jj_sb_put(&b, s->u.s.s + from, (size_t)p - from);
        jj_sb_put(&b, rep->u.s.s, rep->u.s.n);
        from = (size_t)p + old->u.s.n; done++;
    }
    jj_sb_put(&b, s->u.s.s + from, s->u.s.n - from);
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

static int ws_at(const char *p, size_t n, size_t i, size_t *next) {
    size_t j = i; uint32_t cp = jj_utf8_next(p, n, &j);
    if (next) *next = j;
    return jj_py_isspace(cp);
}

jv *jj_py_split(jj_state *S, jv *s, jv *sep, long long maxsplit, const jnode *at) {
    s = jj_str_of(S, s);
    jv *out = jv_list(S->A, 0);
    const char *p = s->u.s.s; size_t n = s->u.s.n;
    if (!sep || sep->k == JV_NONE) {
        size_t i = 0, nx; long long splits = 0;
        for (;;) {
            while (i < n && ws_at(p, n, i, &nx)) i = nx;
            if (i >= n) break;
            if (maxsplit >= 0 && splits >= maxsplit) { jv_push(S->A, out, jv_str(S->A, p + i, n - i)); break; }
            size_t st = i;
            while (i < n && !ws_at(p, n, i, &nx)) { size_t j = i; jj_utf8_next(p, n, &j); i = j; }
            jv_push(S->A, out, jv_str(S->A, p + st, i - st));
            splits++;
        }
        return out;
    }
    if (sep->k != JV_STR) jj_fail(S, at, "must be str or None, not %s", jv_type_name(sep));
    if (!sep->u.s.n) jj_fail(S, at, "empty separator");
    size_t from = 0; long long q, splits = 0;
    while ((maxsplit < 0 || splits < maxsplit) && (q = jj_py_find(s, sep, from)) >= 0) {
        jv_push(S->A, out, jv_str(S->A, p + from, (size_t)q - from));
        from = (size_t)q + sep->u.s.n; splits++;
    }
    jv_push(S->A, out, jv_str(S->A, p + from, n - from));
    return out;
}

jv *jj_py_rsplit(jj_state *S, jv *s, jv *sep, long long maxsplit, const jnode *at) {
    if (maxsplit < 0) return jj_py_split(S, s, sep, -1, at);
    s = jj_str_of(S, s);
    jv *all = jj_py_split(S, s, sep, -1, at);
    size_t n = all->u.l.n;
    if ((long long)n - 1 <= maxsplit) return all;
    size_t keep = (size_t)maxsplit;          /* last `keep` pieces stay separate */
    jv *out = jv_list(S->A, 0);
    if (sep && sep->k == JV_STR) {
        /* head = s up to the start of piece n-keep */
        size_t off = s->u.s.n;
        for (size_t i = 0; i < keep; i++) off -= all->u.l.v[n - 1 - i]->u.s.n + sep->u.s.n;
        jv_push(S->A, out, jv_str(S->A, s->u.s.s, off));
    } else {
        jv *h = jj_py_strip(S, s, NULL, 3);
        size_t off = h->u.s.n;   /* approximate: remove the last pieces and whitespace between */
        for (size_t i = 0; i < keep; i++) {
            off -= all->u.l.v[n - 1 - i]->u.s.n;
            while (off > 0 && ws_at(h->u.s.s, h->u.s.n, off - 1, NULL)) off--;
        }
        jv_push(S->A, out, jv_str(S->A, h->u.s.s, off));
    }
    for (size_t i = n - keep; i < n; i++) jv_push(S->A, out, all->u.l.v[i]);
    return out;
}

static int is_linebreak(uint32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
           c == 0x85 || c == 0x2028 || c == 0x2029;
}

jv *jj_py_splitlines(jj_state *S, jv *s, int keepends) {
    s = jj_str_of(S, s);
    jv *out = jv_list(S->A, 0);
    const char *p = s->u.s.s; size_t n = s->u.s.n, i = 0, st = 0;
    while (i < n) {
        size_t b = i;
        uint32_t cp = jj_utf8_next(p, n, &i);
        if (!is_linebreak(cp)) continue;
        if (cp == '\r' && i < n && p[i] == '\n') i++;
        jv_push(S->A, out, jv_str(S->A, p + st, (keepends ? i : b) - st));
        st = i;
    }
    if (st < n) jv_push(S->A, out, jv_str(S->A, p + st, n - st));
    return out;
}

jv *jj_py_percent(jj_state *S, jv *fmt, jv *args, const jnode *at) {
    jv **av; size_t an; int use_dict = 0;
    if (args->k == JV_TUPLE) { av = args->u.l.v; an = args->u.l.n; }
    else { av = &args; an = 1; use_dict = args->k == JV_DICT; }
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    const char *p = fmt->u.s.s; size_t n = fmt->u.s.n, ai = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') { jj_sb_putc(&b, p[i]); continue; }
        if (++i >= n) jj_fail(S, at, "incomplete format");
        if (p[i] == '%') { jj_sb_putc(&b, '%'); continue; }
        jv *v = NULL;
        if (p[i] == '(') {
            size_t e = i + 1;
            while (e < n && p[e] != ')') e++;
            if (!use_dict || e >= n) jj_fail(S, at, "format requires a mapping");
            jv *k = jv_str(S->A, p + i + 1, e - i - 1);
            v = jv_dict_get(args, k);
            if (!v) jj_fail(S, at, "KeyError: '%s'", k->u.s.s);
            i = e + 1;
        }
        char spec[32]; size_t sl = 0; spec[sl++] = '%';
        while (i < n && strchr("-+ #0123456789.", p[i]) && sl < 20) spec[sl++] = p[i++];
        if (i >= n) jj_fail(S, at, "incomplete format");
        char conv = p[i];
        if (!v) {
            if (ai >= an) jj_fail(S, at, "not enough arguments for format string");
            v = av[ai++];
        }
        switch (conv) {
        case 's': case 'r': {
            jj_sb t; jj_sb_init(&t, S->A, 0);
            if (conv == 's') jj_write_str(&t, v); else jj_write_repr(&t, v);
            spec[sl++] = 's'; spec[sl] = 0;
            jj_sb_printf(&b, spec, jj_sb_str(&t));
            break;
        }
        case 'd': case 'i': case 'x': case 'X': case 'o': case 'c':
            if (!jv_is_num(v)) jj_fail(S, at, "%%%c format: a real number is required, not %s", conv, jv_type_name(v));
            if (conv == 'c') { jj_sb_put_cp(&b, (uint32_t)jv_num(v)); break; }
            spec[sl++] = 'l'; spec[sl++] = 'l'; spec[sl++] = conv == 'i' ? 'd' : conv; spec[sl] = 0;
            jj_sb_printf(&b, spec, v->k == JV_FLOAT ? (long long)v->u.f : v->k == JV_INT ? v->u.i : (long long)v->u.b);
            break;
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
            if (!jv_is_num(v)) jj_fail(S, at, "must be real number, not %s", jv_type_name(v));
            spec[sl++] = conv; spec[sl] = 0;
            jj_sb_printf(&b, spec, jv_num(v));
            break;
        default: jj_fail(S, at, "unsupported format character '%c'", conv);
        }
    }
    if (!use_dict && ai < an) jj_fail(S, at, "not all arguments converted during string formatting");
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}

jv *jj_py_format(jj_state *S, jv *fmt, const jj_args *a, const jnode *at) {
    jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
    const char *p = fmt->u.s.s; size_t n = fmt->u.s.n; int auto_i = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '{' && i + 1 < n && p[i + 1] == '{') { jj_sb_putc(&b, '{'); i++; continue; }
        if (p[i] == '}' && i + 1 < n && p[i + 1] == '}') { jj_sb_putc(&b, '}'); i++; continue; }
        if (p[i] != '{') { jj_sb_putc(&b, p[i]); continue; }
        size_t e = i + 1;
        while (e < n && p[e] != '}') e++;
        if (e >= n) jj_fail(S, at, "Single '{' encountered in format string");
        size_t fe = i + 1;
        while (fe < e && p[fe] != '!' && p[fe] != ':') fe++;
        int repr = fe < e && p[fe] == '!' && fe + 1 < e && p[fe + 1] == 'r';
        jv *v;
        if (fe == i + 1) {
            if (auto_i >= a->n) jj_fail(S, at, "Replacement index %d out of range for positional args tuple", auto_i);
            v = a->v[auto_i++];
        } else if (p[i + 1] >= '0' && p[i + 1] <= '9') {
            int k = atoi(p + i + 1);
            if (k >= a->n) jj_fail(S, at, "Replacement index %d out of range for positional args tuple", k);
            v = a->v[k];
        } else {
            char *nm = jj_strndup(S->A, p + i + 1, fe - i - 1);
            v = jj_arg(a, -1, nm);
            if (!v) jj_fail(S, at, "KeyError: '%s'", nm);
        }
        if (repr) jj_write_repr(&b, v); else jj_write_str(&b, v);
        i = e;
    }
    return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
}
