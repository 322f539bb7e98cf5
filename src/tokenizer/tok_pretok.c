/* tokenizer.json pre-tokenizers: Split (string/regex, all behaviors, invert), ByteLevel,
 * Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer,
 * CharDelimiterSplit and Sequence. Pieces live in an arena; splitting creates sub-ranges. */
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { P_SPLIT = 1, P_BYTELEVEL, P_METASPACE, P_DIGITS, P_PUNCT, P_WS, P_WSSPLIT, P_BERT, P_CHARDELIM, P_SEQ };
enum { B_REMOVED = 1, B_ISOLATED, B_MPREV, B_MNEXT, B_CONTIG };

struct rl_pretok {
    int type;
    rl_pattern pat; int behavior, invert;     /* Split, Punctuation (behavior) */
    int add_prefix_space, use_regex;          /* ByteLevel */
    rl_regex *re;                             /* ByteLevel GPT-2 regex, Whitespace */
    char bl[256][3]; unsigned char bllen[256];/* ByteLevel byte -> UTF-8 */
    char repl[5]; size_t repln; int prepend, split; /* Metaspace: prepend 0 never,1 first,2 always */
    int individual;                           /* Digits */
    int32_t delim;                            /* CharDelimiterSplit */
    rl_pretok **subs; size_t nsubs;
};

static const char GPT2_RE[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WS_RE[] = "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]+|[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\s]+";

void rl_pretok_free(rl_pretok *pt) {
    if (!pt) return;
    for (size_t i = 0; i < pt->nsubs; i++) rl_pretok_free(pt->subs[i]);
    free(pt->subs);
    rl_tkpat_free(&pt->pat);
    rl_tkre_free(pt->re);
    free(pt);
}

static int parse_behavior(const cJSON *j, int dflt, int *out) {
    const char *b = rl_tj_str(j, "behavior");
    if (!b) { *out = dflt; return 0; }
    if (!strcmp(b, "Removed")) *out = B_REMOVED;
    else if (!strcmp(b, "Isolated")) *out = B_ISOLATED;
    else if (!strcmp(b, "MergedWithPrevious")) *out = B_MPREV;
    else if (!strcmp(b, "MergedWithNext")) *out = B_MNEXT;
    else if (!strcmp(b, "Contiguous")) *out = B_CONTIG;
    else return rl_err("pre_tokenizer: unknown split behavior \"%s\"", b);
    return 0;
}

int rl_pretok_parse(const cJSON *j, rl_pretok **out) {
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = rl_tj_str(j, "type");
    if (!type) return rl_err("pre_tokenizer: missing \"type\"");
    rl_pretok *pt = calloc(1, sizeof *pt);
    if (!pt) return rl_err("tokenizer: out of memory");
    int st = 0;
    if (!strcmp(type, "Split")) {
        pt->type = P_SPLIT;
        pt->invert = rl_tj_bool(j, "invert", 0);
        st = rl_tkpat_parse(cJSON_GetObjectItemCaseSensitive(j, "pattern"), &pt->pat, "pre_tokenizer Split");
        if (!st) st = parse_behavior(j, B_ISOLATED, &pt->behavior);
    } else if (!strcmp(type, "ByteLevel")) {
        pt->type = P_BYTELEVEL;
        pt->add_prefix_space = rl_tj_bool(j, "add_prefix_space", 1);
        pt->use_regex = rl_tj_bool(j, "use_regex", 1);
        if (pt->use_regex && !(pt->re = rl_tkre_new(GPT2_RE, strlen(GPT2_RE)))) st = -1;
        for (int b = 0; b < 256; b++) pt->bllen[b] = (unsigned char)rl_tku8_enc(rl_tk_bytelevel_cp((unsigned char)b), pt->bl[b]);
    } else if (!strcmp(type, "Metaspace")) {
        pt->type = P_METASPACE;
        const char *r = rl_tj_str(j, "replacement");
        if (!r) r = "\xE2\x96\x81";
        pt->repln = strlen(r);
        if (pt->repln == 0 || pt->repln > 4) st = rl_err("pre_tokenizer Metaspace: replacement must be one character");
        else memcpy(pt->repl, r, pt->repln);
        const char *ps = rl_tj_str(j, "prepend_scheme");
        if (ps) pt->prepend = !strcmp(ps, "never") ? 0 : !strcmp(ps, "first") ? 1 : 2;
        else pt->prepend = rl_tj_bool(j, "add_prefix_space", 1) ? 2 : 0;
        pt->split = rl_tj_bool(j, "split", 1);
    } else if (!strcmp(type, "Digits")) {
        pt->type = P_DIGITS;
        pt->individual = rl_tj_bool(j, "individual_digits", 0);
    } else if (!strcmp(type, "Punctuation")) {
        pt->type = P_PUNCT;
        st = parse_behavior(j, B_ISOLATED, &pt->behavior);
    } else if (!strcmp(type, "Whitespace")) {
        pt->type = P_WS;
        if (!(pt->re = rl_tkre_new(WS_RE, strlen(WS_RE)))) st = -1;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        pt->type = P_WSSPLIT;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        pt->type = P_BERT;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        pt->type = P_CHARDELIM;
        const char *d = rl_tj_str(j, "delimiter");
        if (!d || !*d) st = rl_err("pre_tokenizer CharDelimiterSplit: missing \"delimiter\"");
        else rl_tku8_dec(d, strlen(d), &pt->delim);
    } else if (!strcmp(type, "Sequence")) {
        pt->type = P_SEQ;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr)) st = rl_err("pre_tokenizer Sequence: missing \"pretokenizers\"");
        else if (!(pt->subs = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *pt->subs))) st = rl_err("tokenizer: out of memory");
        else {
            const cJSON *e;
            cJSON_ArrayForEach(e, arr) {
                rl_pretok *sub;
                if ((st = rl_pretok_parse(e, &sub))) break;
                if (sub) pt->subs[pt->nsubs++] = sub;
            }
        }
    } else {
        st = rl_err("pre_tokenizer: unsupported type \"%s\"", type);
    }
    if (st) { rl_pretok_free(pt); return -1; }
    *out = pt;
    return 0;
}

/* Emits the pieces of [0, n) of parent p given match ranges m (pairs) under a behavior. */
static int emit_split(const rl_piece *p, const rl_svec *m, int invert, int behavior, rl_pieces *out) {
    /* segments: (start, end, is_match) covering the piece */
    size_t prev = 0, nseg = 0;
    size_t cap = m->n / 2 * 2 + 2;
    size_t *seg = malloc(cap * 3 * sizeof *seg);
    if (!seg) return rl_err("tokenizer: out of memory");
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        if (m->v[i] > prev) { seg[3 * nseg] = prev; seg[3 * nseg + 1] = m->v[i]; seg[3 * nseg + 2] = invert; nseg++; }
        seg[3 * nseg] = m->v[i]; seg[3 * nseg + 1] = m->v[i + 1]; seg[3 * nseg + 2] = !invert; nseg++;
        prev = m->v[i + 1];
    }
    if (prev < p->len || nseg == 0) { seg[3 * nseg] = prev; seg[3 * nseg + 1] = p->len; seg[3 * nseg + 2] = invert; nseg++; }
    /* fold by behavior into (start, end) ranges */
    size_t nr = 0;
    size_t *r = seg;   /* in place: nr <= index being read */
    if (behavior == B_MNEXT) {
        /* walk backwards, merging a match into the following piece */
        int prev_match = 0;
        size_t w = nseg;  /* write from the end */
        for (size_t k = nseg; k-- > 0;) {
            size_t s = seg[3 * k], e = seg[3 * k + 1]; int mt = (int)seg[3 * k + 2];
            if (mt && !prev_match && w < nseg) seg[3 * w] = s;
            else { w--; seg[3 * w] = s; seg[3 * w + 1] = e; }
            prev_match = mt;
        }
        for (size_t k = w; k < nseg; k++) { r[2 * nr] = seg[3 * k]; r[2 * nr + 1] = seg[3 * k + 1]; nr++; }
    } else {
        int prev_match = 0;
        for (size_t k = 0; k < nseg; k++) {
            size_t s = seg[3 * k], e = seg[3 * k + 1]; int mt = (int)seg[3 * k + 2];
            if (behavior == B_REMOVED) { if (!mt) { r[2 * nr] = s; r[2 * nr + 1] = e; nr++; } }
            else if (behavior == B_ISOLATED) { r[2 * nr] = s; r[2 * nr + 1] = e; nr++; }
            else if (behavior == B_MPREV) {
                if (mt && !prev_match && nr) r[2 * nr - 1] = e;
                else { r[2 * nr] = s; r[2 * nr + 1] = e; nr++; }
            } else { /* contiguous */
                if (mt == prev_match && nr) r[2 * nr - 1] = e;
                else { r[2 * nr] = s; r[2 * nr + 1] = e; nr++; }
            }
            prev_match = mt;
        }
    }
    int st = 0;
    for (size_t k = 0; k < nr && !st; k++) {
        size_t s = r[2 * k], e = r[2 * k + 1];
        if (e > s) st = rl_tkpieces_push(out, p->off + s, e - s, -1, p->first && s == 0);
    }
    free(seg);
    return st;
}

enum { C_DIGIT = 1, C_PUNCT, C_SPACE, C_DELIM };

static int is_punct(int32_t c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
static int is_numeric(int32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* Char-predicate pattern: every matching char is one match. */
static int char_matches(const char *s, size_t n, int kind, int32_t delim, rl_svec *m) {
    for (size_t i = 0; i < n;) {
        int32_t cp; size_t k = rl_tku8_dec(s + i, n - i, &cp);
        int hit = kind == C_DIGIT ? is_numeric(cp) : kind == C_PUNCT ? is_punct(cp) : kind == C_SPACE ? rl_tk_is_space(cp) : cp == delim;
        if (hit && (rl_tksvec_push(m, i) || rl_tksvec_push(m, i + k))) return -1;
        i += k;
    }
    return 0;
}

static int bytelevel_map(const rl_pretok *pt, rl_buf *arena, const rl_piece *p, rl_pieces *out) {
    if (rl_tkbuf_reserve(arena, p->len * 2)) return -1;
    size_t off = arena->n;
    const unsigned char *s = (const unsigned char *)arena->p + p->off;
    char *d = arena->p + arena->n;
    for (size_t i = 0; i < p->len; i++) {
        unsigned char b = s[i];
        d[0] = pt->bl[b][0];
        if (pt->bllen[b] == 2) { d[1] = pt->bl[b][1]; d += 2; } else d++;
    }
    arena->n = (size_t)(d - arena->p);
    arena->p[arena->n] = 0;
    return rl_tkpieces_push(out, off, arena->n - off, -1, p->first);
}

static int apply_one(const rl_pretok *pt, rl_buf *arena, const rl_piece *p, rl_pieces *out, rl_svec *m) {
    m->n = 0;
    switch (pt->type) {
    case P_SPLIT:
        if (rl_tkpat_find(&pt->pat, arena->p + p->off, p->len, m)) return -1;
        return emit_split(p, m, pt->invert, pt->behavior, out);
    case P_DIGITS:
        if (char_matches(arena->p + p->off, p->len, C_DIGIT, 0, m)) return -1;
        return emit_split(p, m, 0, pt->individual ? B_ISOLATED : B_CONTIG, out);
    case P_PUNCT:
        if (char_matches(arena->p + p->off, p->len, C_PUNCT, 0, m)) return -1;
        return emit_split(p, m, 0, pt->behavior, out);
    case P_WSSPLIT:
        if (char_matches(arena->p + p->off, p->len, C_SPACE, 0, m)) return -1;
        return emit_split(p, m, 0, B_REMOVED, out);
    case P_CHARDELIM:
        if (char_matches(arena->p + p->off, p->len, C_DELIM, pt->delim, m)) return -1;
        return emit_split(p, m, 0, B_REMOVED, out);
    case P_WS:
        if (rl_tkre_find(pt->re, arena->p + p->off, p->len, m)) return -1;
        return emit_split(p, m, 1, B_REMOVED, out);
    case P_BERT: {
        rl_pieces tmp = {0};
        int st = char_matches(arena->p + p->off, p->len, C_SPACE, 0, m) || emit_split(p, m, 0, B_REMOVED, &tmp);
        for (size_t i = 0; i < tmp.n && !st; i++) {
            m->n = 0;
            st = char_matches(arena->p + tmp.v[i].off, tmp.v[i].len, C_PUNCT, 0, m) || emit_split(&tmp.v[i], m, 0, B_ISOLATED, out);
        }
        free(tmp.v);
        return st ? -1 : 0;
    }
    case P_BYTELEVEL: {
        rl_piece q = *p;
        if (pt->add_prefix_space && (q.len == 0 || arena->p[q.off] != ' ')) {
            size_t off = arena->n;
            if (rl_tkbuf_reserve(arena, q.len + 1)) return -1;
            arena->p[arena->n++] = ' ';
            memcpy(arena->p + arena->n, arena->p + q.off, q.len);
            arena->n += q.len;
            arena->p[arena->n] = 0;
            q.off = off; q.len++;
        }
        if (!pt->use_regex) return bytelevel_map(pt, arena, &q, out);
        rl_pieces tmp = {0};
        int st = rl_tkre_find(pt->re, arena->p + q.off, q.len, m) || emit_split(&q, m, 0, B_ISOLATED, &tmp);
        for (size_t i = 0; i < tmp.n && !st; i++) st = bytelevel_map(pt, arena, &tmp.v[i], out);
        free(tmp.v);
        return st ? -1 : 0;
    }
    case P_METASPACE: {
        /* replace ' ' by the replacement, prepend per scheme, then split before each replacement */
        size_t need = p->len * pt->repln + pt->repln;
        if (rl_tkbuf_reserve(arena, need)) return -1;
        size_t off = arena->n;
        const char *s = arena->p + p->off;
        char *d = arena->p + arena->n;
        int starts = p->len >= pt->repln && !memcmp(s, pt->repl, pt->repln);
        if (!starts && p->len && s[0] == ' ') starts = 1;
        if (!starts && (pt->prepend == 2 || (pt->prepend == 1 && p->first))) { memcpy(d, pt->repl, pt->repln); d += pt->repln; }
        for (size_t i = 0; i < p->len; i++) {
            if (s[i] == ' ') { memcpy(d, pt->repl, pt->repln); d += pt->repln; }
            else *d++ = s[i];
        }
        arena->n = (size_t)(d - arena->p);
        arena->p[arena->n] = 0;
        rl_piece q = {off, arena->n - off, -1, p->first};
        if (!pt->split) return rl_tkpieces_push(out, q.off, q.len, -1, q.first);
        rl_pattern lit = {(char *)pt->repl, pt->repln, NULL};
        if (rl_tkpat_find(&lit, arena->p + q.off, q.len, m)) return -1;
        return emit_split(&q, m, 0, B_MNEXT, out);
    }
    }
    return rl_err("pre_tokenizer: bad type");
}

int rl_pretok_apply(const rl_pretok *pt, rl_buf *arena, rl_pieces *pcs) {
    if (pt->type == P_SEQ) {
        for (size_t i = 0; i < pt->nsubs; i++)
            if (rl_pretok_apply(pt->subs[i], arena, pcs)) return -1;
        return 0;
    }
    rl_pieces out = {0};
    rl_svec m = {0};
    int st = 0;
    for (size_t i = 0; i < pcs->n && !st; i++) {
        const rl_piece *p = &pcs->v[i];
        if (p->id >= 0) st = rl_tkpieces_push(&out, p->off, p->len, p->id, p->first);
        else st = apply_one(pt, arena, p, &out, &m);
    }
    free(m.v);
    if (st) { free(out.v); return -1; }
    free(pcs->v);
    *pcs = out;
    return 0;
}
