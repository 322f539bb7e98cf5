/* The JSON output constraint of jsonc.h: token texts, a copyable automaton state (a stack of
 * frames walking the schema nodes of jsonc_node.h), a set of such states for alternatives
 * (anyOf, several types), and the per-token mask. */
#include "server/jsonc.h"
#include "server/jsonc_node.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text of each token ---- */

struct rl_vocab_text {
    int vocab;
    char **text;
};

rl_vocab_text *rl_vocab_text_new(const rl_tokenizer *tok, int vocab) {
    rl_vocab_text *v = calloc(1, sizeof *v);
    if (v) v->text = calloc((size_t)vocab, sizeof *v->text);
    if (!v || !v->text) { free(v); return NULL; }
    v->vocab = vocab;
    int32_t *base = NULL;
    int nb = 0;
    if (rl_tokenize(tok, "a", 1, 0, &base, &nb) || nb < 1) { rl_release(base); rl_vocab_text_free(v); return NULL; }
    int32_t pair[2] = {base[nb - 1], 0};
    rl_release(base);
    char *pre = NULL;
    size_t pl = 0;
    if (rl_detokenize(tok, pair, 1, 1, &pre, &pl)) { rl_vocab_text_free(v); return NULL; }
    for (int i = 0; i < vocab; i++) {    /* text of i after "a": decode(a, i) minus decode(a) */
        char *t = NULL;
        size_t tl = 0;
        pair[1] = i;
        if (rl_detokenize(tok, pair, 2, 1, &t, &tl) || tl <= pl || memcmp(t, pre, pl) || memmem(t, tl, "\xEF\xBF\xBD", 3) ||
            strlen(t) != tl) {            /* special, partial character or a NUL byte: never allowed */
            rl_release(t);
            continue;
        }
        v->text[i] = strdup(t + pl);
        rl_release(t);
    }
    rl_release(pre);
    return v;
}

rl_vocab_text *rl_vocab_text_from(const char *const *texts, int vocab) {
    rl_vocab_text *v = calloc(1, sizeof *v);
    if (v) v->text = calloc((size_t)vocab, sizeof *v->text);
    if (!v || !v->text) { free(v); return NULL; }
    v->vocab = vocab;
    for (int i = 0; i < vocab; i++)
        if (texts[i] && *texts[i] && !(v->text[i] = strdup(texts[i]))) { rl_vocab_text_free(v); return NULL; }
    return v;
}

void rl_vocab_text_free(rl_vocab_text *v) {
    if (!v) return;
    for (int i = 0; v->text && i < v->vocab; i++) free(v->text[i]);
    free(v->text);
    free(v);
}

/* ---- the automaton ---- */

#define MAX_DEPTH 48          /* frames: nesting of the output */
#define MAX_WS 8              /* whitespace characters in a row between tokens of JSON */
#define MAX_STATES 32         /* alternatives followed side by side */
#define MAX_FORK 24           /* alternatives opened for one character (bounds $ref cycles) */

enum { F_VAL, F_OBJ, F_ARR, F_STR, F_NUM, F_LIT, F_KEY };
enum { R_OK = 0, R_NO = -1, R_FORK = -3, R_REFEED = -4 };

typedef struct {
    uint8_t kind, st, neg, hs;   /* hs: string \u escape of a surrogate (1 high-range first digit) */
    int16_t n;                   /* object: next property index; literal / key: characters matched */
    int16_t cur;                 /* object: the property whose value is being read (-1: a free member) */
    int32_t cnt;                 /* object members, array items, string code points */
    const js_node *nd;           /* the schema node (NULL: any value of the kind) */
    uint64_t alive;              /* literal / key candidates still possible */
    double v;                    /* number: the magnitude so far */
    int32_t fd;                  /* number: fraction digits */
} frame;

typedef struct {
    int sp;                      /* frames in use; 0 with done: the value is complete */
    int done, ws;
    int pre, suf;                /* characters of the prefix / suffix matched */
    frame f[MAX_DEPTH];
} state;

struct rl_jsonc {
    js_pool pool;
    const js_node *root;
    const rl_vocab_text *vt;
    char *pre, *suf;
    int prelen, suflen;
    int ns;
    state *s;                    /* [MAX_STATES] */
    state *tmp;                  /* [MAX_STATES]: the next set while accepting */
};

static size_t state_bytes(const state *s) { return offsetof(state, f) + (size_t)s->sp * sizeof(frame); }
static void copy_state(state *d, const state *s) { memcpy(d, s, state_bytes(s)); }

static int frame_eq(const frame *a, const frame *b) {
    return a->kind == b->kind && a->st == b->st && a->neg == b->neg && a->hs == b->hs && a->n == b->n && a->cur == b->cur &&
           a->cnt == b->cnt && a->nd == b->nd && a->alive == b->alive && a->v == b->v && a->fd == b->fd;
}

static int state_eq(const state *a, const state *b) {
    if (a->sp != b->sp || a->done != b->done || a->ws != b->ws || a->pre != b->pre || a->suf != b->suf) return 0;
    for (int i = 0; i < a->sp; i++) if (!frame_eq(&a->f[i], &b->f[i])) return 0;
    return 1;
}

static int push(state *s, int kind, const js_node *nd) {
    if (s->sp == MAX_DEPTH) return R_NO;
    frame *f = &s->f[s->sp++];
    memset(f, 0, sizeof *f);
    f->kind = (uint8_t)kind;
    f->nd = nd;
    f->cur = -1;
    return R_OK;
}

static int is_ws(int ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r'; }

static const char *const TFN[] = {"true", "false", "null"};
static const char *lit(const frame *f, int i) { return f->nd ? f->nd->keys[i] : TFN[i]; }
static int lit_count(const frame *f) { return f->nd ? f->nd->n : 3; }

/* A value is complete: pop it and advance the parent. */
static void value_done(state *s) {
    s->sp--;
    if (!s->sp) { s->done = 1; return; }
    frame *p = &s->f[s->sp - 1];
    if (p->kind == F_OBJ) {
        if (p->st == 1) { p->st = 2; return; }                 /* key read -> ':' */
        p->st = 4;                                              /* value read -> ',' or '}' */
        p->cnt++;
        if (p->cur >= 0) p->n = (int16_t)(p->cur + 1);
    } else if (p->kind == F_ARR) {
        p->st = 4;
        p->cnt++;
    } else if (p->kind == F_VAL) {
        value_done(s);
    }
}

/* ---- objects and arrays ---- */

static int listed(const frame *f) { return f->nd && f->nd->n > 0; }
static int omin(const frame *f) { return f->nd ? f->nd->min : 0; }
static int omax(const frame *f) { return f->nd ? f->nd->max : -1; }

/* The properties that may come next: from f->n up to the first required one. */
static uint64_t key_candidates(const frame *f) {
    uint64_t m = 0;
    for (int i = f->n; i < f->nd->n; i++) {
        m |= 1ull << i;
        if (f->nd->required >> i & 1) break;
    }
    return m;
}

static int obj_can_end(const frame *f) {
    if (f->cnt < omin(f)) return 0;
    return !listed(f) || !(f->nd->required >> f->n) || f->n >= 64;
}

static int obj_can_more(const frame *f) {
    if (omax(f) >= 0 && f->cnt >= omax(f)) return 0;
    if (listed(f)) return f->n < f->nd->n;
    return !(f->nd && f->nd->no_extra);
}

static int arr_can_more(const frame *f) { return !f->nd || f->nd->max < 0 || f->cnt < f->nd->max; }
static int arr_can_end(const frame *f) { return !f->nd || f->cnt >= f->nd->min; }

/* ---- numbers ---- */

/* Some value of the interval a..b (ends open or not) lies in node nd's range. */
static int range_hit(const js_node *nd, double a, int a_open, double b, int b_open) {
    if (nd->has_hi && (a > nd->hi || (a == nd->hi && (a_open || nd->hi_ex)))) return 0;
    if (nd->has_lo && (b < nd->lo || (b == nd->lo && (b_open || nd->lo_ex)))) return 0;
    return 1;
}

/* The same for magnitudes a..b of sign neg. */
static int mag_hit(const js_node *nd, int neg, double a, int a_open, double b, int b_open) {
    return neg ? range_hit(nd, -b, b_open, -a, a_open) : range_hit(nd, a, a_open, b, b_open);
}

static int ranged(const frame *f) { return f->nd && (f->nd->has_lo || f->nd->has_hi); }

/* Some completion of the number read so far lies in the range (no exponent when ranged). */
static int num_viable(const frame *f) {
    if (!ranged(f)) return 1;
    const js_node *nd = f->nd;
    int integer = nd->type == T_INT;
    double v = f->v;
    switch (f->st) {
    case 0: return mag_hit(nd, 1, 0, 0, INFINITY, 1);                     /* after '-' */
    case 1: return integer ? mag_hit(nd, f->neg, 0, 0, 0, 0) : mag_hit(nd, f->neg, 0, 0, 1, 1);   /* "0" */
    case 2: {                                                                /* integer digits v */
        if (integer ? mag_hit(nd, f->neg, v, 0, v, 0) : mag_hit(nd, f->neg, v, 0, v + 1, 1)) return 1;
        double p = 10;
        for (int m = 1; m <= 16; m++, p *= 10)                               /* m more digits */
            if (integer ? mag_hit(nd, f->neg, v * p, 0, (v + 1) * p - 1, 0) : mag_hit(nd, f->neg, v * p, 0, (v + 1) * p, 1)) return 1;
        return 0;
    }
    case 3: return mag_hit(nd, f->neg, v, 0, v + 1, 1);                      /* after '.' */
    case 4: return mag_hit(nd, f->neg, v, 0, v + pow(10, -f->fd), 1);        /* fraction digits */
    default: return 0;
    }
}

static int num_final_ok(const frame *f) {
    if (!ranged(f)) return 1;
    double x = f->neg ? -f->v : f->v;
    return range_hit(f->nd, x, 0, x, 0);
}

static int feed(state *s, int ch);

/* Number substates: 255 start, 0 after '-', 1 after a leading 0, 2 in integer digits, 3 after
 * '.', 4 in fraction, 5 after e, 6 after the exponent sign, 7 in the exponent. Complete in 1, 2,
 * 4, 7. */
static int feed_num(state *s, frame *f, int ch) {
    int d = ch >= '0' && ch <= '9';
    int integer = f->nd && f->nd->type == T_INT, rg = ranged(f);
    int ok = 1;
    switch (f->st) {
    case 255:
        if (ch == '-') { f->st = 0; f->neg = 1; break; }
        /* fall through */
    case 0:
        if (ch == '0') { f->st = 1; break; }
        if (d) { f->st = 2; f->v = ch - '0'; break; }
        return R_NO;
    case 1: case 2:
        if (d && f->st == 2) { f->v = f->v * 10 + (ch - '0'); break; }
        if (ch == '.' && !integer) { f->st = 3; break; }
        if ((ch == 'e' || ch == 'E') && !integer && !rg) { f->st = 5; break; }
        ok = 0;
        break;
    case 3: if (!d) return R_NO; f->st = 4; f->fd = 1; f->v += (ch - '0') * 0.1; break;
    case 4:
        if (d) { f->fd++; f->v += (ch - '0') * pow(10, -f->fd); break; }
        if ((ch == 'e' || ch == 'E') && !rg) { f->st = 5; break; }
        ok = 0;
        break;
    case 5: if (ch == '+' || ch == '-') { f->st = 6; break; } if (d) { f->st = 7; break; } return R_NO;
    case 6: if (d) { f->st = 7; break; } return R_NO;
    case 7: if (d) break; ok = 0; break;
    default: return R_NO;
    }
    if (ok) return num_viable(f) ? R_OK : R_NO;
    if (f->st != 1 && f->st != 2 && f->st != 4 && f->st != 7) return R_NO;
    if (!num_final_ok(f)) return R_NO;
    value_done(s);                       /* the number ended before ch */
    if (s->done) return R_REFEED;        /* a top-level number: ch goes to what follows the value */
    return feed(s, ch);
}

/* ---- strings ---- */

static int feed_str(state *s, frame *f, int ch) {
    int mn = f->nd ? f->nd->min : 0, mx = f->nd ? f->nd->max : -1;
    if (f->st == 0) {
        if (ch == '"') { if (f->cnt < mn) return R_NO; value_done(s); return R_OK; }
        if ((unsigned char)ch < 0x20) return R_NO;
        if ((ch & 0xC0) == 0x80) return R_OK;                   /* a UTF-8 continuation byte */
        if (mx >= 0 && f->cnt >= mx) return R_NO;
        f->cnt++;
        if (ch == '\\') f->st = 1;
        return R_OK;
    }
    if (f->st == 1) {
        if (ch == 'u') { f->st = 2; f->hs = 0; return R_OK; }
        if (ch && strchr("\"\\/bfnrt", ch)) { f->st = 0; return R_OK; }
        return R_NO;
    }
    int hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    if (!hex) return R_NO;
    if (f->st == 2) f->hs = ch == 'd' || ch == 'D';
    else if (f->st == 3 && f->hs && strchr("cdefCDEF", ch)) f->cnt--;   /* a low surrogate: same code point */
    f->st = f->st == 5 ? 0 : (uint8_t)(f->st + 1);
    return R_OK;
}

/* Starts a value of node nd at character ch (replacing the F_VAL frame on top). */
static int start_value(state *s, const js_node *nd, int ch) {
    frame *f = &s->f[s->sp - 1];
    int t = nd ? nd->type : T_ANY;
    const js_node *keep = t == T_ANY ? NULL : nd;
    if (t == T_ALT) return R_FORK;
    memset(f, 0, sizeof *f);
    f->cur = -1;
    f->nd = keep;
    if (t == T_LITS) {
        f->kind = F_LIT;
        f->alive = nd->n >= 64 ? ~0ull : (1ull << nd->n) - 1;
    } else if (ch == '{' && (t == T_ANY || t == T_OBJ)) {
        f->kind = F_OBJ;
        return R_OK;
    } else if (ch == '[' && (t == T_ANY || t == T_ARR)) {
        f->kind = F_ARR;
        return arr_can_more(f) || arr_can_end(f) ? R_OK : R_NO;
    } else if (ch == '"' && (t == T_ANY || t == T_STR)) {
        f->kind = F_STR;
        return R_OK;
    } else if ((ch == '-' || (ch >= '0' && ch <= '9')) && (t == T_ANY || t == T_NUM || t == T_INT)) {
        f->kind = F_NUM;
        f->st = 255;
        return feed_num(s, f, ch);
    } else if (t == T_ANY && (ch == 't' || ch == 'f' || ch == 'n')) {
        f->kind = F_LIT;
        f->alive = 7;
    } else {
        return R_NO;
    }
    return feed(s, ch);                  /* a literal: the character goes through the new frame */
}

static int feed_obj(state *s, frame *f, int ch) {
    if ((f->st == 0 || f->st == 4) && ch == '}') {
        if (!obj_can_end(f)) return R_NO;
        value_done(s);
        return R_OK;
    }
    if (f->st == 4 && ch == ',') { if (!obj_can_more(f)) return R_NO; f->st = 5; return R_OK; }
    if (f->st == 0 || f->st == 5) {      /* a key */
        if (!obj_can_more(f)) return R_NO;
        f->st = 1;
        if (!listed(f)) {
            if (ch != '"') return R_NO;
            f->cur = -1;
            return push(s, F_STR, NULL);
        }
        uint64_t cand = key_candidates(f);
        if (push(s, F_KEY, NULL)) return R_NO;
        s->f[s->sp - 1].alive = cand;
        return feed(s, ch);
    }
    if (f->st == 2 && ch == ':') {
        f->st = 3;
        return push(s, F_VAL, f->cur >= 0 ? f->nd->sub[f->cur] : f->nd ? f->nd->extra : NULL);
    }
    return R_NO;
}

static int feed_arr(state *s, frame *f, int ch) {
    if ((f->st == 0 || f->st == 4) && ch == ']') {
        if (!arr_can_end(f)) return R_NO;
        value_done(s);
        return R_OK;
    }
    if (f->st == 4 && ch == ',') { if (!arr_can_more(f)) return R_NO; f->st = 5; return R_OK; }
    if (f->st == 0 || f->st == 5) {
        if (!arr_can_more(f)) return R_NO;
        f->st = 6;
        if (push(s, F_VAL, f->nd ? f->nd->items : NULL)) return R_NO;
        return feed(s, ch);
    }
    return R_NO;
}

static int feed_key(state *s, frame *f, int ch) {
    const frame *p = &s->f[s->sp - 2];
    uint64_t alive = 0;
    int complete = -1;
    for (int i = 0; i < p->nd->n; i++) {
        if (!(f->alive >> i & 1)) continue;
        const char *k = p->nd->keys[i];
        if (k[f->n] == ch) {
            alive |= 1ull << i;
            if (!k[f->n + 1]) complete = i;   /* names as JSON strings are prefix-free */
        }
    }
    if (!alive) return R_NO;
    f->alive = alive;
    f->n++;
    if (complete >= 0) {
        s->f[s->sp - 2].cur = (int16_t)complete;
        value_done(s);
    }
    return R_OK;
}

static int feed_lit(state *s, frame *f, int ch) {
    uint64_t alive = 0;
    int ended = 0;
    for (int i = 0; i < lit_count(f) && i < 64; i++) {
        if (!(f->alive >> i & 1)) continue;
        const char *t = lit(f, i);
        if ((int)strlen(t) == f->n) ended = 1;
        else if (t[f->n] == ch) alive |= 1ull << i;
    }
    if (alive) {
        f->alive = alive;
        f->n++;
        int all_end = 1;                 /* finished when no candidate is longer */
        for (int i = 0; i < lit_count(f) && i < 64; i++)
            if ((alive >> i & 1) && (int)strlen(lit(f, i)) > f->n) all_end = 0;
        if (all_end) value_done(s);
        return R_OK;
    }
    if (!ended) return R_NO;
    value_done(s);
    if (s->done) return R_REFEED;
    return feed(s, ch);
}

/* One character of the JSON value: R_OK, R_NO, R_FORK (the top F_VAL is an alternative: choose
 * one and feed ch again) or R_REFEED (the value completed before ch). */
static int feed(state *s, int ch) {
    if (s->done || !s->sp) return R_NO;
    frame *f = &s->f[s->sp - 1];
    if (f->kind != F_STR && f->kind != F_LIT && f->kind != F_NUM && f->kind != F_KEY) {
        if (is_ws(ch)) { if (s->ws >= MAX_WS) return R_NO; s->ws++; return R_OK; }
        s->ws = 0;
    }
    switch (f->kind) {
    case F_VAL: return start_value(s, f->nd, ch);
    case F_OBJ: return feed_obj(s, f, ch);
    case F_ARR: return feed_arr(s, f, ch);
    case F_STR: return feed_str(s, f, ch);
    case F_NUM: return feed_num(s, f, ch);
    case F_KEY: return feed_key(s, f, ch);
    case F_LIT: return feed_lit(s, f, ch);
    }
    return R_NO;
}

/* One character of the whole text: prefix, value, suffix. */
static int step(const rl_jsonc *c, state *s, int ch) {
    if (s->pre < c->prelen) {
        if (c->pre[s->pre] != ch) return R_NO;
        s->pre++;
        return R_OK;
    }
    int refeed = 0;
    if (!s->done) {
        int r = feed(s, ch);
        if (r != R_REFEED) return r;
        refeed = 1;
    }
    if (s->suf < c->suflen) {
        if (c->suf[s->suf] != ch) return R_NO;
        s->suf++;
        return R_OK;
    }
    return refeed && is_ws(ch) ? R_OK : R_NO;   /* a top-level number or literal ends at whitespace */
}

static int complete(const rl_jsonc *c, const state *s) { return s->done && s->suf == c->suflen; }

typedef struct { state *buf; int n; } sink;

static void sink_add(sink *k, const state *s) {
    for (int i = 0; i < k->n; i++) if (state_eq(&k->buf[i], s)) return;
    if (k->n < MAX_STATES) copy_state(&k->buf[k->n++], s);
}

/* Runs text p from state s (modified): 1 if some way through the alternatives accepts all of it;
 * the end states go to out (NULL: stop at the first). */
static int run(const rl_jsonc *c, state *s, const char *p, int forks, sink *out) {
    for (; *p; p++) {
        int r = step(c, s, (unsigned char)*p);
        if (r == R_OK) continue;
        if (r != R_FORK || forks >= MAX_FORK) return 0;
        const js_node *alt = s->f[s->sp - 1].nd;
        int any = 0;
        state t;
        for (int k = 0; k < alt->n; k++) {
            copy_state(&t, s);
            t.f[t.sp - 1].nd = alt->sub[k];
            if (run(c, &t, p, forks + 1, out)) {
                any = 1;
                if (!out) return 1;
            }
        }
        return any;
    }
    if (out) sink_add(out, s);
    return 1;
}

static int dup_text(const char *t, char **dst, int *len) {
    *len = t ? (int)strlen(t) : 0;
    if (!t) return 0;
    return (*dst = strdup(t)) ? 0 : -1;
}

rl_jsonc *rl_jsonc_new_ex(const cJSON *schema, const char *prefix, const char *suffix, const rl_vocab_text *vt, char *err,
                          size_t errsz) {
    rl_jsonc *c = calloc(1, sizeof *c);
    if (c) {
        c->s = malloc(MAX_STATES * sizeof *c->s);
        c->tmp = malloc(MAX_STATES * sizeof *c->tmp);
    }
    if (!c || !c->s || !c->tmp || dup_text(prefix, &c->pre, &c->prelen) || dup_text(suffix, &c->suf, &c->suflen)) {
        snprintf(err, errsz, "out of memory");
        rl_jsonc_free(c);
        return NULL;
    }
    c->vt = vt;
    if (!(c->root = js_compile(&c->pool, schema, err, errsz))) { rl_jsonc_free(c); return NULL; }
    memset(&c->s[0], 0, offsetof(state, f));
    push(&c->s[0], F_VAL, c->root);
    c->ns = 1;
    return c;
}

rl_jsonc *rl_jsonc_new(const cJSON *schema, const rl_vocab_text *vt, char *err, size_t errsz) {
    return rl_jsonc_new_ex(schema, NULL, NULL, vt, err, errsz);
}

void rl_jsonc_free(rl_jsonc *c) {
    if (!c) return;
    js_pool_free(&c->pool);
    free(c->pre); free(c->suf);
    free(c->s); free(c->tmp);
    free(c);
}

int rl_jsonc_done(const rl_jsonc *c) {
    for (int i = 0; i < c->ns; i++) if (complete(c, &c->s[i])) return 1;
    return 0;
}

int rl_jsonc_feed(rl_jsonc *c, const char *text) {
    sink k = {c->tmp, 0};
    state t;
    for (int i = 0; i < c->ns; i++) {
        copy_state(&t, &c->s[i]);
        run(c, &t, text, 0, &k);
    }
    if (!k.n) return -1;
    state *sw = c->s;
    c->s = c->tmp;
    c->tmp = sw;
    c->ns = k.n;
    return 0;
}

int rl_jsonc_allowed(void *user, unsigned char *mask) {
    rl_jsonc *c = user;
    if (rl_jsonc_done(c)) return 0;      /* nothing more: the answer ends */
    state t;
    for (int i = 0; i < c->vt->vocab; i++) {
        const char *x = c->vt->text[i];
        if (!x) continue;
        for (int k = 0; k < c->ns && !mask[i]; k++) {
            copy_state(&t, &c->s[k]);
            mask[i] = (unsigned char)run(c, &t, x, 0, NULL);
        }
    }
    return 0;
}

int rl_jsonc_accept(void *user, int32_t id) {
    rl_jsonc *c = user;
    if (id < 0 || id >= c->vt->vocab || !c->vt->text[id]) return -1;
    return rl_jsonc_feed(c, c->vt->text[id]);
}
