/* Bump-pointer arena for the Jinja engine: every AST node and runtime value lives in one, freed at
 * once. A byte cap bounds what a hostile template can allocate; exceeding it calls the overflow hook. */
#ifndef RL_JJ_ARENA_H
#define RL_JJ_ARENA_H
#include <stddef.h>

typedef struct jj_block jj_block;
typedef struct jj_arena {
    jj_block *head;
    size_t used, cap;                  /* bytes handed out so far; 0 cap = unlimited */
    void (*on_fail)(void *ud, const char *msg); /* called (must not return) when an allocation fails */
    void *ud;
} jj_arena;

void jj_arena_init(jj_arena *a, size_t cap);
void jj_arena_free(jj_arena *a);
/* Zeroed memory; on failure calls on_fail (which longjmps) or returns NULL if none is set. */
void *jj_alloc(jj_arena *a, size_t n);
/* Copy of s[0..n) plus a NUL. */
char *jj_strndup(jj_arena *a, const char *s, size_t n);

#endif
