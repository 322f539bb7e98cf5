/* tokenizer.json normalizers: NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, Strip, StripAccents,
 * Replace, Prepend, BertNormalizer, Precompiled (SentencePiece charsmap) and Sequence. */
#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_precompiled.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { N_NFC = 1, N_NFD, N_NFKC, N_NFKD, N_LOWER, N_STRIP, N_STRIPACC, N_REPLACE, N_PREPEND, N_BERT,
       N_PRECOMPILED, N_SEQ };

struct rl_tknorm {
    int type;
    int left, right;                 /* Strip */
    rl_pattern pat; char *content;   /* Replace; content also for Prepend */
    int clean, chinese, accents, lower; /* Bert */
    rl_precompiled *pc;
    rl_tknorm **subs; size_t nsubs;
};

void rl_tknorm_free(rl_tknorm *nm) {
    if (!nm) return;
    for (size_t i = 0; i < nm->nsubs; i++) rl_tknorm_free(nm->subs[i]);
    free(nm->subs);
    rl_tkpat_free(&nm->pat);
    free(nm->content);
    rl_precompiled_free(nm->pc);
    free(nm);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

int rl_tknorm_parse(const cJSON *j, rl_tknorm **out) {
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = rl_tj_str(j, "type");
    if (!type) return rl_err("normalizer: missing \"type\"");
    rl_tknorm *nm = calloc(1, sizeof *nm);
    if (!nm) return rl_err("tokenizer: out of memory");
    if (!strcmp(type, "NFC")) nm->type = N_NFC;
    else if (!strcmp(type, "NFD")) nm->type = N_NFD;
    else if (!strcmp(type, "NFKC")) nm->type = N_NFKC;
    else if (!strcmp(type, "NFKD")) nm->type = N_NFKD;
    else if (!strcmp(type, "Lowercase")) nm->type = N_LOWER;
    else if (!strcmp(type, "StripAccents")) nm->type = N_STRIPACC;
    else if (!strcmp(type, "Strip")) {
        nm->type = N_STRIP;
        nm->left = rl_tj_bool(j, "strip_left", 1);
        nm->right = rl_tj_bool(j, "strip_right", 1);
    } else if (!strcmp(type, "Replace")) {
        nm->type = N_REPLACE;
        const char *c = rl_tj_str(j, "content");
        if (!c) { rl_tknorm_free(nm); return rl_err("normalizer Replace: missing \"content\""); }
        if (!(nm->content = dupstr(c))) { rl_tknorm_free(nm); return rl_err("tokenizer: out of memory"); }
        if (rl_tkpat_parse(cJSON_GetObjectItemCaseSensitive(j, "pattern"), &nm->pat, "normalizer Replace")) {
            rl_tknorm_free(nm); return -1;
        }
    } else if (!strcmp(type, "Prepend")) {
        nm->type = N_PREPEND;
        const char *c = rl_tj_str(j, "prepend");
        if (!c) { rl_tknorm_free(nm); return rl_err("normalizer Prepend: missing \"prepend\""); }
        if (!(nm->content = dupstr(c))) { rl_tknorm_free(nm); return rl_err("tokenizer: out of memory"); }
    } else if (!strcmp(type, "BertNormalizer")) {
        nm->type = N_BERT;
        nm->clean = rl_tj_bool(j, "clean_text", 1);
        nm->chinese = rl_tj_bool(j, "handle_chinese_chars", 1);
        nm->lower = rl_tj_bool(j, "lowercase", 1);
        nm->accents = rl_tj_bool(j, "strip_accents", nm->lower);
    } else if (!strcmp(type, "Precompiled")) {
        nm->type = N_PRECOMPILED;
        const char *b64 = rl_tj_str(j, "precompiled_charsmap");
        if (b64 && *b64 && !(nm->pc = rl_precompiled_new(b64))) { rl_tknorm_free(nm); return -1; }
    } else if (!strcmp(type, "Sequence")) {
        nm->type = N_SEQ;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr)) { rl_tknorm_free(nm); return rl_err("normalizer Sequence: missing \"normalizers\""); }
        int cnt = cJSON_GetArraySize(arr);
        nm->subs = calloc((size_t)cnt + 1, sizeof *nm->subs);
        if (!nm->subs) { rl_tknorm_free(nm); return rl_err("tokenizer: out of memory"); }
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            rl_tknorm *sub;
            if (rl_tknorm_parse(e, &sub)) { rl_tknorm_free(nm); return -1; }
            if (sub) nm->subs[nm->nsubs++] = sub;
        }
    } else {
        rl_tknorm_free(nm);
        return rl_err("normalizer: unsupported type \"%s\"", type);
    }
    *out = nm;
    return 0;
}

static int all_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

static int unicode_nf(int type, const char *s, size_t n, rl_buf *out) {
    if (all_ascii(s, n)) return rl_tkbuf_put(out, s, n);
    int opt = UTF8PROC_STABLE;
    if (type == N_NFC) opt |= UTF8PROC_COMPOSE;
    else if (type == N_NFD) opt |= UTF8PROC_DECOMPOSE;
    else if (type == N_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, (utf8proc_option_t)opt);
    if (r < 0) return rl_err("normalizer: %s", utf8proc_errmsg(r));
    int st = rl_tkbuf_put(out, dst, (size_t)r);
    free(dst);
    return st;
}

static int put_cp(rl_buf *out, int32_t cp) {
    char t[4];
    return rl_tkbuf_put(out, t, rl_tku8_enc(cp, t));
}

static int lowercase(const char *s, size_t n, rl_buf *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp; size_t k = rl_tku8_dec(s + i, n - i, &cp);
        if (cp < 0x80) { char c = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp); if (rl_tkbuf_put(out, &c, 1)) return -1; }
        else if (cp == 0x130) { if (rl_tkbuf_put(out, "i\xCC\x87", 3)) return -1; }
        else if (put_cp(out, utf8proc_tolower(cp))) return -1;
        i += k;
    }
    return 0;
}

static int is_mark(int32_t cp) {
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

static int strip_accents(const char *s, size_t n, rl_buf *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp; size_t k = rl_tku8_dec(s + i, n - i, &cp);
        if (!is_mark(cp) && rl_tkbuf_put(out, s + i, k)) return -1;
        i += k;
    }
    return 0;
}

static int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int bert(const rl_tknorm *nm, const char *s, size_t n, rl_buf *out) {
    rl_buf a = {0}, b = {0};
    int st = 0;
    for (size_t i = 0; i < n && !st;) {
        int32_t cp; size_t k = rl_tku8_dec(s + i, n - i, &cp);
        i += k;
        if (nm->clean) {
            if (cp == 0 || cp == 0xFFFD) continue;
            utf8proc_category_t c = utf8proc_category(cp);
            int ws = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || c == UTF8PROC_CATEGORY_ZS;
            if (!ws && cp != '\t' && cp != '\n' && cp != '\r' &&
                (c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CO))
                continue;
            if (ws) cp = ' ';
        }
        if (nm->chinese && is_chinese(cp)) { st = rl_tkbuf_put(&a, " ", 1) || put_cp(&a, cp) || rl_tkbuf_put(&a, " ", 1); continue; }
        st = put_cp(&a, cp);
    }
    if (!st && nm->accents) {
        st = unicode_nf(N_NFD, a.p ? a.p : "", a.n, &b) || (a.n = 0, strip_accents(b.p ? b.p : "", b.n, &a));
    }
    if (!st) st = nm->lower ? lowercase(a.p ? a.p : "", a.n, out) : rl_tkbuf_put(out, a.p, a.n);
    rl_tkbuf_free(&a); rl_tkbuf_free(&b);
    return st;
}

static int replace(const rl_tknorm *nm, const char *s, size_t n, rl_buf *out) {
    rl_svec m = {0};
    if (rl_tkpat_find(&nm->pat, s, n, &m)) { free(m.v); return -1; }
    size_t prev = 0, cl = strlen(nm->content);
    int st = 0;
    for (size_t i = 0; i + 1 < m.n && !st; i += 2) {
        st = rl_tkbuf_put(out, s + prev, m.v[i] - prev) || rl_tkbuf_put(out, nm->content, cl);
        prev = m.v[i + 1];
    }
    if (!st) st = rl_tkbuf_put(out, s + prev, n - prev);
    free(m.v);
    return st;
}

int rl_tknorm_apply(const rl_tknorm *nm, const char *s, size_t n, rl_buf *out) {
    switch (nm->type) {
    case N_NFC: case N_NFD: case N_NFKC: case N_NFKD: return unicode_nf(nm->type, s, n, out);
    case N_LOWER: return lowercase(s, n, out);
    case N_STRIPACC: return strip_accents(s, n, out);
    case N_STRIP: {
        size_t b = 0, e = n;
        if (nm->left) while (b < e) { int32_t cp; size_t k = rl_tku8_dec(s + b, e - b, &cp); if (!rl_tk_is_space(cp)) break; b += k; }
        if (nm->right) while (e > b) {
            size_t k = 1;
            while (k < e - b && ((unsigned char)s[e - k] & 0xC0) == 0x80) k++;
            int32_t cp; rl_tku8_dec(s + e - k, k, &cp);
            if (!rl_tk_is_space(cp)) break;
            e -= k;
        }
        return rl_tkbuf_put(out, s + b, e - b);
    }
    case N_REPLACE: return replace(nm, s, n, out);
    case N_PREPEND:
        if (n && rl_tkbuf_put(out, nm->content, strlen(nm->content))) return -1;
        return rl_tkbuf_put(out, s, n);
    case N_BERT: return bert(nm, s, n, out);
    case N_PRECOMPILED: return nm->pc ? rl_precompiled_apply(nm->pc, s, n, out) : rl_tkbuf_put(out, s, n);
    case N_SEQ: {
        rl_buf a = {0}, b = {0};
        if (rl_tkbuf_put(&a, s, n)) return -1;
        for (size_t i = 0; i < nm->nsubs; i++) {
            b.n = 0;
            if (rl_tknorm_apply(nm->subs[i], a.p, a.n, &b)) { rl_tkbuf_free(&a); rl_tkbuf_free(&b); return -1; }
            rl_buf t = a; a = b; b = t;
        }
        int st = rl_tkbuf_put(out, a.p, a.n);
        rl_tkbuf_free(&a); rl_tkbuf_free(&b);
        return st;
    }
    }
    return rl_err("normalizer: bad type");
}
