/* Minimal JSON reader/writer for the tokenizer JSON-lines protocol (see tok_jsonl.h). */
#include "tokenizer/tok_jsonl.h"
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *s; size_t n, i; } cur;

static void ws(cur *c) { while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' || c->s[c->i] == '\n')) c->i++; }

static int hex4(cur *c, uint32_t *v) {
    if (c->i + 4 > c->n) return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char h = c->s[c->i++];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* Parses a string at c (must be at '"'); appends its bytes to out if non-NULL. */
static int str(cur *c, rl_buf *out) {
    if (c->i >= c->n || c->s[c->i] != '"') return rl_err("jsonl: expected a string at byte %zu", c->i);
    c->i++;
    while (c->i < c->n) {
        size_t st = c->i;
        while (c->i < c->n && c->s[c->i] != '"' && c->s[c->i] != '\\') c->i++;
        if (out && rl_tkbuf_put(out, c->s + st, c->i - st)) return -1;
        if (c->i >= c->n) break;
        if (c->s[c->i] == '"') { c->i++; return 0; }
        c->i++;
        if (c->i >= c->n) break;
        char e = c->s[c->i++], o = 0;
        switch (e) {
        case '"': o = '"'; break; case '\\': o = '\\'; break; case '/': o = '/'; break;
        case 'b': o = '\b'; break; case 'f': o = '\f'; break; case 'n': o = '\n'; break;
        case 'r': o = '\r'; break; case 't': o = '\t'; break;
        case 'u': {
            uint32_t v, w;
            if (hex4(c, &v)) return rl_err("jsonl: bad \\u escape");
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (c->i + 6 <= c->n && c->s[c->i] == '\\' && c->s[c->i + 1] == 'u') {
                    c->i += 2;
                    if (hex4(c, &w) || w < 0xDC00 || w > 0xDFFF) return rl_err("jsonl: unpaired surrogate in \\u escape");
                    v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
                } else return rl_err("jsonl: unpaired surrogate in \\u escape");
            } else if (v >= 0xDC00 && v <= 0xDFFF) return rl_err("jsonl: unpaired surrogate in \\u escape");
            char t[4];
            if (out && rl_tkbuf_put(out, t, rl_tku8_enc((int32_t)v, t))) return -1;
            continue;
        }
        default: return rl_err("jsonl: bad escape \\%c", e);
        }
        if (out && rl_tkbuf_put(out, &o, 1)) return -1;
    }
    return rl_err("jsonl: unterminated string");
}

static int skip_value(cur *c, int depth);

static int lit(cur *c, const char *w) {
    size_t l = strlen(w);
    if (c->i + l > c->n || memcmp(c->s + c->i, w, l)) return -1;
    c->i += l;
    return 0;
}

static int number(cur *c, double *v) {
    char *end;
    char tmp[64];
    size_t l = 0;
    while (c->i + l < c->n && l < 63 && strchr("+-0123456789.eE", c->s[c->i + l])) l++;
    if (!l) return rl_err("jsonl: bad value at byte %zu", c->i);
    memcpy(tmp, c->s + c->i, l); tmp[l] = 0;
    *v = strtod(tmp, &end);
    if (end != tmp + l) return rl_err("jsonl: bad number at byte %zu", c->i);
    c->i += l;
    return 0;
}

static int skip_value(cur *c, int depth) {
    if (depth > 64) return rl_err("jsonl: nesting too deep");
    ws(c);
    if (c->i >= c->n) return rl_err("jsonl: unexpected end of line");
    char ch = c->s[c->i];
    if (ch == '"') return str(c, NULL);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->i++; ws(c);
        if (c->i < c->n && c->s[c->i] == close) { c->i++; return 0; }
        for (;;) {
            if (ch == '{') { ws(c); if (str(c, NULL)) return -1; ws(c); if (c->i >= c->n || c->s[c->i++] != ':') return rl_err("jsonl: expected ':'"); }
            if (skip_value(c, depth + 1)) return -1;
            ws(c);
            if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
            if (c->i < c->n && c->s[c->i] == close) { c->i++; return 0; }
            return rl_err("jsonl: expected ',' or '%c' at byte %zu", close, c->i);
        }
    }
    if (!lit(c, "true") || !lit(c, "false") || !lit(c, "null")) return 0;
    double v;
    return number(c, &v);
}

static int boolean(cur *c, int *out) {
    ws(c);
    if (!lit(c, "true")) { *out = 1; return 0; }
    if (!lit(c, "false")) { *out = 0; return 0; }
    return rl_err("jsonl: expected true or false at byte %zu", c->i);
}

static int ids(cur *c, rl_jsonl_req *r) {
    ws(c);
    if (c->i >= c->n || c->s[c->i] != '[') return rl_err("jsonl: \"ids\" must be an array");
    c->i++;
    rl_ivec v = {0};
    ws(c);
    if (c->i < c->n && c->s[c->i] == ']') c->i++;
    else for (;;) {
        double d;
        ws(c);
        if (number(c, &d)) { free(v.v); return -1; }
        if (d != (double)(int64_t)d || d < -2147483648.0 || d > 2147483647.0) { free(v.v); return rl_err("jsonl: token id %g is not a 32-bit integer", d); }
        if (rl_tkivec_push(&v, (int32_t)d)) { free(v.v); return -1; }
        ws(c);
        if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
        if (c->i < c->n && c->s[c->i] == ']') { c->i++; break; }
        free(v.v);
        return rl_err("jsonl: expected ',' or ']' in \"ids\"");
    }
    free(r->ids);
    r->ids = v.v ? v.v : malloc(sizeof *r->ids);
    r->n_ids = v.n; r->has_ids = 1;
    return r->ids ? 0 : rl_err("tokenizer: out of memory");
}

int rl_jsonl_parse(const char *s, size_t n, rl_jsonl_req *r) {
    memset(r, 0, sizeof *r);
    r->add_special = r->skip_special = -1;
    cur c = {s, n, 0};
    rl_buf key = {0}, text = {0};
    ws(&c);
    if (c.i >= n || s[c.i] != '{') return rl_err("jsonl: expected a JSON object");
    c.i++; ws(&c);
    int st = 0;
    if (c.i < n && s[c.i] == '}') c.i++;
    else for (;;) {
        ws(&c);
        key.n = 0;
        if ((st = str(&c, &key))) break;
        ws(&c);
        if (c.i >= n || s[c.i++] != ':') { st = rl_err("jsonl: expected ':'"); break; }
        ws(&c);
        if (key.n == 4 && !memcmp(key.p, "text", 4)) {
            text.n = 0;
            if ((st = str(&c, &text))) break;
            r->has_text = 1;
        } else if (key.n == 3 && !memcmp(key.p, "ids", 3)) st = ids(&c, r);
        else if (key.n == 18 && !memcmp(key.p, "add_special_tokens", 18)) st = boolean(&c, &r->add_special);
        else if (key.n == 19 && !memcmp(key.p, "skip_special_tokens", 19)) st = boolean(&c, &r->skip_special);
        else st = skip_value(&c, 0);
        if (st) break;
        ws(&c);
        if (c.i < n && s[c.i] == ',') { c.i++; continue; }
        if (c.i < n && s[c.i] == '}') { c.i++; break; }
        st = rl_err("jsonl: expected ',' or '}' at byte %zu", c.i);
        break;
    }
    rl_tkbuf_free(&key);
    if (!st && r->has_text) {
        if (rl_tkbuf_put(&text, "", 0)) st = -1;
        else { r->text = text.p; r->text_len = text.n; text.p = NULL; }
    }
    rl_tkbuf_free(&text);
    if (st) rl_jsonl_req_free(r);
    return st;
}

void rl_jsonl_req_free(rl_jsonl_req *r) {
    free(r->text); free(r->ids);
    r->text = NULL; r->ids = NULL;
}

int rl_jsonl_put_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    rl_buf b = {*buf, *len, *cap};
    int st = rl_tkbuf_put(&b, "\"", 1);
    size_t i = 0, start = 0;
    for (; i < n && !st; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        char esc[8];
        const char *e = esc;
        if (ch == '"') e = "\\\""; else if (ch == '\\') e = "\\\\"; else if (ch == '\n') e = "\\n";
        else if (ch == '\r') e = "\\r"; else if (ch == '\t') e = "\\t"; else if (ch == '\b') e = "\\b"; else if (ch == '\f') e = "\\f";
        else snprintf(esc, sizeof esc, "\\u%04x", ch);
        st = rl_tkbuf_put(&b, s + start, i - start) || rl_tkbuf_put(&b, e, strlen(e));
        start = i + 1;
    }
    if (!st) st = rl_tkbuf_put(&b, s + start, n - start) || rl_tkbuf_put(&b, "\"", 1);
    *buf = b.p; *len = b.n; *cap = b.cap;
    return st ? -1 : 0;
}
