/* The JSON output constraint of jsonc.h: schema -> node tree, a copyable automaton state (a
 * stack of frames), and the per-token mask. */
#include "server/jsonc.h"
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

void rl_vocab_text_free(rl_vocab_text *v) {
    if (!v) return;
    for (int i = 0; v->text && i < v->vocab; i++) free(v->text[i]);
    free(v->text);
    free(v);
}

/* ---- schema nodes ---- */

enum { T_ANY, T_OBJ, T_ARR, T_STR, T_NUM, T_INT, T_LITS };

typedef struct node node;
struct node {
    int type;
    int n;             /* T_OBJ: properties (-1: any members); T_LITS: candidates */
    char **keys;       /* T_OBJ: "\"name\"" ; T_LITS: the JSON texts */
    node **props;      /* T_OBJ */
    node *items;       /* T_ARR (NULL: any) */
    node *next_free;   /* every node, for freeing */
};

#define MAX_DEPTH 48
#define MAX_LITS 64
#define MAX_WS 8

enum { F_VAL, F_OBJ, F_ARR, F_STR, F_NUM, F_LIT };

typedef struct {
    uint8_t kind, st, integer;
    int16_t n;         /* object: next property index / members; literal: position */
    const node *nd;
    uint64_t alive;    /* literal candidates still possible */
} frame;

typedef struct {
    int sp;            /* frames in use; 0 with done = the value is complete */
    int done, ws;
    frame f[MAX_DEPTH];
} state;

struct rl_jsonc {
    node *all;
    node *root;
    const rl_vocab_text *vt;
    state s;
};

static node *new_node(rl_jsonc *c, int type) {
    node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->type = type;
    n->next_free = c->all;
    c->all = n;
    return n;
}

static const node ANY_LITS_TFN;   /* marker, unused */

static node *compile(rl_jsonc *c, const cJSON *s, int depth, char *err, size_t errsz) {
    if (depth > MAX_DEPTH - 4) { snprintf(err, errsz, "the schema is nested too deeply"); return NULL; }
    if (!cJSON_IsObject(s)) return new_node(c, T_ANY);
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum"), *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsArray(en) || cn) {
        int k = cn ? 1 : cJSON_GetArraySize(en);
        if (k < 1 || k > MAX_LITS) { snprintf(err, errsz, "'enum' needs 1 to %d values", MAX_LITS); return NULL; }
        node *n = new_node(c, T_LITS);
        if (!n || !(n->keys = calloc((size_t)k, sizeof *n->keys))) return NULL;
        for (int i = 0; i < k; i++) {
            if (!(n->keys[i] = cJSON_PrintUnformatted(cn ? cn : cJSON_GetArrayItem(en, i)))) return NULL;
            n->n++;
        }
        return n;
    }
    const char *t = cJSON_IsString(ty) ? ty->valuestring : NULL;
    if (!t) return new_node(c, T_ANY);
    if (!strcmp(t, "string")) return new_node(c, T_STR);
    if (!strcmp(t, "number")) return new_node(c, T_NUM);
    if (!strcmp(t, "integer")) return new_node(c, T_INT);
    if (!strcmp(t, "boolean") || !strcmp(t, "null")) {
        node *n = new_node(c, T_LITS);
        int b = !strcmp(t, "boolean");
        if (!n || !(n->keys = calloc(2, sizeof *n->keys))) return NULL;
        n->keys[0] = strdup(b ? "true" : "null");
        if (b) n->keys[1] = strdup("false");
        n->n = b ? 2 : 1;
        if (!n->keys[0] || (b && !n->keys[1])) return NULL;
        return n;
    }
    if (!strcmp(t, "array")) {
        node *n = new_node(c, T_ARR);
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, "items");
        if (n && cJSON_IsObject(it) && !(n->items = compile(c, it, depth + 1, err, errsz))) return NULL;
        return n;
    }
    if (!strcmp(t, "object")) {
        node *n = new_node(c, T_OBJ);
        if (!n) return NULL;
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(s, "properties"), *p;
        if (!cJSON_IsObject(pr) || !cJSON_GetArraySize(pr)) { n->n = -1; return n; }
        int k = cJSON_GetArraySize(pr);
        n->keys = calloc((size_t)k, sizeof *n->keys);
        n->props = calloc((size_t)k, sizeof *n->props);
        if (!n->keys || !n->props) return NULL;
        cJSON_ArrayForEach(p, pr) {
            cJSON *ks = cJSON_CreateString(p->string);
            n->keys[n->n] = ks ? cJSON_PrintUnformatted(ks) : NULL;
            cJSON_Delete(ks);
            if (!n->keys[n->n] || !(n->props[n->n] = compile(c, p, depth + 1, err, errsz))) { if (n->keys[n->n]) n->n++; return NULL; }
            n->n++;
        }
        return n;
    }
    snprintf(err, errsz, "unsupported schema type '%.40s'", t);
    return NULL;
}

static void free_nodes(node *n) {
    while (n) {
        node *nx = n->next_free;
        if (n->keys) for (int i = 0; i < (n->n > 0 ? n->n : 0); i++) free(n->keys[i]);
        free(n->keys); free(n->props);
        free(n);
        n = nx;
    }
}

/* ---- the automaton ---- */

static const char *const TFN[] = {"true", "false", "null"};

static int push(state *s, int kind, const node *nd) {
    if (s->sp == MAX_DEPTH) return -1;
    s->f[s->sp++] = (frame){.kind = (uint8_t)kind, .nd = nd};
    return 0;
}

static int is_ws(int ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r'; }

/* A literal frame's candidate i text. */
static const char *lit(const frame *f, int i) { return f->nd ? f->nd->keys[i] : TFN[i]; }
static int lit_count(const frame *f) { return f->nd ? f->nd->n : 3; }

/* A value is complete: pop it and advance the parent. */
static void value_done(state *s) {
    s->sp--;
    if (!s->sp) { s->done = 1; return; }
    frame *p = &s->f[s->sp - 1];
    if (p->kind == F_OBJ) p->st = p->st == 1 ? 2 : 4;    /* key read -> ':'; value read -> ',' or '}' */
    else if (p->kind == F_ARR) p->st = 4;
    else if (p->kind == F_VAL) value_done(s);             /* a VAL frame wraps one value */
}

/* Starts a value of node nd at character ch (replacing the F_VAL frame on top). 0 / -1. */
static int start_value(state *s, const node *nd, int ch) {
    frame *f = &s->f[s->sp - 1];
    int t = nd ? nd->type : T_ANY;
    if (t == T_LITS) {
        *f = (frame){.kind = F_LIT, .nd = nd, .alive = nd->n >= 64 ? ~0ull : (1ull << nd->n) - 1};
    } else if (ch == '{' && (t == T_ANY || t == T_OBJ)) {
        *f = (frame){.kind = F_OBJ, .nd = t == T_OBJ && nd->n >= 0 ? nd : NULL};
        return 0;
    } else if (ch == '[' && (t == T_ANY || t == T_ARR)) {
        *f = (frame){.kind = F_ARR, .nd = t == T_ARR ? nd->items : NULL};
        return 0;
    } else if (ch == '"' && (t == T_ANY || t == T_STR)) {
        *f = (frame){.kind = F_STR};
        return 0;
    } else if ((ch == '-' || (ch >= '0' && ch <= '9')) && (t == T_ANY || t == T_NUM || t == T_INT)) {
        *f = (frame){.kind = F_NUM, .integer = t == T_INT};
    } else if (t == T_ANY && (ch == 't' || ch == 'f' || ch == 'n')) {
        *f = (frame){.kind = F_LIT, .nd = NULL, .alive = 7};
    } else {
        return -1;
    }
    return -2;   /* the character itself still has to go through the new frame */
}

static int feed(state *s, int ch);

/* Number substates: 0 after '-', 1 after leading 0, 2 in integer digits, 3 after '.', 4 in
 * fraction, 5 after e, 6 after e sign, 7 in exponent. Complete in 1, 2, 4, 7. */
static int feed_num(state *s, frame *f, int ch) {
    int d = ch >= '0' && ch <= '9';
    switch (f->st) {
    case 255: if (ch == '-') { f->st = 0; return 0; } if (ch == '0') { f->st = 1; return 0; } if (d) { f->st = 2; return 0; } return -1;
    case 0: if (ch == '0') { f->st = 1; return 0; } if (d) { f->st = 2; return 0; } return -1;
    case 1: case 2:
        if (d && f->st == 2) return 0;
        if (ch == '.' && !f->integer) { f->st = 3; return 0; }
        if ((ch == 'e' || ch == 'E') && !f->integer) { f->st = 5; return 0; }
        break;
    case 3: if (d) { f->st = 4; return 0; } return -1;
    case 4: if (d) return 0; if (ch == 'e' || ch == 'E') { f->st = 5; return 0; } break;
    case 5: if (ch == '+' || ch == '-') { f->st = 6; return 0; } if (d) { f->st = 7; return 0; } return -1;
    case 6: if (d) { f->st = 7; return 0; } return -1;
    case 7: if (d) return 0; break;
    default: return -1;
    }
    if (f->st != 1 && f->st != 2 && f->st != 4 && f->st != 7) return -1;
    value_done(s);                       /* the number ended before ch */
    if (s->done) return -1;              /* a top-level number: nothing may follow */
    return feed(s, ch);
}

static int feed(state *s, int ch) {
    if (s->done || !s->sp) return -1;
    frame *f = &s->f[s->sp - 1];
    int ws = is_ws(ch);
    if (f->kind != F_STR && f->kind != F_LIT && f->kind != F_NUM) {
        if (ws) { if (s->ws >= MAX_WS) return -1; s->ws++; return 0; }
        s->ws = 0;
    }
    switch (f->kind) {
    case F_VAL: {
        int r = start_value(s, f->nd, ch);
        if (r == -1) return -1;
        if (r == -2) {
            frame *g = &s->f[s->sp - 1];
            if (g->kind == F_NUM) { g->st = 255; return feed_num(s, g, ch); }
            return feed(s, ch);
        }
        return 0;
    }
    case F_OBJ:
        if (!f->nd) {                     /* any members */
            if ((f->st == 0 || f->st == 4) && ch == '}') { value_done(s); return 0; }
            if ((f->st == 0 || f->st == 5) && ch == '"') { f->st = 1; return push(s, F_STR, NULL); }
            if (f->st == 2 && ch == ':') { f->st = 3; return push(s, F_VAL, NULL); }
            if (f->st == 4 && ch == ',') { f->st = 5; return 0; }
            return -1;
        }
        if (f->st == 0 || f->st == 5) {   /* the next property's key, or the end */
            if (f->n >= f->nd->n) { if (f->st == 0 && ch == '}') { value_done(s); return 0; } return -1; }
            f->st = 1;
            if (push(s, F_LIT, NULL)) return -1;
            frame *k = &s->f[s->sp - 1];
            k->nd = NULL;
            k->alive = 1;
            k->st = 1;                    /* st 1: a key literal, text f->nd->keys[f->n] */
            return feed(s, ch);
        }
        if (f->st == 2 && ch == ':') { f->st = 3; return push(s, F_VAL, f->nd->props[f->n]); }
        if (f->st == 4) {
            f->n++;
            if (ch == ',' && f->n < f->nd->n) { f->st = 5; return 0; }
            if (ch == '}' && f->n >= f->nd->n) { value_done(s); return 0; }
            f->n--;
            return -1;
        }
        return -1;
    case F_ARR:
        if (f->st == 0 && ch == ']') { value_done(s); return 0; }
        if (f->st == 4 && ch == ']') { value_done(s); return 0; }
        if (f->st == 4 && ch == ',') { f->st = 5; return 0; }
        if (f->st == 0 || f->st == 5) {
            f->st = 6;
            if (push(s, F_VAL, f->nd)) return -1;
            return feed(s, ch);
        }
        return -1;
    case F_STR:
        if (f->st == 0) {
            if (ch == '"') { value_done(s); return 0; }
            if (ch == '\\') { f->st = 1; return 0; }
            return (unsigned char)ch < 0x20 ? -1 : 0;
        }
        if (f->st == 1) {
            if (ch == 'u') { f->st = 2; return 0; }
            if (strchr("\"\\/bfnrt", ch) && ch) { f->st = 0; return 0; }
            return -1;
        }
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')) { f->st = f->st == 5 ? 0 : f->st + 1; return 0; }
        return -1;
    case F_NUM:
        return feed_num(s, f, ch);
    case F_LIT: {
        const char *key = NULL;
        if (f->st == 1) {                 /* an object key: the parent's next property */
            const frame *p = &s->f[s->sp - 2];
            key = p->nd->keys[p->n];
            if (key[f->n] == ch) {
                f->n++;
                if (!key[f->n]) value_done(s);
                return 0;
            }
            return -1;
        }
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
            int all_end = 1;             /* finished when no candidate is longer */
            for (int i = 0; i < lit_count(f) && i < 64; i++)
                if ((alive >> i & 1) && (int)strlen(lit(f, i)) > f->n) all_end = 0;
            if (all_end) value_done(s);
            return 0;
        }
        if (ended) { value_done(s); if (s->done) return -1; return feed(s, ch); }
        return -1;
    }
    }
    return -1;
}

rl_jsonc *rl_jsonc_new(const cJSON *schema, const rl_vocab_text *vt, char *err, size_t errsz) {
    rl_jsonc *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, errsz, "out of memory"); return NULL; }
    c->vt = vt;
    err[0] = 0;
    if (schema) c->root = compile(c, schema, 0, err, errsz);
    else if ((c->root = new_node(c, T_OBJ))) c->root->n = -1;
    if (!c->root) {
        if (!err[0]) snprintf(err, errsz, "out of memory");
        rl_jsonc_free(c);
        return NULL;
    }
    (void)ANY_LITS_TFN;
    push(&c->s, F_VAL, c->root);
    return c;
}

void rl_jsonc_free(rl_jsonc *c) {
    if (!c) return;
    free_nodes(c->all);
    free(c);
}

int rl_jsonc_done(const rl_jsonc *c) { return c->s.done; }

int rl_jsonc_feed(rl_jsonc *c, const char *text) {
    for (const char *p = text; *p; p++) if (feed(&c->s, (unsigned char)*p)) return -1;
    return 0;
}

int rl_jsonc_allowed(void *user, unsigned char *mask) {
    rl_jsonc *c = user;
    if (c->s.done) return 0;             /* nothing more: the answer ends */
    state t;
    size_t hdr = offsetof(state, f);
    for (int i = 0; i < c->vt->vocab; i++) {
        const char *x = c->vt->text[i];
        if (!x) continue;
        memcpy(&t, &c->s, hdr + (size_t)c->s.sp * sizeof(frame));
        const char *p = x;
        while (*p && !feed(&t, (unsigned char)*p)) p++;
        mask[i] = !*p;
    }
    return 0;
}

int rl_jsonc_accept(void *user, int32_t id) {
    rl_jsonc *c = user;
    if (id < 0 || id >= c->vt->vocab || !c->vt->text[id]) return -1;
    return rl_jsonc_feed(c, c->vt->text[id]);
}
