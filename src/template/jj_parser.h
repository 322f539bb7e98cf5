/* Jinja parser: tokens (jj_lexer) to an AST (jj_ast.h). */
#ifndef RL_JJ_PARSER_H
#define RL_JJ_PARSER_H
#include "template/jj_ast.h"
#include "template/jj_lexer.h"

/* Parses template source into a body (array of statement nodes). All memory comes from arena a.
 * Returns 0, or -1 with rl_err ("template: line L, col C: ..."). */
int jj_parse(jj_arena *a, const char *src, size_t len, jnode ***body, int *nbody);

#endif
