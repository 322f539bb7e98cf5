/* SentencePiece normalizer (normalizer.cc of sentencepiece 0.1.97): longest-match rewriting
 * through the precompiled charsmap (a darts-clone double array read with bounds checks),
 * malformed UTF-8 bytes -> U+FFFD, whitespace handling and the U+2581 escape. */
#include "tokenizer/spm_norm.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

#define SPACE_SYM "\xe2\x96\x81"
#define MAX_TRIE_RESULTS 32  /* Normalizer::kMaxTrieResultsSize */

int rl_spm_buf_put(rl_spm_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return rl_err("spm: out of memory");
        b->p = np;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

size_t rl_spm_char_len(const char *s, size_t n) {
    static const unsigned char tab[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    size_t l = tab[(unsigned char)s[0] >> 4];
    return l < n ? l : n;
}

static int trail(unsigned char c) { return (c & 0xC0) == 0x80; }
static int valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

int rl_spm_utf8_valid(const char *str, size_t n, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    uint32_t cp;
    *len = 1;
    if (s[0] < 0x80) return 1;
    if (n >= 2 && (s[0] & 0xE0) == 0xC0) {
        cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        if (trail(s[1]) && cp >= 0x80 && valid_cp(cp)) { *len = 2; return 1; }
    } else if (n >= 3 && (s[0] & 0xF0) == 0xE0) {
        cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (trail(s[1]) && trail(s[2]) && cp >= 0x800 && valid_cp(cp)) { *len = 3; return 1; }
    } else if (n >= 4 && (s[0] & 0xF8) == 0xF0) {
        cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
             (s[3] & 0x3F);
        if (trail(s[1]) && trail(s[2]) && trail(s[3]) && cp >= 0x10000 && valid_cp(cp)) { *len = 4; return 1; }
    }
    return 0;
}

int rl_spm_norm_init(rl_spm_norm *nm, const rl_spm_normspec *spec, int ws_suffix, const char *name) {
    memset(nm, 0, sizeof *nm);
    nm->add_dummy_prefix = spec->add_dummy_prefix;
    nm->remove_extra_ws = spec->remove_extra_whitespaces;
    nm->escape_ws = spec->escape_whitespaces;
    nm->ws_suffix = ws_suffix;
    nm->name = name;
    const unsigned char *b = (const unsigned char *)spec->charsmap.p;
    size_t n = spec->charsmap.n;
    if (n == 0) return 0;
    /* <trie size: uint32 LE><double array units><normalized strings> */
    if (n <= 4) return rl_err("%s: precompiled_charsmap is broken (%zu bytes)", name, n);
    uint32_t tsz = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (tsz > n - 4) return rl_err("%s: precompiled_charsmap trie size %u exceeds the blob (%zu bytes)", name, tsz, n);
    nm->n_units = tsz / 4;
    if (nm->n_units == 0) return rl_err("%s: precompiled_charsmap has an empty trie", name);
    nm->units = malloc(nm->n_units * sizeof *nm->units);
    if (!nm->units) return rl_err("%s: out of memory for the charsmap", name);
    for (size_t i = 0; i < nm->n_units; i++) {
        const unsigned char *u = b + 4 + 4 * i;
        nm->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    nm->strs = (const char *)b + 4 + tsz;
    nm->n_strs = n - 4 - tsz;
    return 0;
}

void rl_spm_norm_free(rl_spm_norm *nm) {
    if (!nm) return;
    free(nm->units);
    nm->units = NULL;
}

/* darts-clone DoubleArray unit accessors. */
static int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t u_value(uint32_t u) { return u & ((1U << 31) - 1); }
static uint32_t u_label(uint32_t u) { return u & ((1U << 31) | 0xFF); }
static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

/* darts commonPrefixSearch keeping the first MAX_TRIE_RESULTS hits, as the normalizer does, and
 * returning the longest of them: *mlen (0 if none) and its value. -1 on an out-of-range index. */
static int trie_longest(const rl_spm_norm *nm, const char *key, size_t n, size_t *mlen, uint32_t *val) {
    size_t pos = 0, found = 0;
    *mlen = 0;
    *val = 0;
    pos ^= u_offset(nm->units[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        pos ^= c;
        if (pos >= nm->n_units) return rl_err("%s: precompiled_charsmap trie index out of range", nm->name);
        uint32_t u = nm->units[pos];
        if (u_label(u) != c) break;
        pos ^= u_offset(u);
        if (u_has_leaf(u)) {
            if (pos >= nm->n_units) return rl_err("%s: precompiled_charsmap trie index out of range", nm->name);
            if (found < MAX_TRIE_RESULTS) {
                *mlen = i + 1;
                *val = u_value(nm->units[pos]);
            }
            found++;
        }
    }
    return 0;
}

/* NormalizePrefix: the rewritten text (*out, *olen) of the prefix of in, and how many input
 * bytes it consumed. */
static int norm_prefix(const rl_spm_norm *nm, const char *in, size_t n, const char **out, size_t *olen,
                       size_t *consumed) {
    if (nm->prefix) {
        size_t l = nm->prefix(nm->prefix_ctx, in, n);
        if (l) { *out = in; *olen = l; *consumed = l; return 0; }
    }
    size_t mlen = 0;
    uint32_t val = 0;
    if (nm->units && trie_longest(nm, in, n, &mlen, &val)) return -1;
    if (mlen == 0) {
        size_t l;
        if (!rl_spm_utf8_valid(in, n, &l)) {
            *out = "\xEF\xBF\xBD";
            *olen = 3;
            *consumed = 1;
        } else {
            *out = in;
            *olen = l;
            *consumed = l;
        }
        return 0;
    }
    if (val >= nm->n_strs)
        return rl_err("%s: precompiled_charsmap value %u is outside its strings (%zu bytes)", nm->name, val, nm->n_strs);
    const char *s = nm->strs + val;
    const char *z = memchr(s, '\0', nm->n_strs - val);
    *out = s;
    *olen = z ? (size_t)(z - s) : nm->n_strs - val;
    *consumed = mlen;
    return 0;
}

static int add_ws(const rl_spm_norm *nm, rl_spm_buf *o) {
    return nm->escape_ws ? rl_spm_buf_put(o, SPACE_SYM, 3) : rl_spm_buf_put(o, " ", 1);
}

int rl_spm_normalize(const rl_spm_norm *nm, const char *in, size_t n, rl_spm_buf *o) {
    o->n = 0;
    if (rl_spm_buf_put(o, "", 0)) return -1;
    if (n == 0) return 0;
    const char *sp;
    size_t sl, used;
    if (nm->remove_extra_ws) { /* heading spaces */
        while (n) {
            if (norm_prefix(nm, in, n, &sp, &sl, &used)) return -1;
            if (!(sl == 1 && sp[0] == ' ')) break;
            in += used;
            n -= used;
        }
    }
    if (n == 0) return 0;
    if (!nm->ws_suffix && nm->add_dummy_prefix && add_ws(nm, o)) return -1;
    int prev_space = nm->remove_extra_ws;
    while (n) {
        if (norm_prefix(nm, in, n, &sp, &sl, &used)) return -1;
        while (prev_space && sl && sp[0] == ' ') { sp++; sl--; }
        if (sl) {
            for (size_t i = 0; i < sl; i++) {
                int r = (nm->escape_ws && sp[i] == ' ') ? rl_spm_buf_put(o, SPACE_SYM, 3) : rl_spm_buf_put(o, sp + i, 1);
                if (r) return -1;
            }
            prev_space = sp[sl - 1] == ' ';
        }
        in += used;
        n -= used;
        if (!nm->remove_extra_ws) prev_space = 0;
    }
    if (nm->remove_extra_ws) { /* trailing spaces */
        const char *spc = nm->escape_ws ? SPACE_SYM : " ";
        size_t k = nm->escape_ws ? 3 : 1;
        while (o->n >= k && memcmp(o->p + o->n - k, spc, k) == 0) o->n -= k;
        o->p[o->n] = '\0';
    }
    if (nm->ws_suffix && nm->add_dummy_prefix && add_ws(nm, o)) return -1;
    return 0;
}
