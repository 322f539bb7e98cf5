/* BPE model (HuggingFace semantics): chars -> vocab ids (byte fallback / unk / fuse_unk,
 * continuing_subword_prefix, end_of_word_suffix), then merges by lowest rank (leftmost first)
 * with a binary heap over a linked list of symbols; ignore_merges; a word cache. */
#include "tokenizer/tok_model.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_WORD 128
#define CACHE_MAX_ENTRIES 200000

int rl_tkbpe_load_merges(rl_tkmodel *m, const cJSON *merges) {
    if (!cJSON_IsArray(merges)) return rl_err("\"merges\" must be an array");
    size_t plen = m->prefix ? strlen(m->prefix) : 0;
    rl_buf t = {0};
    uint32_t rank = 0;
    const cJSON *e;
    int st = 0;
    cJSON_ArrayForEach(e, merges) {
        const char *a, *b; size_t an, bn;
        if (cJSON_IsString(e)) {
            a = e->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp) { st = rl_err("merge %u \"%s\" is not two tokens separated by a space", rank, a); break; }
            an = (size_t)(sp - a); b = sp + 1; bn = strlen(b);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) && cJSON_IsString(e->child->next)) {
            a = e->child->valuestring; an = strlen(a);
            b = e->child->next->valuestring; bn = strlen(b);
        } else { st = rl_err("merge %u is neither \"a b\" nor [\"a\", \"b\"]", rank); break; }
        int32_t ia = rl_tkmap_get(&m->vocab, a, an), ib = rl_tkmap_get(&m->vocab, b, bn);
        if (ia < 0 || ib < 0) { st = rl_err("merge %u refers to a token not in the vocab: \"%.*s\"", rank, (int)(ia < 0 ? an : bn), ia < 0 ? a : b); break; }
        t.n = 0;
        size_t skip = plen <= bn ? plen : bn;
        if (rl_tkbuf_put(&t, a, an) || rl_tkbuf_put(&t, b + skip, bn - skip)) { st = -1; break; }
        int32_t nid = rl_tkmap_get(&m->vocab, t.p, t.n);
        if (nid < 0) { st = rl_err("merge %u result \"%.*s\" is not in the vocab", rank, (int)t.n, t.p); break; }
        if (rl_tku64_put(&m->merges, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, (uint64_t)rank << 32 | (uint32_t)nid)) { st = -1; break; }
        rank++;
    }
    rl_tkbuf_free(&t);
    return st;
}

typedef struct { uint32_t rank, pos; int32_t id; } hent;

static int hless(const hent *a, const hent *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }

static void hpush(hent *h, size_t *n, hent x) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (!hless(&x, &h[p])) break;
        h[i] = h[p]; i = p;
    }
    h[i] = x;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && hless(&h[c + 1], &h[c])) c++;
        if (!hless(&h[c], &x)) break;
        h[i] = h[c]; i = c;
    }
    if (*n) h[i] = x;
    return top;
}

static int lookup_pair(const rl_tkmodel *m, int32_t a, int32_t b, uint32_t *rank, int32_t *nid) {
    uint64_t v;
    if (!rl_tku64_get(&m->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v)) return 0;
    *rank = (uint32_t)(v >> 32); *nid = (int32_t)(uint32_t)v;
    return 1;
}

/* Initial symbols of a word (HF BPE::merge_word before merging). */
static int initial_symbols(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *syms) {
    rl_buf t = {0};
    size_t plen = m->prefix ? strlen(m->prefix) : 0, slen = m->suffix ? strlen(m->suffix) : 0;
    int32_t unk = -1;   /* pending unk (fused) */
    int st = 0;
    for (size_t i = 0; i < n && !st;) {
        size_t k = 1;
        while (i + k < n && ((unsigned char)w[i + k] & 0xC0) == 0x80) k++;
        const char *s = w + i; size_t sn = k;
        if ((i > 0 && plen) || (i + k == n && slen)) {
            t.n = 0;
            if ((i > 0 && plen && rl_tkbuf_put(&t, m->prefix, plen)) || rl_tkbuf_put(&t, w + i, k) ||
                (i + k == n && slen && rl_tkbuf_put(&t, m->suffix, slen))) { st = -1; break; }
            s = t.p; sn = t.n;
        }
        int32_t id = rl_tkmap_get(&m->vocab, s, sn);
        if (id >= 0) {
            if (unk >= 0) { st = rl_tkivec_push(syms, unk); unk = -1; }
            if (!st) st = rl_tkivec_push(syms, id);
        } else {
            int done = 0;
            if (m->byte_fallback) {
                size_t j = 0;
                while (j < sn && m->byte_ids[(unsigned char)s[j]] >= 0) j++;
                if (j == sn) {
                    /* HF pushes byte tokens without flushing a pending unk first */
                    for (j = 0; j < sn && !st; j++) st = rl_tkivec_push(syms, m->byte_ids[(unsigned char)s[j]]);
                    done = 1;
                }
            }
            if (!done && m->unk_id >= 0) {
                if (unk >= 0 && !m->fuse_unk) st = rl_tkivec_push(syms, unk);
                unk = m->unk_id;
            }
        }
        i += k;
    }
    if (!st && unk >= 0) st = rl_tkivec_push(syms, unk);
    rl_tkbuf_free(&t);
    return st;
}

/* Merges symbols in place (lowest rank first, then leftmost); keeps the survivors in syms. */
static int merge_all(const rl_tkmodel *m, rl_ivec *syms) {
    size_t n = syms->n;
    if (n < 2) return 0;
    int32_t *id = syms->v;
    int32_t stack_prev[64], stack_next[64];
    hent stack_heap[128];
    int32_t *prev = n <= 64 ? stack_prev : malloc(n * sizeof *prev);
    int32_t *next = n <= 64 ? stack_next : malloc(n * sizeof *next);
    size_t hcap = 2 * n + 8;
    hent *heap = hcap <= 128 ? stack_heap : malloc(hcap * sizeof *heap);
    if (!prev || !next || !heap) {
        if (prev != stack_prev) free(prev);
        if (next != stack_next) free(next);
        if (heap != stack_heap) free(heap);
        return rl_err("tokenizer: out of memory");
    }
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) { prev[i] = (int32_t)i - 1; next[i] = i + 1 < n ? (int32_t)i + 1 : -1; }
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t r; int32_t nid;
        if (lookup_pair(m, id[i], id[i + 1], &r, &nid)) hpush(heap, &hn, (hent){r, (uint32_t)i, nid});
    }
    while (hn) {
        hent top = hpop(heap, &hn);
        size_t p = top.pos;
        if (id[p] < 0 || next[p] < 0) continue;
        size_t q = (size_t)next[p];
        uint32_t r; int32_t nid;
        if (!lookup_pair(m, id[p], id[q], &r, &nid) || nid != top.id) continue;
        id[p] = nid;
        id[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = (int32_t)p;
        if (hn + 2 > hcap) {   /* cannot happen (each merge adds at most 2, removes 1 symbol) but stay safe */
            size_t nc = hcap * 2;
            hent *nh = heap == stack_heap ? malloc(nc * sizeof *nh) : realloc(heap, nc * sizeof *nh);
            if (!nh) { hn = 0; break; }
            if (heap == stack_heap) memcpy(nh, heap, hn * sizeof *nh);
            heap = nh; hcap = nc;
        }
        if (prev[p] >= 0 && lookup_pair(m, id[prev[p]], id[p], &r, &nid)) hpush(heap, &hn, (hent){r, (uint32_t)prev[p], nid});
        if (next[p] >= 0 && lookup_pair(m, id[p], id[next[p]], &r, &nid)) hpush(heap, &hn, (hent){r, (uint32_t)p, nid});
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) if (id[i] >= 0) id[w++] = id[i];
    syms->n = w;
    if (prev != stack_prev) free(prev);
    if (next != stack_next) free(next);
    if (heap != stack_heap) free(heap);
    return 0;
}

int rl_tkbpe_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out) {
    if (m->ignore_merges) {
        int32_t id = rl_tkmap_get(&m->vocab, w, n);
        if (id >= 0) return rl_tkivec_push(out, id);
    }
    rl_tkmodel *mm = (rl_tkmodel *)m;   /* the cache is internally synchronised */
    int cacheable = n <= CACHE_MAX_WORD;
    if (cacheable && !pthread_mutex_lock(&mm->cache_mu)) {
        int32_t off = rl_tkmap_get(&m->cache, w, n);
        int st = 0;
        if (off >= 0) st = rl_tkivec_append(out, m->cache_ids.v + off + 1, (size_t)m->cache_ids.v[off]);
        pthread_mutex_unlock(&mm->cache_mu);
        if (off >= 0) return st;
    }
    size_t start = out->n;
    rl_ivec syms = {0};
    int st = initial_symbols(m, w, n, &syms);
    if (!st) st = merge_all(m, &syms);
    if (!st) st = rl_tkivec_append(out, syms.v, syms.n);
    free(syms.v);
    if (st || !cacheable) return st;
    if (!pthread_mutex_lock(&mm->cache_mu)) {
        if (mm->cache.n >= CACHE_MAX_ENTRIES) { rl_tkmap_clear(&mm->cache); mm->cache_ids.n = 0; }
        size_t cnt = out->n - start, off = mm->cache_ids.n;
        if (off < INT32_MAX / 2 && !rl_tkivec_push(&mm->cache_ids, (int32_t)cnt) &&
            (cnt == 0 || !rl_tkivec_append(&mm->cache_ids, out->v + start, cnt)))   /* no ids: out->v may be NULL */
            rl_tkmap_put(&mm->cache, w, n, (int32_t)off);
        pthread_mutex_unlock(&mm->cache_mu);
    }
    return 0;
}
