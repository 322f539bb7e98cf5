/* AST of a parsed Jinja template: one generic node type for statements and expressions. */
#ifndef RL_JJ_AST_H
#define RL_JJ_AST_H
#include "template/jj_value.h"

typedef enum {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK,
    N_BREAK, N_CONTINUE, N_SCOPE,
    /* expressions */
    N_CONST, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BIN, N_NEG, N_POS, N_NOT,
    N_AND, N_OR, N_CMP, N_CONCAT, N_COND, N_LIST, N_TUPLE, N_DICT
} jn_type;

/* Field use by type:
 *  N_TEXT s/slen | N_OUTPUT a | N_IF a cond, l body, l2 else | N_FOR a target, b iter, c filter, l body, l2 else
 *  N_SET a target, b value | N_SETBLOCK a target, c filter chain (innermost a NULL), l body
 *  N_MACRO s name, names params, l2 defaults (NULL = required), l body
 *  N_CALLBLOCK a call, names/l2 caller params/defaults, l body | N_FILTERBLOCK c filter chain, l body
 *  N_CONST cv | N_NAME s | N_ATTR a . s | N_ITEM a [ b ] | N_SLICE a [ b : c : d ] (NULLs allowed)
 *  N_CALL a callee, l args, names/l2 kwargs | N_FILTER a input, s name, l args, names/l2 kwargs
 *  N_TEST a input, s name, l args, op 1 = negated | N_BIN s op, a, b | N_NEG/N_POS/N_NOT a
 *  N_AND/N_OR a, b | N_CMP a first, l rest, names ops | N_CONCAT l | N_COND a test, b then, c else (NULL)
 *  N_LIST/N_TUPLE l | N_DICT l keys, l2 values */
struct jnode {
    jn_type t;
    int line, col;
    const char *s; size_t slen;
    int op;
    jv *cv;
    jnode *a, *b, *c, *d;
    jnode **l; int nl;
    jnode **l2; int nl2;
    const char **names; int nnames;
};

#endif
