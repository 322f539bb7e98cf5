/* Tokenizer internals: growable buffers, hash maps, UTF-8 and GPT-2 byte-level helpers. */
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return rl_err("tokenizer: out of memory");
    *p = q; *cap = nc;
    return 0;
}

int rl_tkbuf_reserve(rl_buf *b, size_t extra) { return grow((void **)&b->p, &b->cap, b->n + extra + 1, 1); }
int rl_tkbuf_put(rl_buf *b, const void *s, size_t n) {
    if (rl_tkbuf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}
void rl_tkbuf_free(rl_buf *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }

int rl_tkivec_push(rl_ivec *v, int32_t x) {
    if (grow((void **)&v->v, &v->cap, v->n + 1, sizeof *v->v)) return -1;
    v->v[v->n++] = x;
    return 0;
}
int rl_tkivec_append(rl_ivec *v, const int32_t *x, size_t n) {
    if (grow((void **)&v->v, &v->cap, v->n + n, sizeof *v->v)) return -1;
    if (n) memcpy(v->v + v->n, x, n * sizeof *x);
    v->n += n;
    return 0;
}
int rl_tksvec_push(rl_svec *v, size_t x) {
    if (grow((void **)&v->v, &v->cap, v->n + 1, sizeof *v->v)) return -1;
    v->v[v->n++] = x;
    return 0;
}
int rl_tkpieces_push(rl_pieces *p, size_t off, size_t len, int32_t id, int first) {
    if (grow((void **)&p->v, &p->cap, p->n + 1, sizeof *p->v)) return -1;
    p->v[p->n++] = (rl_piece){off, len, id, first};
    return 0;
}

/* ---- string map ---- */
uint32_t rl_tk_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w; memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull; h ^= h >> 32;
    }
    uint64_t w = 0;
    if (i < n) { memcpy(&w, s + i, n - i); h = (h ^ w) * 0xc4ceb9fe1a85ec53ull; }
    h ^= h >> 29; h *= 0xff51afd7ed558ccdull; h ^= h >> 32;
    return (uint32_t)h;
}

static int strmap_rehash(rl_strmap *m, size_t ncap) {
    uint32_t *s = calloc(ncap, sizeof *s);
    if (!s) return rl_err("tokenizer: out of memory");
    for (size_t i = 0; i < m->n; i++) {
        size_t j = m->ents[i].hash & (ncap - 1);
        while (s[j]) j = (j + 1) & (ncap - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(m->slots); m->slots = s; m->cap = ncap;
    return 0;
}

int rl_tkmap_put(rl_strmap *m, const char *k, size_t n, int32_t val) {
    if ((m->n + 1) * 2 > m->cap && strmap_rehash(m, m->cap ? m->cap * 2 : 64)) return -1;
    uint32_t h = rl_tk_hash(k, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j]) {
        rl_strmap_ent *e = &m->ents[m->slots[j] - 1];
        if (e->hash == h && e->klen == n && !memcmp(m->keys.p + e->koff, k, n)) { e->val = val; return 0; }
        j = (j + 1) & (m->cap - 1);
    }
    if (grow((void **)&m->ents, &m->ecap, m->n + 1, sizeof *m->ents)) return -1;
    size_t off = m->keys.n;
    if (rl_tkbuf_put(&m->keys, k, n)) return -1;
    m->ents[m->n] = (rl_strmap_ent){(uint32_t)off, (uint32_t)n, h, val};
    m->slots[j] = (uint32_t)++m->n;
    return 0;
}

int32_t rl_tkmap_get(const rl_strmap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint32_t h = rl_tk_hash(k, n);
    size_t j = h & (m->cap - 1);
    while (m->slots[j]) {
        const rl_strmap_ent *e = &m->ents[m->slots[j] - 1];
        if (e->hash == h && e->klen == n && !memcmp(m->keys.p + e->koff, k, n)) return e->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void rl_tkmap_clear(rl_strmap *m) {
    if (m->slots) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0; m->keys.n = 0;
}
void rl_tkmap_free(rl_strmap *m) {
    free(m->slots); free(m->ents); rl_tkbuf_free(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ---- u64 map ---- */
static size_t mix64(uint64_t k) { k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33; return (size_t)k; }

static int u64_rehash(rl_u64map *m, size_t ncap) {
    uint64_t *k = malloc(ncap * sizeof *k), *v = malloc(ncap * sizeof *v);
    if (!k || !v) { free(k); free(v); return rl_err("tokenizer: out of memory"); }
    memset(k, 0xff, ncap * sizeof *k);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == UINT64_MAX) continue;
        size_t j = mix64(m->keys[i]) & (ncap - 1);
        while (k[j] != UINT64_MAX) j = (j + 1) & (ncap - 1);
        k[j] = m->keys[i]; v[j] = m->vals[i];
    }
    free(m->keys); free(m->vals);
    m->keys = k; m->vals = v; m->cap = ncap;
    return 0;
}
int rl_tku64_put(rl_u64map *m, uint64_t key, uint64_t val) {
    if ((m->n + 1) * 2 > m->cap && u64_rehash(m, m->cap ? m->cap * 2 : 64)) return -1;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j] != UINT64_MAX && m->keys[j] != key) j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == UINT64_MAX) { m->keys[j] = key; m->n++; }
    m->vals[j] = val;
    return 0;
}
int rl_tku64_get(const rl_u64map *m, uint64_t key, uint64_t *val) {
    if (!m->cap) return 0;
    size_t j = mix64(key) & (m->cap - 1);
    while (m->keys[j] != UINT64_MAX) {
        if (m->keys[j] == key) { *val = m->vals[j]; return 1; }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}
void rl_tku64_free(rl_u64map *m) { free(m->keys); free(m->vals); memset(m, 0, sizeof *m); }

/* ---- UTF-8 ---- */
size_t rl_tku8_dec(const char *s, size_t n, int32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80 || n < 2) { *cp = u[0]; return 1; }
    if (u[0] < 0xE0) { *cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F); return 2; }
    if (u[0] < 0xF0 || n < 4) { *cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F); return 3; }
    *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return 4;
}

size_t rl_tku8_enc(int32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid sequence at s, or 0 with *sub = length of the maximal invalid subpart. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *sub) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t need; unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *sub = 1; return 0; }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) { *sub = i; return 0; }
        unsigned b = s[i];
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) { *sub = i; return 0; }
    }
    return need + 1;
}

int rl_tku8_valid(const char *s, size_t n, size_t *bad) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, sub;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t k = utf8_seq(u + i, n - i, &sub);
        if (!k) { if (bad) *bad = i; return 0; }
        i += k;
    }
    return 1;
}

int rl_tku8_lossy(rl_buf *out, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, sub, start = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t k = utf8_seq(u + i, n - i, &sub);
        if (k) { i += k; continue; }
        if (rl_tkbuf_put(out, s + start, i - start) || rl_tkbuf_put(out, "\xEF\xBF\xBD", 3)) return -1;
        i += sub; start = i;
    }
    return rl_tkbuf_put(out, s + start, n - start);
}

int rl_tk_is_space(int32_t c) {
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- GPT-2 bytes_to_unicode ---- */
static int bl_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

int32_t rl_tk_bytelevel_cp(unsigned char b) {
    if (bl_printable(b)) return b;
    int k = 0;
    for (unsigned x = 0; x < b; x++) if (!bl_printable(x)) k++;
    return 256 + k;
}

int rl_tk_bytelevel_byte(int32_t cp) {
    if (cp < 0 || cp > 0x143) return -1;
    if (cp < 256) return bl_printable((unsigned)cp) ? cp : -1;
    int k = cp - 256;
    for (unsigned x = 0; x < 256; x++) if (!bl_printable(x) && k-- == 0) return (int)x;
    return -1;
}

/* ---- JSON helpers ---- */
const char *rl_tj_str(const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}
int rl_tj_bool(const cJSON *o, const char *key, int dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j);
    return dflt;
}

int rl_tkstr_push(rl_strlist *l, const char *s, size_t n) {
    size_t off = l->text.n;
    if (rl_tkbuf_put(&l->text, s, n) || rl_tksvec_push(&l->se, off) || rl_tksvec_push(&l->se, n)) return -1;
    return 0;
}
void rl_tkstr_free(rl_strlist *l) { rl_tkbuf_free(&l->text); free(l->se.v); memset(l, 0, sizeof *l); }
