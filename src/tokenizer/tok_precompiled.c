/* SentencePiece precompiled charsmap: base64 blob = u32 trie size (bytes), darts-clone double
 * array, then NUL-separated replacement strings. Matching follows spm_precompiled / HF. */
#include "tokenizer/tok_precompiled.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct rl_precompiled { uint32_t *arr; size_t narr; char *norm; size_t nnorm; };

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

rl_precompiled *rl_precompiled_new(const char *b64) {
    size_t n = strlen(b64);
    unsigned char *raw = malloc(n / 4 * 3 + 4);
    if (!raw) { rl_err("tokenizer: out of memory"); return NULL; }
    size_t m = 0; unsigned acc = 0; int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (b64[i] == '=') break;
        int v = b64val((unsigned char)b64[i]);
        if (v < 0) { free(raw); rl_err("normalizer Precompiled: bad base64 in precompiled_charsmap"); return NULL; }
        acc = (acc << 6) | (unsigned)v; bits += 6;
        if (bits >= 8) { bits -= 8; raw[m++] = (unsigned char)(acc >> bits); }
    }
    uint32_t tsz = 0;
    if (m < 4 || (memcpy(&tsz, raw, 4), tsz % 4) || tsz > m - 4 || tsz < 4) {
        free(raw); rl_err("normalizer Precompiled: malformed precompiled_charsmap"); return NULL;
    }
    rl_precompiled *pc = calloc(1, sizeof *pc);
    if (pc) {
        pc->narr = tsz / 4;
        pc->arr = malloc(tsz);
        pc->nnorm = m - 4 - tsz;
        pc->norm = malloc(pc->nnorm + 1);
    }
    if (!pc || !pc->arr || !pc->norm) { rl_precompiled_free(pc); free(raw); rl_err("tokenizer: out of memory"); return NULL; }
    memcpy(pc->arr, raw + 4, tsz);   /* little-endian host assumed (x86/ARM) */
    memcpy(pc->norm, raw + 4 + tsz, pc->nnorm);
    pc->norm[pc->nnorm] = 0;
    free(raw);
    return pc;
}

void rl_precompiled_free(rl_precompiled *pc) {
    if (!pc) return;
    free(pc->arr); free(pc->norm); free(pc);
}

static size_t u_offset(uint32_t u) { return (size_t)((u >> 10) << ((u & (1u << 9)) >> 6)); }

/* First (shortest) prefix match of key: replacement offset, or -1. */
static long first_prefix(const rl_precompiled *pc, const unsigned char *k, size_t n) {
    size_t pos = 0;
    uint32_t u = pc->arr[0];
    pos ^= u_offset(u);
    for (size_t i = 0; i < n; i++) {
        if (!k[i]) break;
        pos ^= k[i];
        if (pos >= pc->narr) return -1;
        u = pc->arr[pos];
        if ((u & ((1u << 31) | 0xFF)) != k[i]) return -1;
        pos ^= u_offset(u);
        if (pos >= pc->narr) return -1;
        if ((u >> 8) & 1) return (long)(pc->arr[pos] & ((1u << 31) - 1));
    }
    return -1;
}

static int transform(const rl_precompiled *pc, const char *s, size_t n, rl_buf *out) {
    long v = first_prefix(pc, (const unsigned char *)s, n);
    if (v < 0 || (size_t)v >= pc->nnorm) return 0;
    return rl_tkbuf_put(out, pc->norm + v, strlen(pc->norm + v)) ? -1 : 1;
}

int rl_precompiled_apply(const rl_precompiled *pc, const char *s, size_t n, rl_buf *out) {
    size_t i = 0;
    while (i < n) {
        /* one extended grapheme cluster [i, e) */
        int32_t cp, prev; utf8proc_int32_t state = 0;
        size_t e = i + rl_tku8_dec(s + i, n - i, &prev);
        while (e < n) {
            size_t k = rl_tku8_dec(s + e, n - e, &cp);
            if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
            prev = cp; e += k;
        }
        int r = 0;
        if (e - i < 6 && (r = transform(pc, s + i, e - i, out)) < 0) return -1;
        if (!r) {
            for (size_t j = i; j < e;) {
                size_t k = rl_tku8_dec(s + j, e - j, &cp);
                int t = transform(pc, s + j, k, out);
                if (t < 0 || (!t && rl_tkbuf_put(out, s + j, k))) return -1;
                j += k;
            }
        }
        i = e;
    }
    return 0;
}
