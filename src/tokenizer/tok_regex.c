/* Regexes for tokenizer.json patterns: PCRE2 (UTF + UCP, JIT) with Oniguruma's \s semantics
 * (Unicode White_Space: includes U+0085, excludes U+FEFF), and String/Regex patterns. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct rl_regex { pcre2_code *code; };

rl_regex *rl_tkre_new(const char *pat, size_t n) {
    rl_buf b = {0};
    /* Rewrite \s / \S to the White_Space property (valid both inside and outside classes). */
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == '\\' && i + 1 < n) {
            const char *rep = NULL;
            if (pat[i + 1] == 's') rep = "\\p{White_Space}";
            else if (pat[i + 1] == 'S') rep = "\\P{White_Space}";
            if (rep) { if (rl_tkbuf_put(&b, rep, strlen(rep))) goto oom; }
            else if (rl_tkbuf_put(&b, pat + i, 2)) goto oom;
            i++;
            continue;
        }
        if (rl_tkbuf_put(&b, pat + i, 1)) goto oom;
    }
    if (rl_tkbuf_put(&b, "", 0)) goto oom;
    int ec; PCRE2_SIZE eo;
    /* MATCH_INVALID_UTF: a subject with invalid UTF-8 (a normalizer's replacement text may put
     * such bytes in) is matched safely, invalid sequences never matching, without a UTF check of
     * the whole subject at every match call */
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)b.p, b.n, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        rl_err("regex /%.*s/: %s at offset %zu", (int)(n > 200 ? 200 : n), pat, (const char *)msg, (size_t)eo);
        rl_tkbuf_free(&b);
        return NULL;
    }
    rl_tkbuf_free(&b);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* falls back to the interpreter if JIT is unavailable */
    rl_regex *re = malloc(sizeof *re);
    if (!re) { pcre2_code_free(code); rl_err("tokenizer: out of memory"); return NULL; }
    re->code = code;
    return re;
oom:
    rl_tkbuf_free(&b);
    rl_err("tokenizer: out of memory");
    return NULL;
}

void rl_tkre_free(rl_regex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    free(re);
}

int rl_tkre_find(const rl_regex *re, const char *s, size_t n, rl_svec *out) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md) return rl_err("tokenizer: out of memory");
    size_t pos = 0;
    size_t last_end = (size_t)-1;
    int st = 0;
    while (pos <= n) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) { st = rl_err("regex match failed (PCRE2 error %d)", rc); break; }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (b == e && last_end == e) {
            /* an empty match right after the previous match: move on one character (Oniguruma) */
            if (e >= n) break;
            size_t k = 1;
            while (e + k < n && ((unsigned char)s[e + k] & 0xC0) == 0x80) k++;
            pos = e + k;
            continue;
        }
        if (rl_tksvec_push(out, b) || rl_tksvec_push(out, e)) { st = -1; break; }
        pos = last_end = e;
    }
    pcre2_match_data_free(md);
    return st;
}

int rl_tkpat_parse(const cJSON *j, rl_pattern *p, const char *what) {
    memset(p, 0, sizeof *p);
    const char *s = rl_tj_str(j, "String");
    if (s) {
        p->litn = strlen(s);
        p->lit = malloc(p->litn + 1);
        if (!p->lit) return rl_err("tokenizer: out of memory");
        memcpy(p->lit, s, p->litn + 1);
        return 0;
    }
    s = rl_tj_str(j, "Regex");
    if (!s) return rl_err("%s: pattern must be {\"String\": ...} or {\"Regex\": ...}", what);
    p->re = rl_tkre_new(s, strlen(s));
    if (!p->re) return rl_err_prefix("%s: ", what);
    return 0;
}

int rl_tkpat_find(const rl_pattern *p, const char *s, size_t n, rl_svec *out) {
    if (p->re) return rl_tkre_find(p->re, s, n, out);
    if (!p->litn) return 0;
    size_t i = 0;
    while (i + p->litn <= n) {
        const char *f = memmem(s + i, n - i, p->lit, p->litn);
        if (!f) break;
        size_t b = (size_t)(f - s);
        if (rl_tksvec_push(out, b) || rl_tksvec_push(out, b + p->litn)) return -1;
        i = b + p->litn;
    }
    return 0;
}

void rl_tkpat_free(rl_pattern *p) {
    free(p->lit);
    rl_tkre_free(p->re);
    memset(p, 0, sizeof *p);
}
