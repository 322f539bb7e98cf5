/* tokenizer.json decoders (HF decode_chain semantics on a list of token strings): ByteLevel,
 * Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder, CTC and Sequence. */
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_cleanup.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

enum { D_BYTELEVEL = 1, D_METASPACE, D_BYTEFALLBACK, D_FUSE, D_STRIP, D_REPLACE, D_WORDPIECE, D_BPE, D_CTC, D_SEQ };

struct rl_tkdec {
    int type;
    int32_t ch; int start, stop;      /* Strip (ch), Metaspace (ch = replacement) */
    int prepend;                      /* Metaspace: prepend_scheme != never */
    rl_pattern pat; char *content;    /* Replace */
    char *prefix; int cleanup;        /* WordPiece prefix, BPEDecoder suffix, CTC pad; cleanup flags */
    char *delim;                      /* CTC word delimiter */
    rl_tkdec **subs; size_t nsubs;
};

void rl_tkdec_free(rl_tkdec *d) {
    if (!d) return;
    for (size_t i = 0; i < d->nsubs; i++) rl_tkdec_free(d->subs[i]);
    free(d->subs);
    rl_tkpat_free(&d->pat);
    free(d->content); free(d->prefix); free(d->delim);
    free(d);
}

static int dupkey(const cJSON *j, const char *key, const char *dflt, char **out) {
    const char *s = rl_tj_str(j, key);
    if (!s) s = dflt;
    size_t n = strlen(s);
    if (!(*out = malloc(n + 1))) return rl_err("tokenizer: out of memory");
    memcpy(*out, s, n + 1);
    return 0;
}

static int first_cp(const char *s, int32_t *cp) {
    if (!s || !*s) return -1;
    rl_tku8_dec(s, strlen(s), cp);
    return 0;
}

int rl_tkdec_parse(const cJSON *j, rl_tkdec **out) {
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = rl_tj_str(j, "type");
    if (!type) return rl_err("decoder: missing \"type\"");
    rl_tkdec *d = calloc(1, sizeof *d);
    if (!d) return rl_err("tokenizer: out of memory");
    int st = 0;
    if (!strcmp(type, "ByteLevel")) d->type = D_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) d->type = D_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) d->type = D_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        d->type = D_METASPACE;
        const char *r = rl_tj_str(j, "replacement");
        if (first_cp(r ? r : "\xE2\x96\x81", &d->ch)) st = rl_err("decoder Metaspace: bad replacement");
        const char *ps = rl_tj_str(j, "prepend_scheme");
        d->prepend = ps ? strcmp(ps, "never") != 0 : rl_tj_bool(j, "add_prefix_space", 1);
    } else if (!strcmp(type, "Strip")) {
        d->type = D_STRIP;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "start"), *e = cJSON_GetObjectItemCaseSensitive(j, "stop");
        d->start = cJSON_IsNumber(s) ? s->valueint : 0;
        d->stop = cJSON_IsNumber(e) ? e->valueint : 0;
        if (first_cp(rl_tj_str(j, "content"), &d->ch)) st = rl_err("decoder Strip: missing \"content\"");
    } else if (!strcmp(type, "Replace")) {
        d->type = D_REPLACE;
        if (!rl_tj_str(j, "content")) st = rl_err("decoder Replace: missing \"content\"");
        else st = dupkey(j, "content", "", &d->content) ||
                  rl_tkpat_parse(cJSON_GetObjectItemCaseSensitive(j, "pattern"), &d->pat, "decoder Replace");
    } else if (!strcmp(type, "WordPiece")) {
        d->type = D_WORDPIECE;
        st = dupkey(j, "prefix", "##", &d->prefix);
        d->cleanup = rl_tj_bool(j, "cleanup", 1);
    } else if (!strcmp(type, "BPEDecoder")) {
        d->type = D_BPE;
        st = dupkey(j, "suffix", "</w>", &d->prefix);
    } else if (!strcmp(type, "CTC")) {
        d->type = D_CTC;
        st = dupkey(j, "pad_token", "<pad>", &d->prefix) || dupkey(j, "word_delimiter_token", "|", &d->delim);
        d->cleanup = rl_tj_bool(j, "cleanup", 1);
    } else if (!strcmp(type, "Sequence")) {
        d->type = D_SEQ;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "decoders"), *e;
        if (!cJSON_IsArray(arr)) st = rl_err("decoder Sequence: missing \"decoders\"");
        else if (!(d->subs = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *d->subs))) st = rl_err("tokenizer: out of memory");
        else cJSON_ArrayForEach(e, arr) {
            rl_tkdec *sub;
            if ((st = rl_tkdec_parse(e, &sub))) break;
            if (sub) d->subs[d->nsubs++] = sub;
        }
    } else st = rl_err("decoder: unsupported type \"%s\"", type);
    if (st) { rl_tkdec_free(d); return -1; }
    *out = d;
    return 0;
}

#define TOK(l, i) ((l)->text.p + (l)->se.v[2 * (i)])
#define TLEN(l, i) ((l)->se.v[2 * (i) + 1])
#define NTOK(l) ((l)->se.n / 2)

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int flush_bytes(rl_strlist *o, rl_buf *bytes, size_t cnt) {
    if (!cnt) return 0;
    int st = 0;
    if (rl_tku8_valid(bytes->p, bytes->n, NULL)) st = rl_tkstr_push(o, bytes->p, bytes->n);
    else for (size_t k = 0; k < cnt && !st; k++) st = rl_tkstr_push(o, "\xEF\xBF\xBD", 3);
    bytes->n = 0;
    return st;
}

static int apply_one(const rl_tkdec *d, const rl_strlist *in, rl_strlist *o) {
    size_t n = NTOK(in);
    rl_buf b = {0};
    int st = 0;
    switch (d->type) {
    case D_BYTELEVEL: {
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i), mark = b.n;
            for (size_t j = 0; j < len && !st;) {
                int32_t cp; size_t k = rl_tku8_dec(s + j, len - j, &cp);
                int by = rl_tk_bytelevel_byte(cp);
                if (by < 0) { b.n = mark; st = rl_tkbuf_put(&b, s, len); break; }
                char c = (char)by;
                st = rl_tkbuf_put(&b, &c, 1);
                j += k;
            }
        }
        rl_buf t = {0};
        if (!st) st = rl_tku8_lossy(&t, b.p ? b.p : "", b.n) || rl_tkstr_push(o, t.p ? t.p : "", t.n);
        rl_tkbuf_free(&t);
        break;
    }
    case D_BYTEFALLBACK: {
        size_t cnt = 0;
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i);
            int h1, h2;
            if (len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && (h1 = hexv(s[3])) >= 0 && (h2 = hexv(s[4])) >= 0) {
                char c = (char)(h1 * 16 + h2);
                st = rl_tkbuf_put(&b, &c, 1);
                cnt++;
                continue;
            }
            st = flush_bytes(o, &b, cnt) || rl_tkstr_push(o, s, len);
            cnt = 0;
        }
        if (!st) st = flush_bytes(o, &b, cnt);
        break;
    }
    case D_FUSE:
        for (size_t i = 0; i < n && !st; i++) st = rl_tkbuf_put(&b, TOK(in, i), TLEN(in, i));
        if (!st) st = rl_tkstr_push(o, b.p ? b.p : "", b.n);
        break;
    case D_METASPACE:
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i);
            b.n = 0;
            for (size_t j = 0; j < len && !st;) {
                int32_t cp; size_t k = rl_tku8_dec(s + j, len - j, &cp);
                if (cp == d->ch) { if (!(i == 0 && d->prepend)) st = rl_tkbuf_put(&b, " ", 1); }
                else st = rl_tkbuf_put(&b, s + j, k);
                j += k;
            }
            if (!st) st = rl_tkstr_push(o, b.p ? b.p : "", b.n);
        }
        break;
    case D_STRIP:
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i), a = 0, e = len;
            for (int k = 0; k < d->start && a < e; k++) {
                int32_t cp; size_t l = rl_tku8_dec(s + a, e - a, &cp);
                if (cp != d->ch) break;
                a += l;
            }
            for (int k = 0; k < d->stop && e > a; k++) {
                size_t l = 1;
                while (l < e - a && ((unsigned char)s[e - l] & 0xC0) == 0x80) l++;
                int32_t cp; rl_tku8_dec(s + e - l, l, &cp);
                if (cp != d->ch) break;
                e -= l;
            }
            st = rl_tkstr_push(o, s + a, e - a);
        }
        break;
    case D_REPLACE: {
        rl_svec m = {0};
        size_t cl = strlen(d->content);
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i), prev = 0;
            m.n = 0; b.n = 0;
            st = rl_tkpat_find(&d->pat, s, len, &m);
            for (size_t k = 0; k + 1 < m.n && !st; k += 2) {
                st = rl_tkbuf_put(&b, s + prev, m.v[k] - prev) || rl_tkbuf_put(&b, d->content, cl);
                prev = m.v[k + 1];
            }
            if (!st) st = rl_tkbuf_put(&b, s + prev, len - prev) || rl_tkstr_push(o, b.p, b.n);
        }
        free(m.v);
        break;
    }
    case D_WORDPIECE: {
        size_t pl = strlen(d->prefix);
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i);
            b.n = 0;
            if (i != 0 && len >= pl && !memcmp(s, d->prefix, pl)) st = rl_tkbuf_put(&b, s + pl, len - pl);
            else if (i != 0) st = rl_tkbuf_put(&b, " ", 1) || rl_tkbuf_put(&b, s, len);
            else st = rl_tkbuf_put(&b, s, len);
            if (!st && d->cleanup) st = rl_tk_cleanup_wordpiece(&b);
            if (!st) st = rl_tkstr_push(o, b.p ? b.p : "", b.n);
        }
        break;
    }
    case D_BPE: {
        rl_pattern lit = {d->prefix, strlen(d->prefix), NULL};
        rl_svec m = {0};
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i), prev = 0;
            const char *rep = i + 1 == n ? "" : " ";
            m.n = 0; b.n = 0;
            st = rl_tkpat_find(&lit, s, len, &m);
            for (size_t k = 0; k + 1 < m.n && !st; k += 2) {
                st = rl_tkbuf_put(&b, s + prev, m.v[k] - prev) || rl_tkbuf_put(&b, rep, strlen(rep));
                prev = m.v[k + 1];
            }
            if (!st) st = rl_tkbuf_put(&b, s + prev, len - prev) || rl_tkstr_push(o, b.p, b.n);
        }
        free(m.v);
        break;
    }
    case D_CTC: {
        size_t pl = strlen(d->prefix), dl = strlen(d->delim);
        for (size_t i = 0; i < n && !st; i++) {
            const char *s = TOK(in, i); size_t len = TLEN(in, i);
            if (i > 0 && len == TLEN(in, i - 1) && !memcmp(s, TOK(in, i - 1), len)) continue;   /* dedup */
            if (len == pl && !memcmp(s, d->prefix, pl)) continue;
            b.n = 0;
            if (len == dl && !memcmp(s, d->delim, dl)) st = rl_tkbuf_put(&b, " ", 1);
            else st = rl_tkbuf_put(&b, s, len);
            if (!st && d->cleanup) st = rl_tk_cleanup_wordpiece(&b);
            if (!st) st = rl_tkstr_push(o, b.p ? b.p : "", b.n);
        }
        break;
    }
    default:
        st = rl_err("decoder: bad type");
    }
    rl_tkbuf_free(&b);
    return st ? -1 : 0;
}

int rl_tkdec_apply(const rl_tkdec *d, rl_strlist *l) {
    if (d->type == D_SEQ) {
        for (size_t i = 0; i < d->nsubs; i++) if (rl_tkdec_apply(d->subs[i], l)) return -1;
        return 0;
    }
    rl_strlist o = {0};
    if (apply_one(d, l, &o)) { rl_tkstr_free(&o); return -1; }
    rl_tkstr_free(l);
    *l = o;
    return 0;
}
