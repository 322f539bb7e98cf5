/* Evaluator state and the internal interface shared by the evaluator, operators, filters, tests,
 * methods and globals. Runtime errors longjmp back to jj_render, which frees the arena. */
#ifndef RL_JJ_EVAL_H
#define RL_JJ_EVAL_H
#include <setjmp.h>
#include "template/jj_ast.h"
#include "template/jj_str.h"

#define JJ_MAX_STEPS     5000000LL   /* loop iterations + macro calls per render */
#define JJ_MAX_DEPTH     200         /* macro / recursive-loop nesting */
#define JJ_MAX_OUTPUT    ((size_t)64 << 20)
#define JJ_MAX_ARENA     ((size_t)768 << 20)
#define JJ_MAX_RANGE     100000      /* as jinja2.sandbox.MAX_RANGE */

typedef struct jj_frame { struct jj_frame *parent; jv *vars; } jj_frame;

struct jj_state {
    jj_arena *A;
    jmp_buf jb;
    jj_sb *out;
    jj_frame *f;
    int depth;
    long long steps;
};

/* Runtime error naming the node's line and column (at may be NULL). Never returns. */
__attribute__((noreturn, format(printf, 3, 4)))
void jj_fail(jj_state *S, const jnode *at, const char *fmt, ...);
/* raise_exception(msg): error with exactly this message. Never returns. */
__attribute__((noreturn)) void jj_raise(jj_state *S, const char *msg);
/* Fails with an undefined value's message ("'x' is undefined"). */
__attribute__((noreturn)) void jj_undef_fail(jj_state *S, const jv *u, const jnode *at);
void jj_step(jj_state *S, const jnode *at);

/* operators (jj_ops.c) */
jv *jj_getattr(jj_state *S, jv *obj, const char *name, const jnode *at);
jv *jj_getitem(jj_state *S, jv *obj, jv *key, const jnode *at);
jv *jj_slice(jj_state *S, jv *obj, jv *start, jv *stop, jv *step, const jnode *at);
jv *jj_binop(jj_state *S, const char *op, jv *a, jv *b, const jnode *at);
int jj_compare(jj_state *S, jv *a, jv *b, const jnode *at, const char *op);   /* <0, 0, >0 */
int jj_contains(jj_state *S, jv *container, jv *item, const jnode *at);
jv *jj_iter_list(jj_state *S, jv *v, const jnode *at);   /* list/tuple of the items */
jv *jj_concat_str(jj_state *S, jv *a, jv *b);
long long jj_len(jj_state *S, jv *v, const jnode *at);

/* calls (jj_eval.c) */
jv *jj_call(jj_state *S, jv *fn, const jj_args *a, const jnode *at);
jv *jj_arg(const jj_args *a, int pos, const char *name);   /* NULL if absent */

/* builtins */
jv *jj_filter(jj_state *S, const char *name, jv *in, const jj_args *a, const jnode *at);   /* jj_filters.c */
int jj_has_filter(const char *name);
int jj_test(jj_state *S, const char *name, jv *in, const jj_args *a, const jnode *at);     /* jj_tests.c */
int jj_has_test(const char *name);
jv *jj_method(jj_state *S, jv *obj, const char *name, const jnode *at);  /* jj_methods.c; NULL if none */
jv *jj_global(jj_state *S, const char *name);                           /* jj_globals.c; NULL if none */

/* Renders body into out with ctx (a JV_DICT of variables). Returns 0 or -1 with rl_err. */
int jj_render_body(jnode **body, int n, jv *ctx, jj_arena *A, jj_sb *out);

#endif
