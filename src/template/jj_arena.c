/* Bump-pointer arena allocator with a byte cap (see jj_arena.h). */
#include "template/jj_arena.h"
#include <stdlib.h>
#include <string.h>

struct jj_block { jj_block *next; size_t size, off; unsigned char *mem; };

#define JJ_BLOCK_MIN (64 * 1024)

void jj_arena_init(jj_arena *a, size_t cap) { memset(a, 0, sizeof *a); a->cap = cap; }

void jj_arena_free(jj_arena *a) {
    jj_block *b = a->head;
    while (b) { jj_block *n = b->next; free(b); b = n; }
    a->head = NULL; a->used = 0;
}

static void *fail(jj_arena *a) {
    if (a->on_fail) a->on_fail(a->ud, "template memory limit exceeded");
    return NULL;
}

void *jj_alloc(jj_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->cap && (n > a->cap || a->used + n > a->cap)) return fail(a);
    jj_block *b = a->head;
    if (!b || b->size - b->off < n) {
        size_t sz = n > JJ_BLOCK_MIN ? n : JJ_BLOCK_MIN;
        b = malloc(sizeof(jj_block) + 16 + sz);
        if (!b) return fail(a);
        b->size = sz; b->off = 0;
        b->mem = (unsigned char *)(((size_t)(b + 1) + 15) & ~(size_t)15);
        /* big one-off blocks go behind the head so the head's free space is not lost */
        if (a->head && sz == n && a->head->size - a->head->off >= 256) { b->next = a->head->next; a->head->next = b; }
        else { b->next = a->head; a->head = b; }
    }
    void *p = b->mem + b->off;
    b->off += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *jj_strndup(jj_arena *a, const char *s, size_t n) {
    char *p = jj_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}
