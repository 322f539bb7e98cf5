/* Jinja lexer: splits template source into text and tag tokens, applying whitespace control
 * ({%- -%}, {{- -}}, {#- -#}), trim_blocks, lstrip_blocks, raw blocks and the dropped final newline. */
#ifndef RL_JJ_LEXER_H
#define RL_JJ_LEXER_H
#include <stddef.h>
#include "template/jj_arena.h"

typedef enum { TK_EOF, TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
               TK_NAME, TK_STRING, TK_INT, TK_FLOAT, TK_OP } jj_tok_type;

typedef struct {
    jj_tok_type t;
    const char *s; size_t n;     /* text, name, decoded string, operator */
    long long i; double f;
    int line, col;
} jj_tok;

typedef struct { int trim_blocks, lstrip_blocks; } jj_lex_opts;

/* Tokenizes src into *toks (arena array ending with TK_EOF). Returns 0, or -1 with rl_err
 * ("line L, col C: ..."). */
int jj_lex(jj_arena *a, const char *src, size_t len, const jj_lex_opts *o, jj_tok **toks, size_t *ntoks);

#endif
