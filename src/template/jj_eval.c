/* Jinja evaluator: executes statements and evaluates expressions over jv values, with scoping as in
 * Jinja2 (for-loop bodies and macros get their own frames; if does not), macros, call blocks, loop
 * controls, and sandbox bounds on steps, nesting depth, output size and memory. */
#include "template/jj_eval.h"
#include "template/jj_print.h"
#include "util/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { FLOW_NORMAL = 0, FLOW_BREAK = 1, FLOW_CONTINUE = 2 };

void jj_fail(jj_state *S, const jnode *at, const char *fmt, ...) {
    char m[1024];
    va_list ap; va_start(ap, fmt); vsnprintf(m, sizeof m, fmt, ap); va_end(ap);
    if (at) rl_err("template: line %d, col %d: %s", at->line, at->col, m);
    else rl_err("template: %s", m);
    longjmp(S->jb, 1);
}

void jj_raise(jj_state *S, const char *msg) {
    rl_err("%s", msg);
    longjmp(S->jb, 1);
}

void jj_undef_fail(jj_state *S, const jv *u, const jnode *at) {
    jj_fail(S, at, "%s", u->u.s.s ? u->u.s.s : "value is undefined");
}

void jj_step(jj_state *S, const jnode *at) {
    if (++S->steps > JJ_MAX_STEPS)
        jj_fail(S, at, "template exceeded %lld loop iterations and calls (sandbox limit)", JJ_MAX_STEPS);
}

static void on_arena_fail(void *ud, const char *msg) { jj_fail((jj_state *)ud, NULL, "%s", msg); }

jv *jj_arg(const jj_args *a, int pos, const char *name) {
    if (pos >= 0 && pos < a->n) return a->v[pos];
    for (int i = 0; name && i < a->nk; i++) if (!strcmp(a->kn[i], name)) return a->kv[i];
    return NULL;
}

static jv *eval(jj_state *S, const jnode *n);
static int exec_body(jj_state *S, jnode **b, int n);

static jj_frame *new_frame(jj_state *S, jj_frame *parent) {
    jj_frame *f = jj_alloc(S->A, sizeof *f);
    f->parent = parent; f->vars = jv_dict(S->A, JV_DICT);
    return f;
}

static jv *lookup(jj_state *S, const jnode *n) {
    for (jj_frame *f = S->f; f; f = f->parent) {
        jv *v = jv_dict_get(f->vars, n->cv);
        if (v) return v;
    }
    jv *g = jj_global(S, n->s);
    if (g) return g;
    jj_sb b; jj_sb_init(&b, S->A, 0);
    jj_sb_printf(&b, "'%s' is undefined", n->s);
    return jv_undef(S->A, jj_sb_str(&b));
}

static void assign(jj_state *S, const jnode *t, jv *v) {
    if (t->t == N_NAME) { jv_dict_set(S->A, S->f->vars, t->cv, v); return; }
    if (t->t == N_ATTR) {
        jv *obj = lookup(S, t->a);
        if (obj->k != JV_NS) jj_fail(S, t, "cannot assign attribute on non-namespace object");
        jv_dict_sets(S->A, obj, t->s, v);
        return;
    }
    if (t->t == N_TUPLE) {
        jv *items = jj_iter_list(S, v, t);
        if ((int)items->u.l.n != t->nl)
            jj_fail(S, t, (int)items->u.l.n > t->nl ? "too many values to unpack (expected %d)" : "not enough values to unpack (expected %d)", t->nl);
        for (int i = 0; i < t->nl; i++) assign(S, t->l[i], items->u.l.v[i]);
        return;
    }
    jj_fail(S, t, "cannot assign to this expression");
}

/* Runs body with output captured; returns the captured string. */
static jv *capture(jj_state *S, jnode **b, int n, int *flow) {
    jj_sb sb, *old = S->out;
    jj_sb_init(&sb, S->A, JJ_MAX_OUTPUT);
    S->out = &sb;
    int f = exec_body(S, b, n);
    S->out = old;
    if (flow) *flow = f;
    return jv_str_own(S->A, (char *)jj_sb_str(&sb), sb.n);
}

static void eval_args(jj_state *S, const jnode *n, jj_args *a, int extra_kw) {
    a->n = n->nl;
    a->v = n->nl ? jj_alloc(S->A, (size_t)n->nl * sizeof(jv *)) : NULL;
    for (int i = 0; i < n->nl; i++) a->v[i] = eval(S, n->l[i]);
    a->nk = n->nl2;
    a->kn = jj_alloc(S->A, (size_t)(n->nl2 + extra_kw + 1) * sizeof(char *));
    a->kv = jj_alloc(S->A, (size_t)(n->nl2 + extra_kw + 1) * sizeof(jv *));
    for (int i = 0; i < n->nl2; i++) { a->kn[i] = n->names[i]; a->kv[i] = eval(S, n->l2[i]); }
}

static jv *apply_filter_node(jj_state *S, const jnode *n, jv *in) {
    jj_args a;
    eval_args(S, n, &a, 0);
    return jj_filter(S, n->s, in, &a, n);
}

static jv *apply_chain(jj_state *S, const jnode *n, jv *base) {
    jv *in = n->a ? apply_chain(S, n->a, base) : base;
    return apply_filter_node(S, n, in);
}

/* ---- macros ---- */

static jv *call_macro(jj_state *S, jv *fn, const jj_args *a, const jnode *at) {
    const jnode *m = fn->u.fn.macro;
    if (S->depth >= JJ_MAX_DEPTH) jj_fail(S, at, "maximum recursion depth exceeded (sandbox limit %d)", JJ_MAX_DEPTH);
    jj_step(S, at);
    jj_frame *saved = S->f;
    jj_frame *f = new_frame(S, (jj_frame *)fn->u.fn.closure);
    S->f = f;
    S->depth++;
    jv *varargs = jv_tuple(S->A, 0), *kwargs = jv_dict(S->A, JV_DICT);
    for (int i = m->nnames; i < a->n; i++) jv_push(S->A, varargs, a->v[i]);
    for (int i = 0; i < a->nk; i++) {
        int known = 0;
        for (int j = 0; j < m->nnames; j++) if (!strcmp(a->kn[i], m->names[j])) known = 1;
        if (!strcmp(a->kn[i], "caller")) { jv_dict_sets(S->A, f->vars, "caller", a->kv[i]); continue; }
        if (!known) jv_dict_sets(S->A, kwargs, a->kn[i], a->kv[i]);
    }
    for (int j = 0; j < m->nnames; j++) {
        jv *v = j < a->n ? a->v[j] : jj_arg(a, -1, m->names[j]);
        if (!v) {
            if (m->l2 && m->l2[j]) v = eval(S, m->l2[j]);
            else {
                jj_sb b; jj_sb_init(&b, S->A, 0);
                jj_sb_printf(&b, "parameter '%s' was not provided", m->names[j]);
                v = jv_undef(S->A, jj_sb_str(&b));
            }
        }
        jv_dict_sets(S->A, f->vars, m->names[j], v);
    }
    jv_dict_sets(S->A, f->vars, "varargs", varargs);
    jv_dict_sets(S->A, f->vars, "kwargs", kwargs);
    if (fn->u.fn.caller && !jv_dict_gets(f->vars, "caller")) jv_dict_sets(S->A, f->vars, "caller", fn->u.fn.caller);
    jv *r = capture(S, m->l, m->nl, NULL);
    S->depth--;
    S->f = saved;
    return r;
}

static void run_loop(jj_state *S, const jnode *n, jv *items, int depth, jj_frame *outer);

jv *jj_call(jj_state *S, jv *fn, const jj_args *a, const jnode *at) {
    if (fn->k == JV_UNDEF) jj_undef_fail(S, fn, at);
    if (fn->k == JV_FUNC) {
        if (fn->u.fn.macro) return call_macro(S, fn, a, at);
        return fn->u.fn.fn(S, fn->u.fn.self, a, at);
    }
    if (fn->k == JV_LOOP && fn->u.loop->node && fn->u.loop->node->op) {
        if (a->n != 1) jj_fail(S, at, "loop() takes exactly one argument");
        if (S->depth >= JJ_MAX_DEPTH) jj_fail(S, at, "maximum recursion depth exceeded (sandbox limit %d)", JJ_MAX_DEPTH);
        jj_sb sb, *old = S->out;
        jj_sb_init(&sb, S->A, JJ_MAX_OUTPUT);
        S->out = &sb;
        S->depth++;
        jj_frame *saved = S->f;
        run_loop(S, fn->u.loop->node, jj_iter_list(S, a->v[0], at), fn->u.loop->depth + 1, (jj_frame *)fn->u.loop->frame);
        S->f = saved;
        S->depth--;
        S->out = old;
        return jv_str_own(S->A, (char *)jj_sb_str(&sb), sb.n);
    }
    jj_fail(S, at, "'%s' object is not callable", jv_type_name(fn));
}

/* ---- loops ---- */

static void run_loop(jj_state *S, const jnode *n, jv *items, int depth, jj_frame *outer) {
    jj_frame *saved = S->f;
    if (n->c) {   /* inline filter: the loop sees only the items that pass */
        jv *kept = jv_list(S->A, 0);
        jj_frame *f = new_frame(S, outer);
        for (size_t i = 0; i < items->u.l.n; i++) {
            jj_step(S, n);
            f->vars->u.d.n = 0;
            S->f = f;
            assign(S, n->a, items->u.l.v[i]);
            if (jv_truthy(eval(S, n->c))) jv_push(S->A, kept, items->u.l.v[i]);
        }
        S->f = saved;
        items = kept;
    }
    if (!items->u.l.n) {
        S->f = outer;
        exec_body(S, n->l2, n->nl2);
        S->f = saved;
        return;
    }
    jj_loop *L = jj_alloc(S->A, sizeof *L);
    L->items = items->u.l.v; L->n = items->u.l.n; L->depth = depth; L->node = n; L->frame = outer;
    jv *lv = jj_alloc(S->A, sizeof *lv);
    lv->k = JV_LOOP; lv->u.loop = L;
    static jv loop_key = { .k = JV_STR, .u.s = { "loop", 4 } };
    /* one frame per loop, emptied each iteration (Jinja gives each iteration fresh locals) */
    jj_frame *f = new_frame(S, outer);
    for (size_t i = 0; i < L->n; i++) {
        jj_step(S, n);
        L->i = i;
        f->vars->u.d.n = 0;
        S->f = f;
        assign(S, n->a, items->u.l.v[i]);
        jv_dict_set(S->A, f->vars, &loop_key, lv);
        int flow = exec_body(S, n->l, n->nl);
        S->f = saved;
        if (flow == FLOW_BREAK) break;
    }
}

static void exec_for(jj_state *S, const jnode *n) {
    jv *it = eval(S, n->b);
    run_loop(S, n, jj_iter_list(S, it, n->b), 1, S->f);
}

/* ---- statements ---- */

static int exec_node(jj_state *S, const jnode *n) {
    switch (n->t) {
    case N_TEXT: jj_sb_put(S->out, n->s, n->slen); return FLOW_NORMAL;
    case N_OUTPUT: jj_write_str(S->out, eval(S, n->a)); return FLOW_NORMAL;
    case N_IF:
        if (jv_truthy(eval(S, n->a))) return exec_body(S, n->l, n->nl);
        return exec_body(S, n->l2, n->nl2);
    case N_FOR: exec_for(S, n); return FLOW_NORMAL;
    case N_SET: assign(S, n->a, eval(S, n->b)); return FLOW_NORMAL;
    case N_SETBLOCK: {
        jv *v = capture(S, n->l, n->nl, NULL);
        if (n->c) v = apply_chain(S, n->c, v);
        assign(S, n->a, v);
        return FLOW_NORMAL;
    }
    case N_FILTERBLOCK: {
        jv *v = capture(S, n->l, n->nl, NULL);
        jj_write_str(S->out, apply_chain(S, n->c, v));
        return FLOW_NORMAL;
    }
    case N_MACRO: {
        jv *fn = jv_native(S->A, NULL, NULL, n->s);
        fn->u.fn.macro = n; fn->u.fn.closure = S->f;
        jv_dict_sets(S->A, S->f->vars, n->s, fn);
        return FLOW_NORMAL;
    }
    case N_CALLBLOCK: {
        jv *caller = jv_native(S->A, NULL, NULL, "caller");
        caller->u.fn.macro = n; caller->u.fn.closure = S->f;
        const jnode *c = n->a;
        jv *callee = eval(S, c->a);
        jj_args a;
        eval_args(S, c, &a, 1);
        a.kn[a.nk] = "caller"; a.kv[a.nk] = caller; a.nk++;
        jj_write_str(S->out, jj_call(S, callee, &a, c));
        return FLOW_NORMAL;
    }
    case N_BREAK: return FLOW_BREAK;
    case N_CONTINUE: return FLOW_CONTINUE;
    case N_SCOPE: {
        if (!n->op) return exec_body(S, n->l, n->nl);
        jj_frame *saved = S->f;
        S->f = new_frame(S, saved);
        int fl = exec_body(S, n->l, n->nl);
        S->f = saved;
        return fl;
    }
    default:
        jj_fail(S, n, "internal error: not a statement");
    }
}

static int exec_body(jj_state *S, jnode **b, int n) {
    for (int i = 0; i < n; i++) {
        int f = exec_node(S, b[i]);
        if (f != FLOW_NORMAL) return f;
    }
    return FLOW_NORMAL;
}

/* ---- expressions ---- */

static int cmp_op(jj_state *S, const char *op, jv *a, jv *b, const jnode *at) {
    if (!strcmp(op, "==")) return jv_eq(a, b);
    if (!strcmp(op, "!=")) return !jv_eq(a, b);
    if (!strcmp(op, "in")) return jj_contains(S, b, a, at);
    if (!strcmp(op, "notin")) return !jj_contains(S, b, a, at);
    int c = jj_compare(S, a, b, at, op);
    if (!strcmp(op, "<")) return c < 0;
    if (!strcmp(op, "<=")) return c <= 0;
    if (!strcmp(op, ">")) return c > 0;
    return c >= 0;
}

static jv *eval(jj_state *S, const jnode *n) {
    switch (n->t) {
    case N_CONST: return n->cv;
    case N_NAME: return lookup(S, n);
    case N_ATTR: return jj_getattr(S, eval(S, n->a), n->s, n);
    case N_ITEM: { jv *o = eval(S, n->a); return jj_getitem(S, o, eval(S, n->b), n); }
    case N_SLICE: {
        jv *o = eval(S, n->a);
        jv *a = n->b ? eval(S, n->b) : NULL, *b = n->c ? eval(S, n->c) : NULL, *c = n->d ? eval(S, n->d) : NULL;
        return jj_slice(S, o, a, b, c, n);
    }
    case N_CALL: {
        jv *fn = eval(S, n->a);
        jj_args a;
        eval_args(S, n, &a, 0);
        return jj_call(S, fn, &a, n);
    }
    case N_FILTER: return apply_filter_node(S, n, eval(S, n->a));
    case N_TEST: {
        jv *in = eval(S, n->a);
        jj_args a;
        eval_args(S, n, &a, 0);
        int r = jj_test(S, n->s, in, &a, n);
        return jv_bool(n->op ? !r : r);
    }
    case N_BIN: { jv *a = eval(S, n->a); return jj_binop(S, n->s, a, eval(S, n->b), n); }
    case N_NEG: case N_POS: {
        jv *v = eval(S, n->a);
        if (v->k == JV_UNDEF) jj_undef_fail(S, v, n);
        if (v->k == JV_INT || v->k == JV_BOOL) {
            long long i = v->k == JV_INT ? v->u.i : v->u.b;
            return jv_int(S->A, n->t == N_NEG ? -i : i);
        }
        if (v->k == JV_FLOAT) return jv_float(S->A, n->t == N_NEG ? -v->u.f : v->u.f);
        jj_fail(S, n, "bad operand type for unary %c: '%s'", n->t == N_NEG ? '-' : '+', jv_type_name(v));
    }
    case N_NOT: return jv_bool(!jv_truthy(eval(S, n->a)));
    case N_AND: { jv *a = eval(S, n->a); return jv_truthy(a) ? eval(S, n->b) : a; }
    case N_OR: { jv *a = eval(S, n->a); return jv_truthy(a) ? a : eval(S, n->b); }
    case N_CMP: {
        jv *left = eval(S, n->a);
        for (int i = 0; i < n->nl; i++) {
            jv *right = eval(S, n->l[i]);
            if (!cmp_op(S, n->names[i], left, right, n)) return JV_FALSE_P;
            left = right;
        }
        return JV_TRUE_P;
    }
    case N_CONCAT: {
        jj_sb b; jj_sb_init(&b, S->A, JJ_MAX_OUTPUT);
        for (int i = 0; i < n->nl; i++) jj_write_str(&b, eval(S, n->l[i]));
        return jv_str_own(S->A, (char *)jj_sb_str(&b), b.n);
    }
    case N_COND:
        if (jv_truthy(eval(S, n->a))) return eval(S, n->b);
        if (n->c) return eval(S, n->c);
        return jv_undef(S->A, "the inline if-expression evaluated to false and no else section was defined.");
    case N_LIST: case N_TUPLE: {
        jv *l = n->t == N_LIST ? jv_list(S->A, (size_t)n->nl) : jv_tuple(S->A, (size_t)n->nl);
        for (int i = 0; i < n->nl; i++) jv_push(S->A, l, eval(S, n->l[i]));
        return l;
    }
    case N_DICT: {
        jv *d = jv_dict(S->A, JV_DICT);
        for (int i = 0; i < n->nl; i++) { jv *k = eval(S, n->l[i]); jv_dict_set(S->A, d, k, eval(S, n->l2[i])); }
        return d;
    }
    default:
        jj_fail(S, n, "internal error: not an expression");
    }
}

int jj_render_body(jnode **body, int n, jv *ctx, jj_arena *A, jj_sb *out) {
    jj_state *S = jj_alloc(A, sizeof *S);
    if (!S) return rl_err("template: out of memory");
    S->A = A;
    jj_frame *root = jj_alloc(A, sizeof *root);
    if (!root) return rl_err("template: out of memory");
    root->vars = ctx;
    S->f = root;
    S->out = out;
    void (*old)(void *, const char *) = A->on_fail; void *oldud = A->ud;
    A->on_fail = on_arena_fail; A->ud = S;
    if (setjmp(S->jb)) { A->on_fail = old; A->ud = oldud; return -1; }
    exec_body(S, body, n);
    A->on_fail = old; A->ud = oldud;
    return 0;
}
