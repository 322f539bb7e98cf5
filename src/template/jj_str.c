/* Arena string builder, UTF-8 walking and Python-compatible character classes (see jj_str.h). */
#include "template/jj_str.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

void jj_sb_init(jj_sb *b, jj_arena *a, size_t max) { memset(b, 0, sizeof *b); b->a = a; b->max = max; }

static void grow(jj_sb *b, size_t need) {
    if (b->max && b->n + need > b->max) {
        if (b->a->on_fail) b->a->on_fail(b->a->ud, "template output size limit exceeded");
        return;
    }
    if (b->n + need + 1 <= b->cap) return;
    size_t nc = b->cap ? b->cap * 2 : 64;
    while (nc < b->n + need + 1) nc *= 2;
    char *np = jj_alloc(b->a, nc);
    if (!np) return;
    if (b->n) memcpy(np, b->p, b->n);
    b->p = np; b->cap = nc;
}

void jj_sb_put(jj_sb *b, const char *s, size_t n) {
    if (!n) return;
    grow(b, n);
    if (b->n + n + 1 > b->cap) return;
    memcpy(b->p + b->n, s, n);
    b->n += n; b->p[b->n] = 0;
}
void jj_sb_puts(jj_sb *b, const char *s) { jj_sb_put(b, s, strlen(s)); }
void jj_sb_putc(jj_sb *b, char c) { jj_sb_put(b, &c, 1); }

void jj_sb_printf(jj_sb *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { jj_sb_put(b, tmp, (size_t)n); return; }
    char *big = jj_alloc(b->a, (size_t)n + 1);
    if (!big) return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jj_sb_put(b, big, (size_t)n);
}

void jj_sb_put_cp(jj_sb *b, uint32_t cp) {
    char u[4]; size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    jj_sb_put(b, u, n);
}

const char *jj_sb_str(jj_sb *b) { return b->p ? b->p : ""; }

uint32_t jj_utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    size_t left = n - *i;
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(u, (utf8proc_ssize_t)left, &cp);
    if (k <= 0) { (*i)++; return u[0]; }
    *i += (size_t)k;
    return (uint32_t)cp;
}

size_t jj_utf8_len(const char *s, size_t n) {
    size_t i = 0, c = 0;
    while (i < n) { jj_utf8_next(s, n, &i); c++; }
    return c;
}

size_t jj_utf8_off(const char *s, size_t n, size_t cp) {
    size_t i = 0;
    while (cp-- && i < n) jj_utf8_next(s, n, &i);
    return i;
}

int jj_py_isspace(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

uint32_t jj_upper(uint32_t c) { return c < 0x80 ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); }
uint32_t jj_lower(uint32_t c) { return c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); }
int jj_isupper(uint32_t c) { return c < 0x80 ? (c >= 'A' && c <= 'Z') : utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_LU; }
int jj_islower(uint32_t c) { return c < 0x80 ? (c >= 'a' && c <= 'z') : utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_LL; }
int jj_iscased(uint32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    int k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
int jj_isalnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    int k = utf8proc_category((utf8proc_int32_t)c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}
