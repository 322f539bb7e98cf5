/* String helpers for the Jinja engine: an arena string builder with a size cap, UTF-8 code-point
 * walking, and Python's notions of whitespace and case. */
#ifndef RL_JJ_STR_H
#define RL_JJ_STR_H
#include <stddef.h>
#include <stdint.h>
#include "template/jj_arena.h"

typedef struct jj_sb {
    jj_arena *a;
    char *p; size_t n, cap;
    size_t max;                      /* 0 = no cap; else exceeding calls a->on_fail with a message */
} jj_sb;

void jj_sb_init(jj_sb *b, jj_arena *a, size_t max);
void jj_sb_put(jj_sb *b, const char *s, size_t n);
void jj_sb_puts(jj_sb *b, const char *s);
void jj_sb_putc(jj_sb *b, char c);
void jj_sb_printf(jj_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jj_sb_put_cp(jj_sb *b, uint32_t cp);    /* UTF-8 encode */
/* NUL-terminated contents (never NULL). */
const char *jj_sb_str(jj_sb *b);

/* Decodes one code point at s[*i] (advancing *i); invalid bytes decode as themselves (0x80..0xFF). */
uint32_t jj_utf8_next(const char *s, size_t n, size_t *i);
size_t jj_utf8_len(const char *s, size_t n);
/* Byte offset of code point index cp (clamped to n). */
size_t jj_utf8_off(const char *s, size_t n, size_t cp);

int jj_py_isspace(uint32_t cp);
uint32_t jj_upper(uint32_t cp);
uint32_t jj_lower(uint32_t cp);
int jj_isupper(uint32_t cp);
int jj_islower(uint32_t cp);
int jj_iscased(uint32_t cp);
int jj_isalnum(uint32_t cp);

#endif
