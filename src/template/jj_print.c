/* Python-compatible str/repr/json.dumps of Jinja values (see jj_print.h). */
#include "template/jj_print.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void jj_write_float(jj_sb *b, double f) {
    if (isnan(f)) { jj_sb_puts(b, "nan"); return; }
    if (isinf(f)) { jj_sb_puts(b, f < 0 ? "-inf" : "inf"); return; }
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    /* buf = d.ddde[+-]XX with prec significant digits; rebuild in Python's repr style */
    char digits[32]; int nd = 0;
    const char *p = buf;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    for (; *p && *p != 'e'; p++) if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    if (neg) jj_sb_putc(b, '-');
    if (exp < -4 || exp >= 16) {
        jj_sb_putc(b, digits[0]);
        if (nd > 1) { jj_sb_putc(b, '.'); jj_sb_put(b, digits + 1, (size_t)nd - 1); }
        jj_sb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        jj_sb_puts(b, "0.");
        for (int i = 0; i < -exp - 1; i++) jj_sb_putc(b, '0');
        jj_sb_put(b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= exp; i++) jj_sb_putc(b, i < nd ? digits[i] : '0');
        jj_sb_putc(b, '.');
        if (nd > exp + 1) jj_sb_put(b, digits + exp + 1, (size_t)(nd - exp - 1));
        else jj_sb_putc(b, '0');
    }
}

static int py_printable(uint32_t cp) {
    if (cp < 0x20 || cp == 0x7F) return 0;
    if (cp < 0x7F) return 1;
    int c = utf8proc_category((utf8proc_int32_t)cp);
    if (c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
        c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_ZL ||
        c == UTF8PROC_CATEGORY_ZP) return 0;
    if (c == UTF8PROC_CATEGORY_ZS) return cp == ' ';
    return 1;
}

static void repr_str(jj_sb *b, const char *s, size_t n) {
    int sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = (sq && !dq) ? '"' : '\'';
    jj_sb_putc(b, q);
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        uint32_t cp = jj_utf8_next(s, n, &i);
        if (cp == (uint32_t)q || cp == '\\') { jj_sb_putc(b, '\\'); jj_sb_putc(b, (char)cp); }
        else if (cp == '\n') jj_sb_puts(b, "\\n");
        else if (cp == '\r') jj_sb_puts(b, "\\r");
        else if (cp == '\t') jj_sb_puts(b, "\\t");
        else if (py_printable(cp)) jj_sb_put(b, s + st, i - st);
        else if (cp < 0x100) jj_sb_printf(b, "\\x%02x", cp);
        else if (cp < 0x10000) jj_sb_printf(b, "\\u%04x", cp);
        else jj_sb_printf(b, "\\U%08x", cp);
    }
    jj_sb_putc(b, q);
}

static void write_seq(jj_sb *b, const jv *v, int repr) {
    (void)repr;
    int tup = v->k == JV_TUPLE;
    jj_sb_putc(b, tup ? '(' : '[');
    for (size_t i = 0; i < v->u.l.n; i++) {
        if (i) jj_sb_puts(b, ", ");
        jj_write_repr(b, v->u.l.v[i]);
    }
    if (tup && v->u.l.n == 1) jj_sb_putc(b, ',');
    jj_sb_putc(b, tup ? ')' : ']');
}

static void write_dict(jj_sb *b, const jv *v) {
    jj_sb_putc(b, '{');
    for (size_t i = 0; i < v->u.d.n; i++) {
        if (i) jj_sb_puts(b, ", ");
        jj_write_repr(b, v->u.d.k[i]);
        jj_sb_puts(b, ": ");
        jj_write_repr(b, v->u.d.v[i]);
    }
    jj_sb_putc(b, '}');
}

static void write_common(jj_sb *b, const jv *v) {
    switch (v->k) {
    case JV_UNDEF: break;
    case JV_NONE: jj_sb_puts(b, "None"); break;
    case JV_BOOL: jj_sb_puts(b, v->u.b ? "True" : "False"); break;
    case JV_INT: jj_sb_printf(b, "%lld", v->u.i); break;
    case JV_FLOAT: jj_write_float(b, v->u.f); break;
    case JV_LIST: case JV_TUPLE: write_seq(b, v, 1); break;
    case JV_DICT: write_dict(b, v); break;
    case JV_NS: jj_sb_puts(b, "<Namespace "); write_dict(b, v); jj_sb_putc(b, '>'); break;
    case JV_LOOP: jj_sb_printf(b, "<LoopContext %zu/%zu>", v->u.loop->i + 1, v->u.loop->n); break;
    case JV_FUNC:
        if (v->u.fn.macro) jj_sb_printf(b, "<Macro '%s'>", v->u.fn.name ? v->u.fn.name : "");
        else jj_sb_printf(b, "<built-in method %s>", v->u.fn.name ? v->u.fn.name : "");
        break;
    default: break;
    }
}

void jj_write_str(jj_sb *b, const jv *v) {
    if (v->k == JV_STR) jj_sb_put(b, v->u.s.s, v->u.s.n);
    else write_common(b, v);
}

void jj_write_repr(jj_sb *b, const jv *v) {
    if (v->k == JV_STR) repr_str(b, v->u.s.s, v->u.s.n);
    else if (v->k == JV_UNDEF) jj_sb_puts(b, "Undefined");
    else write_common(b, v);
}

jv *jj_to_str(jj_arena *a, jv *v) {
    if (v->k == JV_STR) return v;
    jj_sb b; jj_sb_init(&b, a, 0);
    jj_write_str(&b, v);
    return jv_str_own(a, (char *)jj_sb_str(&b), b.n);
}

static void json_str(jj_sb *b, const char *s, size_t n, int ascii) {
    jj_sb_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        uint32_t cp = jj_utf8_next(s, n, &i);
        switch (cp) {
        case '"': jj_sb_puts(b, "\\\""); break;
        case '\\': jj_sb_puts(b, "\\\\"); break;
        case '\n': jj_sb_puts(b, "\\n"); break;
        case '\r': jj_sb_puts(b, "\\r"); break;
        case '\t': jj_sb_puts(b, "\\t"); break;
        case '\b': jj_sb_puts(b, "\\b"); break;
        case '\f': jj_sb_puts(b, "\\f"); break;
        default:
            if (cp < 0x20 || (ascii && cp == 0x7F)) jj_sb_printf(b, "\\u%04x", cp);
            else if (ascii && cp >= 0x80) {
                if (cp >= 0x10000) {
                    uint32_t c = cp - 0x10000;
                    jj_sb_printf(b, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
                } else jj_sb_printf(b, "\\u%04x", cp);
            } else jj_sb_put(b, s + st, i - st);
        }
    }
    jj_sb_putc(b, '"');
}

static void newline(jj_sb *b, const jj_json_opts *o, int level) {
    jj_sb_putc(b, '\n');
    for (int i = 0; i < o->indent * level; i++) jj_sb_putc(b, ' ');
}

static int key_cmp(const void *x, const void *y) {
    const jv *a = *(jv *const *)x, *b = *(jv *const *)y;
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = memcmp(a->u.s.s, b->u.s.s, n);
    return c ? c : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
}

static const jv *json_val(jj_sb *b, const jv *v, const jj_json_opts *o, int level, int depth) {
    if (depth > 200) return v;
    switch (v->k) {
    case JV_NONE: jj_sb_puts(b, "null"); return NULL;
    case JV_BOOL: jj_sb_puts(b, v->u.b ? "true" : "false"); return NULL;
    case JV_INT: jj_sb_printf(b, "%lld", v->u.i); return NULL;
    case JV_FLOAT:
        if (isnan(v->u.f)) jj_sb_puts(b, "NaN");
        else if (isinf(v->u.f)) jj_sb_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
        else jj_write_float(b, v->u.f);
        return NULL;
    case JV_STR: json_str(b, v->u.s.s, v->u.s.n, o->ensure_ascii); return NULL;
    case JV_LIST: case JV_TUPLE:
        if (!v->u.l.n) { jj_sb_puts(b, "[]"); return NULL; }
        jj_sb_putc(b, '[');
        for (size_t i = 0; i < v->u.l.n; i++) {
            if (i) jj_sb_puts(b, o->item_sep);
            if (o->indent >= 0) newline(b, o, level + 1);
            const jv *bad = json_val(b, v->u.l.v[i], o, level + 1, depth + 1);
            if (bad) return bad;
        }
        if (o->indent >= 0) newline(b, o, level);
        jj_sb_putc(b, ']');
        return NULL;
    case JV_DICT: {
        if (!v->u.d.n) { jj_sb_puts(b, "{}"); return NULL; }
        size_t n = v->u.d.n;
        size_t *ord = jj_alloc(b->a, n * sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
            ord[i] = i;
            if (v->u.d.k[i]->k != JV_STR) return v->u.d.k[i];
        }
        if (o->sort_keys) {
            jv **ks = jj_alloc(b->a, n * sizeof(jv *));
            for (size_t i = 0; i < n; i++) ks[i] = v->u.d.k[i];
            qsort(ks, n, sizeof(jv *), key_cmp);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) if (v->u.d.k[j] == ks[i]) { ord[i] = j; break; }
        }
        jj_sb_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i) jj_sb_puts(b, o->item_sep);
            if (o->indent >= 0) newline(b, o, level + 1);
            const jv *k = v->u.d.k[ord[i]];
            json_str(b, k->u.s.s, k->u.s.n, o->ensure_ascii);
            jj_sb_puts(b, o->key_sep);
            const jv *bad = json_val(b, v->u.d.v[ord[i]], o, level + 1, depth + 1);
            if (bad) return bad;
        }
        if (o->indent >= 0) newline(b, o, level);
        jj_sb_putc(b, '}');
        return NULL;
    }
    default: return v;
    }
}

const jv *jj_write_json(jj_sb *b, const jv *v, const jj_json_opts *o) { return json_val(b, v, o, 0, 0); }
