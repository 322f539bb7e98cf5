/* Control-token text in SentencePiece input (see spm_special.h): the special pieces are found by
 * their lengths (a handful of distinct ones) and the model's own piece map, so a scan costs one
 * lookup per length at each position whose byte starts some special piece. */
#include "tokenizer/spm_special.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

#define MAX_SPECIAL_LEN 256

struct rl_spm_specials {
    const rl_spm *s;
    size_t lens[64]; /* distinct lengths of the special pieces, longest first */
    int n_lens;
    unsigned char first[256]; /* 1: some special piece starts with this byte */
};

static int is_special(const rl_spm *s, int id) { return id >= 0 && (rl_spm_is_control(s, id) || id == rl_spm_unk_id(s)); }

rl_spm_specials *rl_spm_specials_new(const rl_spm *s) {
    rl_spm_specials *t = calloc(1, sizeof *t);
    if (!t) { rl_err("spm: out of memory"); return NULL; }
    t->s = s;
    size_t n = rl_spm_vocab_size(s);
    for (size_t id = 0; id < n; id++) {
        if (!is_special(s, (int)id)) continue;
        const char *p = rl_spm_id_to_piece(s, (int)id);
        size_t l = p ? strlen(p) : 0;
        if (!l || l > MAX_SPECIAL_LEN || rl_spm_piece_id(s, p) != (int)id) continue; /* unreachable by text */
        t->first[(unsigned char)p[0]] = 1;
        int k = 0;
        while (k < t->n_lens && t->lens[k] > l) k++;
        if (k < t->n_lens && t->lens[k] == l) continue;
        if (t->n_lens == (int)(sizeof t->lens / sizeof *t->lens)) continue; /* more lengths than kept: longest win */
        memmove(t->lens + k + 1, t->lens + k, (size_t)(t->n_lens - k) * sizeof *t->lens);
        t->lens[k] = l;
        t->n_lens++;
    }
    return t;
}

void rl_spm_specials_free(rl_spm_specials *t) { free(t); }

/* Length and id of the longest special piece at p[0..n), 0 if none. */
static size_t match(const rl_spm_specials *t, const char *p, size_t n, int32_t *id) {
    if (!t->first[(unsigned char)p[0]]) return 0;
    char buf[MAX_SPECIAL_LEN + 1];
    for (int k = 0; k < t->n_lens; k++) {
        size_t l = t->lens[k];
        if (l > n) continue;
        memcpy(buf, p, l);
        buf[l] = 0;
        if (memchr(buf, 0, l)) continue;
        int i = rl_spm_piece_id(t->s, buf);
        if (is_special(t->s, i)) { *id = i; return l; }
    }
    return 0;
}

static int append(int32_t **v, size_t *n, size_t *cap, const int32_t *src, size_t k) {
    if (*n + k > *cap) {
        size_t nc = *cap ? *cap : 64;
        while (nc < *n + k) nc *= 2;
        int32_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return rl_err("spm: out of memory");
        *v = nv;
        *cap = nc;
    }
    memcpy(*v + *n, src, k * sizeof *src);
    *n += k;
    return 0;
}

static int fragment(const rl_spm *s, const char *p, size_t len, int32_t **v, size_t *n, size_t *cap) {
    if (!len) return 0;
    int32_t *f;
    size_t k;
    if (rl_spm_encode(s, p, len, 0, &f, &k)) return -1;
    int rc = append(v, n, cap, f, k);
    free(f);
    return rc;
}

int rl_spm_encode_specials(const rl_spm_specials *t, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    const rl_spm *s = t->s;
    int32_t bos = rl_spm_bos_id(s), *v = NULL;
    size_t n = 0, cap = 0, from = 0;
    if (add_bos && bos < 0) return rl_err("spm: add_bos requested but the model has no BOS piece");
    if (add_bos && append(&v, &n, &cap, &bos, 1)) goto fail;
    for (size_t i = 0; i < len;) {
        int32_t id;
        size_t l = match(t, text + i, len - i, &id);
        if (!l) { i++; continue; }
        if (fragment(s, text + from, i - from, &v, &n, &cap) || append(&v, &n, &cap, &id, 1)) goto fail;
        i += l;
        from = i;
    }
    if (fragment(s, text + from, len - from, &v, &n, &cap)) goto fail;
    if (!v && !(v = malloc(sizeof *v))) { rl_err("spm: out of memory"); goto fail; }
    *ids = v;
    *n_ids = n;
    return 0;
fail:
    free(v);
    return -1;
}
