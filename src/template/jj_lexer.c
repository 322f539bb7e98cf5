/* Jinja lexer (see jj_lexer.h). */
#include "template/jj_lexer.h"
#include "template/jj_str.h"
#include "util/err.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jj_arena *a;
    const char *s; size_t n;     /* normalized source */
    jj_tok *t; size_t nt, cap;
    const jj_lex_opts *o;
    size_t cur, cur_ls; int cur_line;   /* incremental line tracking */
} L;

static void pos_of(L *l, size_t p, int *line, int *col) {
    if (p < l->cur) { l->cur = 0; l->cur_ls = 0; l->cur_line = 1; }
    for (size_t i = l->cur; i < p && i < l->n; i++) if (l->s[i] == '\n') { l->cur_line++; l->cur_ls = i + 1; }
    l->cur = p;
    *line = l->cur_line; *col = (int)(p - l->cur_ls) + 1;
}

static int lerr(L *l, size_t p, const char *msg) {
    int ln, col; pos_of(l, p, &ln, &col);
    return rl_err("template: line %d, col %d: %s", ln, col, msg);
}

static jj_tok *emit(L *l, jj_tok_type t, size_t p) {
    if (l->nt == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        jj_tok *nt = jj_alloc(l->a, nc * sizeof(jj_tok));
        if (!nt) return NULL;
        if (l->nt) memcpy(nt, l->t, l->nt * sizeof(jj_tok));
        l->t = nt; l->cap = nc;
    }
    jj_tok *k = &l->t[l->nt++];
    memset(k, 0, sizeof *k);
    k->t = t;
    pos_of(l, p, &k->line, &k->col);
    return k;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_id0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_dig(char c) { return c >= '0' && c <= '9'; }

/* Emits text s[b..e) after whitespace control. strip_left: drop leading whitespace; trim_nl: drop one
 * leading newline; rstrip: drop trailing whitespace; lstrip_line: drop trailing spaces/tabs after the
 * last newline (or from the start when the text starts a line). */
static int emit_text(L *l, size_t b, size_t e, int strip_left, int trim_nl, int rstrip, int lstrip_line) {
    size_t start = b;
    if (strip_left) while (b < e && is_ws(l->s[b])) b++;
    else if (trim_nl && b < e && l->s[b] == '\n') b++;
    if (rstrip) while (e > b && is_ws(l->s[e - 1])) e--;
    else if (lstrip_line) {
        size_t k = e;
        while (k > b && l->s[k - 1] != '\n' && is_ws(l->s[k - 1])) k--;
        int line_start = (k > b) ? l->s[k - 1] == '\n' : (k == 0 || l->s[k - 1] == '\n');
        (void)start;
        if (line_start) e = k;
    }
    if (e <= b) return 0;
    jj_tok *t = emit(l, TK_TEXT, b);
    if (!t) return -1;
    t->s = l->s + b; t->n = e - b;
    return 0;
}

static const char *OPS2[] = { "**", "//", "==", "!=", "<=", ">=", NULL };
static const char OPS1[] = "+-*/%~<>=()[]{},.:|;!";

static int lex_string(L *l, size_t *pp) {
    size_t p = *pp;
    char q = l->s[p++];
    jj_sb b; jj_sb_init(&b, l->a, 0);
    size_t st = p - 1;
    while (p < l->n && l->s[p] != q) {
        char c = l->s[p];
        if (c == '\\' && p + 1 < l->n) {
            char e = l->s[p + 1];
            p += 2;
            switch (e) {
            case 'n': jj_sb_putc(&b, '\n'); break;
            case 't': jj_sb_putc(&b, '\t'); break;
            case 'r': jj_sb_putc(&b, '\r'); break;
            case '0': jj_sb_putc(&b, '\0'); break;
            case 'a': jj_sb_putc(&b, '\a'); break;
            case 'b': jj_sb_putc(&b, '\b'); break;
            case 'f': jj_sb_putc(&b, '\f'); break;
            case 'v': jj_sb_putc(&b, '\v'); break;
            case '\\': case '\'': case '"': jj_sb_putc(&b, e); break;
            case '\n': break;
            case 'x': case 'u': case 'U': {
                int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                if (p + (size_t)nd > l->n) return lerr(l, p, "truncated escape in string literal");
                char hex[9]; memcpy(hex, l->s + p, (size_t)nd); hex[nd] = 0;
                char *end; unsigned long cp = strtoul(hex, &end, 16);
                if (*end || cp > 0x10FFFF) return lerr(l, p, "bad escape in string literal");
                jj_sb_put_cp(&b, (uint32_t)cp);
                p += (size_t)nd;
                break;
            }
            default: jj_sb_putc(&b, '\\'); jj_sb_putc(&b, e); break;
            }
        } else { jj_sb_putc(&b, c); p++; }
    }
    if (p >= l->n) return lerr(l, st, "unterminated string literal");
    jj_tok *t = emit(l, TK_STRING, st);
    if (!t) return -1;
    t->s = jj_sb_str(&b); t->n = b.n;
    *pp = p + 1;
    return 0;
}

static int lex_number(L *l, size_t *pp) {
    size_t p = *pp, st = p;
    int isf = 0;
    while (p < l->n && (is_dig(l->s[p]) || (l->s[p] == '_' && p + 1 < l->n && is_dig(l->s[p + 1])))) p++;
    if (p + 1 < l->n && l->s[p] == '.' && is_dig(l->s[p + 1])) {
        isf = 1; p++;
        while (p < l->n && (is_dig(l->s[p]) || (l->s[p] == '_' && p + 1 < l->n && is_dig(l->s[p + 1])))) p++;
    }
    if (p < l->n && (l->s[p] == 'e' || l->s[p] == 'E')) {
        size_t q = p + 1;
        if (q < l->n && (l->s[q] == '+' || l->s[q] == '-')) q++;
        if (q < l->n && is_dig(l->s[q])) { isf = 1; p = q; while (p < l->n && is_dig(l->s[p])) p++; }
    }
    char buf[128]; size_t k = 0;
    for (size_t i = st; i < p && k < sizeof buf - 1; i++) if (l->s[i] != '_') buf[k++] = l->s[i];
    buf[k] = 0;
    jj_tok *t = emit(l, isf ? TK_FLOAT : TK_INT, st);
    if (!t) return -1;
    errno = 0;
    if (isf) t->f = strtod(buf, NULL);
    else {
        t->i = strtoll(buf, NULL, 10);
        if (errno == ERANGE) return lerr(l, st, "integer literal too large");
    }
    *pp = p;
    return 0;
}

/* Lexes tag contents from *pp until the end marker ("}}" or "%}"); sets *strip_after / *keep_nl. */
static int lex_tag(L *l, size_t *pp, char endc, int *strip_after, int *plus) {
    size_t p = *pp;
    int depth = 0;
    *strip_after = 0; *plus = 0;
    for (;;) {
        while (p < l->n && is_ws(l->s[p])) p++;
        if (p >= l->n) return lerr(l, *pp, endc == '}' ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
        const char *c = l->s + p;
        size_t left = l->n - p;
        if (depth == 0) {
            if ((c[0] == '-' || c[0] == '+') && left >= 3 && c[1] == endc && c[2] == '}') {
                *strip_after = c[0] == '-'; *plus = c[0] == '+';
                *pp = p + 3; return 0;
            }
            if (left >= 2 && c[0] == endc && c[1] == '}') { *pp = p + 2; return 0; }
        }
        if (c[0] == '\'' || c[0] == '"') { if (lex_string(l, &p)) return -1; continue; }
        if (is_dig(c[0])) { if (lex_number(l, &p)) return -1; continue; }
        if (is_id0(c[0])) {
            size_t st = p;
            while (p < l->n && (is_id0(l->s[p]) || is_dig(l->s[p]))) p++;
            jj_tok *t = emit(l, TK_NAME, st);
            if (!t) return -1;
            t->s = jj_strndup(l->a, l->s + st, p - st); t->n = p - st;
            continue;
        }
        size_t ol = 0;
        for (int i = 0; OPS2[i]; i++) if (left >= 2 && memcmp(c, OPS2[i], 2) == 0) { ol = 2; break; }
        if (!ol && strchr(OPS1, c[0]) && c[0]) ol = 1;
        if (!ol) return lerr(l, p, "unexpected character in tag");
        if (ol == 1 && c[0] == '!') return lerr(l, p, "unexpected character '!' in tag");
        if (ol == 1 && (c[0] == '(' || c[0] == '[' || c[0] == '{')) depth++;
        if (ol == 1 && (c[0] == ')' || c[0] == ']' || c[0] == '}')) { if (depth > 0) depth--; }
        jj_tok *t = emit(l, TK_OP, p);
        if (!t) return -1;
        t->s = jj_strndup(l->a, c, ol); t->n = ol;
        p += ol;
    }
}

/* If a "{% raw %}" starts at p (p at '{'), returns the position after its "%}", else 0. */
static size_t raw_start(L *l, size_t p, int *strip_after) {
    size_t q = p + 2;
    if (q < l->n && (l->s[q] == '-' || l->s[q] == '+')) q++;
    while (q < l->n && is_ws(l->s[q])) q++;
    if (q + 3 > l->n || memcmp(l->s + q, "raw", 3) != 0) return 0;
    q += 3;
    while (q < l->n && is_ws(l->s[q])) q++;
    *strip_after = 0;
    if (q < l->n && (l->s[q] == '-' || l->s[q] == '+')) { *strip_after = l->s[q] == '-'; q++; }
    if (q + 2 <= l->n && l->s[q] == '%' && l->s[q + 1] == '}') return q + 2;
    return 0;
}

/* Finds "{% endraw %}" from p: returns its start, sets *end after it and *strip_before. */
static size_t raw_end(L *l, size_t p, size_t *end, int *strip_before, int *strip_after) {
    for (size_t i = p; i + 1 < l->n; i++) {
        if (l->s[i] != '{' || l->s[i + 1] != '%') continue;
        size_t q = i + 2;
        *strip_before = 0;
        if (q < l->n && (l->s[q] == '-' || l->s[q] == '+')) { *strip_before = l->s[q] == '-'; q++; }
        while (q < l->n && is_ws(l->s[q])) q++;
        if (q + 6 > l->n || memcmp(l->s + q, "endraw", 6) != 0) continue;
        q += 6;
        while (q < l->n && is_ws(l->s[q])) q++;
        *strip_after = 0;
        if (q < l->n && (l->s[q] == '-' || l->s[q] == '+')) { *strip_after = l->s[q] == '-'; q++; }
        if (q + 2 <= l->n && l->s[q] == '%' && l->s[q + 1] == '}') { *end = q + 2; return i; }
    }
    return (size_t)-1;
}

int jj_lex(jj_arena *a, const char *src, size_t len, const jj_lex_opts *o, jj_tok **toks, size_t *ntoks) {
    L l = { .a = a, .o = o, .cur_line = 1 };
    /* normalize newlines (\r\n, \r -> \n) and drop one trailing newline, as Jinja does */
    char *s = jj_alloc(a, len + 1);
    if (!s) return rl_err("template: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') { s[n++] = '\n'; if (i + 1 < len && src[i + 1] == '\n') i++; }
        else s[n++] = src[i];
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;
    l.s = s; l.n = n;

    size_t p = 0;
    int strip_next = 0, trim_next = 0;
    while (p < n) {
        size_t q = p;
        const char *hit = NULL;
        while (q + 1 < n) {
            if (s[q] == '{' && (s[q + 1] == '{' || s[q + 1] == '%' || s[q + 1] == '#')) { hit = s + q; break; }
            q++;
        }
        if (!hit) { if (emit_text(&l, p, n, strip_next, trim_next, 0, 0)) return -1; break; }
        char kind = s[q + 1];
        char mod = q + 2 < n ? s[q + 2] : 0;
        int rstrip = mod == '-';
        int lstrip_line = kind != '{' && o->lstrip_blocks && mod != '+';
        if (kind == '%') {
            int sa;
            size_t after = raw_start(&l, q, &sa);
            if (after) {
                if (emit_text(&l, p, q, strip_next, trim_next, rstrip, lstrip_line)) return -1;
                size_t end; int sb2, sa2;
                size_t rs = raw_end(&l, after, &end, &sb2, &sa2);
                if (rs == (size_t)-1) return lerr(&l, q, "missing endraw");
                if (emit_text(&l, after, rs, sa, 0, sb2, 0)) return -1;
                p = end; strip_next = sa2; trim_next = o->trim_blocks && !sa2;
                continue;
            }
        }
        if (emit_text(&l, p, q, strip_next, trim_next, rstrip, lstrip_line)) return -1;
        size_t body = q + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
        if (kind == '#') {
            size_t e = body;
            while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}')) e++;
            if (e + 1 >= n) return lerr(&l, q, "unterminated comment");
            strip_next = e > body && s[e - 1] == '-';
            trim_next = o->trim_blocks && !(e > body && s[e - 1] == '+') && !strip_next;
            p = e + 2;
            continue;
        }
        if (!emit(&l, kind == '{' ? TK_VAR_BEGIN : TK_BLOCK_BEGIN, q)) return -1;
        int sa, plus;
        size_t bp = body;
        if (lex_tag(&l, &bp, kind == '{' ? '}' : '%', &sa, &plus)) return -1;
        if (!emit(&l, kind == '{' ? TK_VAR_END : TK_BLOCK_END, bp - 2)) return -1;
        strip_next = sa;
        trim_next = kind == '%' && o->trim_blocks && !plus && !sa;
        p = bp;
    }
    if (!emit(&l, TK_EOF, n)) return -1;
    *toks = l.t; *ntoks = l.nt;
    return 0;
}
