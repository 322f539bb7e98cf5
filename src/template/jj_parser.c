/* Recursive-descent Jinja parser following Jinja2's grammar and operator precedence. */
#include "template/jj_parser.h"
#include "template/jj_eval.h"
#include "util/err.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 200

typedef struct {
    jj_arena *a;
    jj_tok *t; size_t nt, p;
    jmp_buf jb;
    int depth;
} P;

typedef struct { jnode **v; int n, cap; } vec;

static void vpush(P *P_, vec *v, jnode *x) {
    if (v->n == v->cap) {
        int nc = v->cap ? v->cap * 2 : 8;
        jnode **nv = jj_alloc(P_->a, (size_t)nc * sizeof(jnode *));
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof(jnode *));
        v->v = nv; v->cap = nc;
    }
    v->v[v->n++] = x;
}

__attribute__((noreturn, format(printf, 3, 4)))
static void perr(P *P_, const jj_tok *t, const char *fmt, ...) {
    char m[512];
    va_list ap; va_start(ap, fmt); vsnprintf(m, sizeof m, fmt, ap); va_end(ap);
    rl_err("template: line %d, col %d: %s", t->line, t->col, m);
    longjmp(P_->jb, 1);
}

static void on_oom(void *ud, const char *msg) {
    P *P_ = ud;
    rl_err("template: %s while parsing", msg);
    longjmp(P_->jb, 1);
}

static jj_tok *cur(P *P_) { return &P_->t[P_->p]; }
static jj_tok *peek(P *P_, int k) { size_t i = P_->p + (size_t)k; return &P_->t[i < P_->nt ? i : P_->nt - 1]; }
static jj_tok *next(P *P_) { jj_tok *t = cur(P_); if (t->t != TK_EOF) P_->p++; return t; }
static int is_op(const jj_tok *t, const char *op) { return t->t == TK_OP && strcmp(t->s, op) == 0; }
static int is_name(const jj_tok *t, const char *nm) { return t->t == TK_NAME && strcmp(t->s, nm) == 0; }

static const char *tok_desc(const jj_tok *t) {
    switch (t->t) {
    case TK_EOF: return "end of template";
    case TK_TEXT: return "text";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_END: return "'%}'";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_BLOCK_BEGIN: return "'{%'";
    default: return t->s ? t->s : "token";
    }
}

static void expect_op(P *P_, const char *op) {
    if (!is_op(cur(P_), op)) perr(P_, cur(P_), "expected '%s', got %s", op, tok_desc(cur(P_)));
    next(P_);
}
static const char *expect_name(P *P_) {
    if (cur(P_)->t != TK_NAME) perr(P_, cur(P_), "expected a name, got %s", tok_desc(cur(P_)));
    return next(P_)->s;
}
static void expect_block_end(P *P_) {
    if (cur(P_)->t != TK_BLOCK_END) perr(P_, cur(P_), "expected end of statement '%%}', got %s", tok_desc(cur(P_)));
    next(P_);
}

static jnode *node(P *P_, jn_type ty, const jj_tok *at) {
    jnode *n = jj_alloc(P_->a, sizeof *n);
    n->t = ty; n->line = at->line; n->col = at->col;
    return n;
}

static jnode *parse_expr(P *P_);
static jnode *parse_expr_nocond(P *P_);
static jnode *parse_unary(P *P_, int with_filter);
static jnode *parse_postfix(P *P_, jnode *n);
static jnode *parse_primary(P *P_);

static void enter(P *P_) { if (++P_->depth > MAX_DEPTH) perr(P_, cur(P_), "template nesting too deep"); }
static void leave(P *P_) { P_->depth--; }

/* Call arguments after '(' up to ')'. */
static void parse_args(P *P_, jnode *n) {
    vec args = {0}, kw = {0};
    const char **names = NULL; int nn = 0, cap = 0;
    expect_op(P_, "(");
    while (!is_op(cur(P_), ")")) {
        if (args.n || kw.n) expect_op(P_, ",");
        if (is_op(cur(P_), ")")) break;
        if (cur(P_)->t == TK_NAME && is_op(peek(P_, 1), "=")) {
            const char *k = next(P_)->s; next(P_);
            if (nn == cap) {
                cap = cap ? cap * 2 : 4;
                const char **nv = jj_alloc(P_->a, (size_t)cap * sizeof(char *));
                if (nn) memcpy(nv, names, (size_t)nn * sizeof(char *));
                names = nv;
            }
            names[nn++] = k;
            vpush(P_, &kw, parse_expr(P_));
        } else {
            if (kw.n) perr(P_, cur(P_), "positional argument follows keyword argument");
            vpush(P_, &args, parse_expr(P_));
        }
    }
    expect_op(P_, ")");
    n->l = args.v; n->nl = args.n; n->l2 = kw.v; n->nl2 = kw.n; n->names = names; n->nnames = nn;
}

static jnode *parse_filter(P *P_, jnode *input) {
    for (;;) {
        jj_tok *at = cur(P_);
        const char *name = expect_name(P_);
        while (is_op(cur(P_), ".")) { next(P_); name = expect_name(P_); }
        if (!jj_has_filter(name)) perr(P_, at, "No filter named '%s'.", name);
        jnode *f = node(P_, N_FILTER, at);
        f->a = input; f->s = name;
        if (is_op(cur(P_), "(")) parse_args(P_, f);
        input = f;
        if (!is_op(cur(P_), "|")) return f;
        next(P_);
    }
}

static jnode *parse_test(P *P_, jnode *input) {
    jj_tok *at = next(P_);           /* 'is' */
    jnode *t = node(P_, N_TEST, at);
    t->a = input;
    if (is_name(cur(P_), "not")) { next(P_); t->op = 1; }
    jj_tok *nt = cur(P_);
    t->s = expect_name(P_);
    if (!jj_has_test(t->s)) perr(P_, nt, "No test named '%s'.", t->s);
    jj_tok *c = cur(P_);
    if (is_op(c, "(")) parse_args(P_, t);
    else if ((c->t == TK_NAME || c->t == TK_STRING || c->t == TK_INT || c->t == TK_FLOAT || is_op(c, "[") || is_op(c, "{")) &&
             !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is")) perr(P_, c, "you cannot chain multiple tests with 'is'");
        jnode *arg = parse_postfix(P_, parse_primary(P_));
        t->l = jj_alloc(P_->a, sizeof(jnode *)); t->l[0] = arg; t->nl = 1;
    }
    return t;
}

static jnode *parse_filter_expr(P *P_, jnode *n) {
    for (;;) {
        if (is_op(cur(P_), "|")) { next(P_); n = parse_filter(P_, n); }
        else if (is_name(cur(P_), "is")) n = parse_test(P_, n);
        else if (is_op(cur(P_), "(")) { jnode *c = node(P_, N_CALL, cur(P_)); c->a = n; parse_args(P_, c); n = c; }
        else return n;
    }
}

static jnode *parse_subscript_part(P *P_) {
    jj_tok *at = cur(P_);
    jnode *args[3] = {0};
    int k = 0;
    if (is_op(cur(P_), ":")) { next(P_); k = 1; goto slice; }
    args[0] = parse_expr(P_);
    if (!is_op(cur(P_), ":")) return args[0];
    next(P_); k = 1;
slice:
    if (!is_op(cur(P_), "]") && !is_op(cur(P_), ":") && !is_op(cur(P_), ",")) args[1] = parse_expr(P_);
    if (is_op(cur(P_), ":")) {
        next(P_); k = 2;
        if (!is_op(cur(P_), "]") && !is_op(cur(P_), ",")) args[2] = parse_expr(P_);
    }
    (void)k;
    jnode *s = node(P_, N_SLICE, at);
    s->b = args[0]; s->c = args[1]; s->d = args[2];
    return s;
}

static jnode *parse_postfix(P *P_, jnode *n) {
    for (;;) {
        jj_tok *t = cur(P_);
        if (is_op(t, ".")) {
            next(P_);
            jj_tok *nt = cur(P_);
            if (nt->t == TK_NAME) {
                next(P_);
                jnode *a = node(P_, N_ATTR, t); a->a = n; a->s = nt->s; n = a;
            } else if (nt->t == TK_INT) {
                next(P_);
                jnode *it = node(P_, N_ITEM, t); it->a = n;
                it->b = node(P_, N_CONST, nt); it->b->cv = jv_int(P_->a, nt->i); n = it;
            } else perr(P_, nt, "expected name or number after '.'");
        } else if (is_op(t, "[")) {
            next(P_);
            jnode *sub = parse_subscript_part(P_);
            if (is_op(cur(P_), ",")) {      /* x[a, b] -> tuple key */
                jnode *tu = node(P_, N_TUPLE, t);
                vec v = {0}; vpush(P_, &v, sub);
                while (is_op(cur(P_), ",")) { next(P_); if (is_op(cur(P_), "]")) break; vpush(P_, &v, parse_subscript_part(P_)); }
                tu->l = v.v; tu->nl = v.n; sub = tu;
            }
            expect_op(P_, "]");
            if (sub->t == N_SLICE) { sub->a = n; n = sub; }
            else { jnode *it = node(P_, N_ITEM, t); it->a = n; it->b = sub; n = it; }
        } else if (is_op(t, "(")) {
            jnode *c = node(P_, N_CALL, t); c->a = n; parse_args(P_, c); n = c;
        } else return n;
    }
}

static jnode *constv(P *P_, const jj_tok *at, jv *v) { jnode *n = node(P_, N_CONST, at); n->cv = v; return n; }

static jnode *parse_tuple(P *P_, int simplified, int with_condexpr, int explicit_parens);

static jnode *parse_primary(P *P_) {
    jj_tok *t = cur(P_);
    enter(P_);
    jnode *r;
    switch (t->t) {
    case TK_NAME:
        next(P_);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) r = constv(P_, t, JV_TRUE_P);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) r = constv(P_, t, JV_FALSE_P);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) r = constv(P_, t, JV_NONE_P);
        else { r = node(P_, N_NAME, t); r->s = t->s; r->cv = jv_str_own(P_->a, t->s, t->n); }
        break;
    case TK_STRING: {
        next(P_);
        if (cur(P_)->t != TK_STRING) { r = constv(P_, t, jv_str_own(P_->a, t->s, t->n)); break; }
        size_t tot = t->n; size_t q = P_->p;
        while (P_->t[q].t == TK_STRING) tot += P_->t[q++].n;
        char *buf = jj_alloc(P_->a, tot + 1); size_t o = 0;
        memcpy(buf, t->s, t->n); o = t->n;
        while (cur(P_)->t == TK_STRING) { jj_tok *s = next(P_); memcpy(buf + o, s->s, s->n); o += s->n; }
        r = constv(P_, t, jv_str_own(P_->a, buf, tot));
        break;
    }
    case TK_INT: next(P_); r = constv(P_, t, jv_int(P_->a, t->i)); break;
    case TK_FLOAT: next(P_); r = constv(P_, t, jv_float(P_->a, t->f)); break;
    case TK_OP:
        if (is_op(t, "(")) {
            next(P_);
            r = parse_tuple(P_, 0, 1, 1);
            expect_op(P_, ")");
            break;
        }
        if (is_op(t, "[")) {
            next(P_);
            vec v = {0};
            while (!is_op(cur(P_), "]")) {
                if (v.n) expect_op(P_, ",");
                if (is_op(cur(P_), "]")) break;
                vpush(P_, &v, parse_expr(P_));
            }
            expect_op(P_, "]");
            r = node(P_, N_LIST, t); r->l = v.v; r->nl = v.n;
            break;
        }
        if (is_op(t, "{")) {
            next(P_);
            vec k = {0}, v = {0};
            while (!is_op(cur(P_), "}")) {
                if (k.n) expect_op(P_, ",");
                if (is_op(cur(P_), "}")) break;
                vpush(P_, &k, parse_expr(P_));
                expect_op(P_, ":");
                vpush(P_, &v, parse_expr(P_));
            }
            expect_op(P_, "}");
            r = node(P_, N_DICT, t); r->l = k.v; r->nl = k.n; r->l2 = v.v; r->nl2 = v.n;
            break;
        }
        /* fallthrough */
    default:
        perr(P_, t, "unexpected %s", tok_desc(t));
    }
    leave(P_);
    return r;
}

static jnode *parse_unary(P *P_, int with_filter) {
    jj_tok *t = cur(P_);
    jnode *n;
    enter(P_);
    if (is_op(t, "-") || is_op(t, "+")) {
        next(P_);
        n = node(P_, is_op(t, "-") ? N_NEG : N_POS, t);
        n->a = parse_unary(P_, 0);
    } else n = parse_postfix(P_, parse_primary(P_));
    if (with_filter) n = parse_filter_expr(P_, n);
    leave(P_);
    return n;
}

static jnode *binop(P *P_, const jj_tok *at, const char *op, jnode *a, jnode *b) {
    jnode *n = node(P_, N_BIN, at); n->s = op; n->a = a; n->b = b; return n;
}

static jnode *parse_pow(P *P_) {
    jnode *l = parse_unary(P_, 1);
    while (is_op(cur(P_), "**")) { jj_tok *t = next(P_); l = binop(P_, t, "**", l, parse_unary(P_, 1)); }
    return l;
}
static jnode *parse_math2(P *P_) {
    jnode *l = parse_pow(P_);
    while (is_op(cur(P_), "*") || is_op(cur(P_), "/") || is_op(cur(P_), "//") || is_op(cur(P_), "%")) {
        jj_tok *t = next(P_); l = binop(P_, t, t->s, l, parse_pow(P_));
    }
    return l;
}
static jnode *parse_concat(P *P_) {
    jj_tok *at = cur(P_);
    jnode *first = parse_math2(P_);
    if (!is_op(cur(P_), "~")) return first;
    vec v = {0}; vpush(P_, &v, first);
    while (is_op(cur(P_), "~")) { next(P_); vpush(P_, &v, parse_math2(P_)); }
    jnode *n = node(P_, N_CONCAT, at); n->l = v.v; n->nl = v.n;
    return n;
}
static jnode *parse_math1(P *P_) {
    jnode *l = parse_concat(P_);
    while (is_op(cur(P_), "+") || is_op(cur(P_), "-")) { jj_tok *t = next(P_); l = binop(P_, t, t->s, l, parse_concat(P_)); }
    return l;
}
static jnode *parse_compare(P *P_) {
    jj_tok *at = cur(P_);
    jnode *first = parse_math1(P_);
    vec v = {0};
    const char **ops = NULL; int nops = 0, cap = 0;
    for (;;) {
        jj_tok *t = cur(P_);
        const char *op = NULL;
        if (t->t == TK_OP && (!strcmp(t->s, "==") || !strcmp(t->s, "!=") || !strcmp(t->s, "<") ||
                              !strcmp(t->s, ">") || !strcmp(t->s, "<=") || !strcmp(t->s, ">="))) { op = t->s; next(P_); }
        else if (is_name(t, "in")) { op = "in"; next(P_); }
        else if (is_name(t, "not") && is_name(peek(P_, 1), "in")) { op = "notin"; next(P_); next(P_); }
        else break;
        if (nops == cap) {
            cap = cap ? cap * 2 : 4;
            const char **no = jj_alloc(P_->a, (size_t)cap * sizeof(char *));
            if (nops) memcpy(no, ops, (size_t)nops * sizeof(char *));
            ops = no;
        }
        ops[nops++] = op;
        vpush(P_, &v, parse_math1(P_));
    }
    if (!nops) return first;
    jnode *n = node(P_, N_CMP, at); n->a = first; n->l = v.v; n->nl = v.n; n->names = ops; n->nnames = nops;
    return n;
}
static jnode *parse_not(P *P_) {
    if (is_name(cur(P_), "not")) {
        jj_tok *t = next(P_);
        enter(P_);
        jnode *n = node(P_, N_NOT, t); n->a = parse_not(P_);
        leave(P_);
        return n;
    }
    return parse_compare(P_);
}
static jnode *parse_and(P *P_) {
    jnode *l = parse_not(P_);
    while (is_name(cur(P_), "and")) { jj_tok *t = next(P_); jnode *n = node(P_, N_AND, t); n->a = l; n->b = parse_not(P_); l = n; }
    return l;
}
static jnode *parse_or(P *P_) {
    jnode *l = parse_and(P_);
    while (is_name(cur(P_), "or")) { jj_tok *t = next(P_); jnode *n = node(P_, N_OR, t); n->a = l; n->b = parse_and(P_); l = n; }
    return l;
}
static jnode *parse_condexpr(P *P_) {
    jnode *e = parse_or(P_);
    while (is_name(cur(P_), "if")) {
        jj_tok *t = next(P_);
        jnode *c = node(P_, N_COND, t);
        c->b = e; c->a = parse_or(P_);
        if (is_name(cur(P_), "else")) { next(P_); enter(P_); c->c = parse_condexpr(P_); leave(P_); }
        e = c;
    }
    return e;
}
static jnode *parse_expr(P *P_) { enter(P_); jnode *n = parse_condexpr(P_); leave(P_); return n; }
static jnode *parse_expr_nocond(P *P_) { enter(P_); jnode *n = parse_or(P_); leave(P_); return n; }

/* Comma-separated expressions; a single one without a comma is returned as is. simplified: only
 * names/primaries (assignment targets). */
static jnode *parse_tuple(P *P_, int simplified, int with_condexpr, int explicit_parens) {
    jj_tok *at = cur(P_);
    vec v = {0};
    int comma = 0;
    for (;;) {
        if (v.n) { if (!is_op(cur(P_), ",")) break; next(P_); comma = 1; }
        jj_tok *c = cur(P_);
        if (c->t == TK_VAR_END || c->t == TK_BLOCK_END || is_op(c, ")") || is_name(c, "in") ||
            (c->t == TK_OP && (is_op(c, "=") || is_op(c, "]") || is_op(c, "}"))) ||
            (!with_condexpr && is_name(c, "if"))) {
            if (!v.n && !explicit_parens) perr(P_, c, "expected an expression, got %s", tok_desc(c));
            break;
        }
        jnode *e;
        if (simplified) e = parse_primary(P_);
        else if (with_condexpr) e = parse_expr(P_);
        else e = parse_expr_nocond(P_);
        vpush(P_, &v, e);
    }
    if (v.n == 1 && !comma) return v.v[0];
    jnode *t = node(P_, N_TUPLE, at); t->l = v.v; t->nl = v.n;
    return t;
}

/* Assignment target: name, ns.attr, or a tuple of names. */
static jnode *parse_target(P *P_, int allow_attr) {
    jj_tok *at = cur(P_);
    vec v = {0};
    int comma = 0;
    for (;;) {
        jj_tok *c = cur(P_);
        if (c->t != TK_NAME) perr(P_, c, "expected an assignment target, got %s", tok_desc(c));
        next(P_);
        jnode *n = node(P_, N_NAME, c); n->s = c->s; n->cv = jv_str_own(P_->a, c->s, c->n);
        if (allow_attr && is_op(cur(P_), ".")) {
            next(P_);
            jnode *a = node(P_, N_ATTR, c); a->a = n; a->s = expect_name(P_); n = a;
        }
        vpush(P_, &v, n);
        if (!is_op(cur(P_), ",")) break;
        next(P_); comma = 1;
    }
    if (v.n == 1 && !comma) return v.v[0];
    jnode *t = node(P_, N_TUPLE, at); t->l = v.v; t->nl = v.n;
    return t;
}

static void parse_body(P *P_, vec *out, const char *const *ends);

static int at_end_tag(P *P_, const char *const *ends) {
    if (cur(P_)->t != TK_BLOCK_BEGIN) return 0;
    jj_tok *n = peek(P_, 1);
    if (n->t != TK_NAME) return 0;
    for (int i = 0; ends && ends[i]; i++) if (!strcmp(n->s, ends[i])) return 1;
    return 0;
}

static void body_until(P *P_, jnode ***l, int *n, const char *const *ends) {
    vec v = {0};
    parse_body(P_, &v, ends);
    *l = v.v; *n = v.n;
}

/* Consumes "{% name" (the block begin and the end name); returns the name token. */
static jj_tok *take_end(P *P_) { next(P_); return next(P_); }

static void parse_params(P *P_, jnode *n) {
    vec defs = {0};
    const char **names = NULL; int nn = 0, cap = 0;
    expect_op(P_, "(");
    while (!is_op(cur(P_), ")")) {
        if (nn) expect_op(P_, ",");
        if (is_op(cur(P_), ")")) break;
        const char *nm = expect_name(P_);
        if (nn == cap) {
            cap = cap ? cap * 2 : 4;
            const char **nv = jj_alloc(P_->a, (size_t)cap * sizeof(char *));
            if (nn) memcpy(nv, names, (size_t)nn * sizeof(char *));
            names = nv;
        }
        names[nn++] = nm;
        if (is_op(cur(P_), "=")) { next(P_); vpush(P_, &defs, parse_expr(P_)); }
        else {
            if (defs.n && defs.v[defs.n - 1]) perr(P_, cur(P_), "non-default argument follows default argument");
            vpush(P_, &defs, NULL);
        }
    }
    expect_op(P_, ")");
    n->names = names; n->nnames = nn; n->l2 = defs.v; n->nl2 = defs.n;
}

static jnode *parse_stmt(P *P_) {
    jj_tok *begin = next(P_);   /* {% */
    jj_tok *kw = cur(P_);
    if (kw->t != TK_NAME) perr(P_, kw, "expected a statement name, got %s", tok_desc(kw));
    const char *k = kw->s;
    next(P_);
    (void)begin;
    jnode *n;
    if (!strcmp(k, "if")) {
        n = node(P_, N_IF, kw);
        n->a = parse_tuple(P_, 0, 1, 0);
        expect_block_end(P_);
        static const char *const ends[] = { "elif", "else", "endif", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        jnode *curif = n;
        for (;;) {
            jj_tok *e = take_end(P_);
            if (!strcmp(e->s, "elif")) {
                jnode *ei = node(P_, N_IF, e);
                ei->a = parse_tuple(P_, 0, 1, 0);
                expect_block_end(P_);
                body_until(P_, &ei->l, &ei->nl, ends);
                curif->l2 = jj_alloc(P_->a, sizeof(jnode *)); curif->l2[0] = ei; curif->nl2 = 1;
                curif = ei;
            } else if (!strcmp(e->s, "else")) {
                expect_block_end(P_);
                static const char *const ends2[] = { "endif", NULL };
                body_until(P_, &curif->l2, &curif->nl2, ends2);
                take_end(P_);
                expect_block_end(P_);
                break;
            } else { expect_block_end(P_); break; }
        }
        return n;
    }
    if (!strcmp(k, "for")) {
        n = node(P_, N_FOR, kw);
        n->a = parse_target(P_, 0);
        if (!is_name(cur(P_), "in")) perr(P_, cur(P_), "expected 'in', got %s", tok_desc(cur(P_)));
        next(P_);
        n->b = parse_tuple(P_, 0, 0, 0);
        if (is_name(cur(P_), "if")) { next(P_); n->c = parse_expr(P_); }
        if (is_name(cur(P_), "recursive")) { next(P_); n->op = 1; }
        expect_block_end(P_);
        static const char *const ends[] = { "endfor", "else", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        jj_tok *e = take_end(P_);
        if (!strcmp(e->s, "else")) {
            expect_block_end(P_);
            static const char *const ends2[] = { "endfor", NULL };
            body_until(P_, &n->l2, &n->nl2, ends2);
            take_end(P_);
        }
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "set")) {
        jnode *target = parse_target(P_, 1);
        if (is_op(cur(P_), "=")) {
            next(P_);
            n = node(P_, N_SET, kw);
            n->a = target; n->b = parse_tuple(P_, 0, 1, 0);
            expect_block_end(P_);
            return n;
        }
        n = node(P_, N_SETBLOCK, kw);
        n->a = target;
        if (is_op(cur(P_), "|")) { next(P_); n->c = parse_filter(P_, NULL); }
        expect_block_end(P_);
        static const char *const ends[] = { "endset", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        take_end(P_);
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "macro")) {
        n = node(P_, N_MACRO, kw);
        n->s = expect_name(P_);
        parse_params(P_, n);
        expect_block_end(P_);
        static const char *const ends[] = { "endmacro", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        take_end(P_);
        if (cur(P_)->t == TK_NAME) next(P_);   /* {% endmacro name %} */
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "call")) {
        n = node(P_, N_CALLBLOCK, kw);
        if (is_op(cur(P_), "(")) parse_params(P_, n);
        n->a = parse_expr(P_);
        if (n->a->t != N_CALL) perr(P_, kw, "expected a call after 'call'");
        expect_block_end(P_);
        static const char *const ends[] = { "endcall", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        take_end(P_);
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "filter")) {
        n = node(P_, N_FILTERBLOCK, kw);
        n->c = parse_filter(P_, NULL);
        expect_block_end(P_);
        static const char *const ends[] = { "endfilter", NULL };
        body_until(P_, &n->l, &n->nl, ends);
        take_end(P_);
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "generation") || !strcmp(k, "with")) {
        /* generation: transformers' assistant-mask marker, renders its body; with: scoped assignments */
        n = node(P_, N_SCOPE, kw);
        int is_with = !strcmp(k, "with");
        vec sets = {0};
        while (is_with && cur(P_)->t != TK_BLOCK_END) {
            if (sets.n) expect_op(P_, ",");
            jj_tok *at = cur(P_);
            jnode *s = node(P_, N_SET, at);
            s->a = parse_target(P_, 0);
            expect_op(P_, "=");
            s->b = parse_expr(P_);
            vpush(P_, &sets, s);
        }
        expect_block_end(P_);
        static const char *const gends[] = { "endgeneration", NULL }, *const wends[] = { "endwith", NULL };
        vec body = {0};
        for (int i = 0; i < sets.n; i++) vpush(P_, &body, sets.v[i]);
        parse_body(P_, &body, is_with ? wends : gends);
        n->l = body.v; n->nl = body.n; n->op = is_with;
        take_end(P_);
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "break") || !strcmp(k, "continue")) {
        n = node(P_, k[0] == 'b' ? N_BREAK : N_CONTINUE, kw);
        expect_block_end(P_);
        return n;
    }
    if (!strcmp(k, "include") || !strcmp(k, "import") || !strcmp(k, "from") || !strcmp(k, "extends") || !strcmp(k, "block"))
        perr(P_, kw, "'%s' is not supported in chat templates", k);
    perr(P_, kw, "unknown statement '%s'", k);
}

static void parse_body(P *P_, vec *out, const char *const *ends) {
    for (;;) {
        jj_tok *t = cur(P_);
        if (t->t == TK_EOF) {
            if (ends) perr(P_, t, "unexpected end of template, expected '%s'", ends[0]);
            return;
        }
        if (t->t == TK_TEXT) {
            jnode *n = node(P_, N_TEXT, t); n->s = t->s; n->slen = t->n;
            vpush(P_, out, n); next(P_);
            continue;
        }
        if (t->t == TK_VAR_BEGIN) {
            next(P_);
            jnode *n = node(P_, N_OUTPUT, t);
            n->a = parse_tuple(P_, 0, 1, 0);
            if (cur(P_)->t != TK_VAR_END) perr(P_, cur(P_), "expected end of print statement '}}', got %s", tok_desc(cur(P_)));
            next(P_);
            vpush(P_, out, n);
            continue;
        }
        if (t->t == TK_BLOCK_BEGIN) {
            if (at_end_tag(P_, ends)) return;
            jj_tok *nm = peek(P_, 1);
            if (nm->t == TK_NAME && (!strncmp(nm->s, "end", 3) || !strcmp(nm->s, "else") || !strcmp(nm->s, "elif")))
                perr(P_, nm, "unexpected '%s'%s%s%s", nm->s, ends ? ", expected '" : "", ends ? ends[0] : "", ends ? "'" : "");
            enter(P_);
            vpush(P_, out, parse_stmt(P_));
            leave(P_);
            continue;
        }
        perr(P_, t, "unexpected %s", tok_desc(t));
    }
}

int jj_parse(jj_arena *a, const char *src, size_t len, jnode ***body, int *nbody) {
    P P_;
    memset(&P_, 0, sizeof P_);
    P_.a = a;
    void (*old)(void *, const char *) = a->on_fail; void *oldud = a->ud;
    a->on_fail = on_oom; a->ud = &P_;
    if (setjmp(P_.jb)) { a->on_fail = old; a->ud = oldud; return -1; }
    jj_lex_opts o = { 1, 1 };
    if (jj_lex(a, src, len, &o, &P_.t, &P_.nt)) { a->on_fail = old; a->ud = oldud; return -1; }
    vec v = {0};
    parse_body(&P_, &v, NULL);
    a->on_fail = old; a->ud = oldud;
    *body = v.v; *nbody = v.n;
    return 0;
}
