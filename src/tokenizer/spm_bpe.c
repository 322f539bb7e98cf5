/* SentencePiece BPE encoder (bpe_model.cc of sentencepiece 0.1.97): split into characters
 * (user-defined symbols kept whole and frozen), then repeatedly merge the adjacent pair whose
 * concatenation is the highest-scoring piece (ties: leftmost), then resegment UNUSED pieces. */
#include "tokenizer/spm_internal.h"
#include "util/err.h"
#include <stdlib.h>

typedef struct { int prev, next, freeze; size_t off, len; } sym;
typedef struct { int left, right; float score; size_t size; } pair;
typedef struct { int32_t id; size_t loff, llen, roff, rlen; } revm;

typedef struct {
    const rl_spm *s;
    const char *t;
    sym *sy;
    pair *heap;
    size_t nh, caph;
    revm *rev;
    size_t nrev, caprev;
} bpe;

/* h1 ranks below h2 (SymbolPairComparator). */
static int below(const pair *a, const pair *b) {
    return a->score < b->score || (a->score == b->score && a->left > b->left);
}

static int heap_push(bpe *b, pair p) {
    if (b->nh == b->caph) {
        size_t nc = b->caph ? b->caph * 2 : 256;
        pair *np = realloc(b->heap, nc * sizeof *np);
        if (!np) return rl_err("spm: out of memory (bpe)");
        b->heap = np;
        b->caph = nc;
    }
    size_t i = b->nh++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!below(&b->heap[up], &p)) break;
        b->heap[i] = b->heap[up];
        i = up;
    }
    b->heap[i] = p;
    return 0;
}

static pair heap_pop(bpe *b) {
    pair top = b->heap[0], last = b->heap[--b->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= b->nh) break;
        if (c + 1 < b->nh && below(&b->heap[c], &b->heap[c + 1])) c++;
        if (!below(&last, &b->heap[c])) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (b->nh) b->heap[i] = last;
    return top;
}

static int maybe_add(bpe *b, int left, int right) {
    if (left == -1 || right == -1 || b->sy[left].freeze || b->sy[right].freeze) return 0;
    size_t off = b->sy[left].off, size = b->sy[left].len + b->sy[right].len;
    int id = rl_spm_map_get(b->s, &b->s->normal, b->t + off, size);
    if (id < 0) return 0;
    pair p = { left, right, b->s->pieces[id].score, size };
    if (heap_push(b, p)) return -1;
    if (b->s->pieces[id].type == RL_SPM_UNUSED) {
        size_t k = 0;
        while (k < b->nrev && b->rev[k].id != id) k++;
        if (k == b->nrev) {
            if (b->nrev == b->caprev) {
                size_t nc = b->caprev ? b->caprev * 2 : 16;
                revm *nr = realloc(b->rev, nc * sizeof *nr);
                if (!nr) return rl_err("spm: out of memory (bpe)");
                b->rev = nr;
                b->caprev = nc;
            }
            b->nrev++;
        }
        revm r = { id, b->sy[left].off, b->sy[left].len, b->sy[right].off, b->sy[right].len };
        b->rev[k] = r;
    }
    return 0;
}

static int resegment(bpe *b, size_t off, size_t len, rl_spm_segs *out) {
    int id = rl_spm_lookup(b->s, b->t + off, len);
    if (id == -1 || b->s->pieces[id].type != RL_SPM_UNUSED) return rl_spm_segs_push(out, off, len, id);
    for (size_t k = 0; k < b->nrev; k++)
        if (b->rev[k].id == id) {
            revm r = b->rev[k];
            if (resegment(b, r.loff, r.llen, out)) return -1;
            return resegment(b, r.roff, r.rlen, out);
        }
    return rl_spm_segs_push(out, off, len, id);
}

int rl_spm_encode_bpe(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out) {
    if (n == 0) return 0;
    bpe b = { s, t, NULL, NULL, 0, 0, NULL, 0, 0 };
    int rc = -1;
    b.sy = malloc(n * sizeof *b.sy);
    if (!b.sy) { rl_err("spm: out of memory (bpe)"); goto done; }
    int ns = 0;
    for (size_t off = 0; off < n;) {
        size_t ml = rl_spm_user_prefix(s, t + off, n - off);
        sym y = { ns - 1, 0, ml != 0, off, 0 };
        if (!ml) ml = rl_spm_char_len(t + off, n - off);
        y.len = ml;
        off += ml;
        y.next = off < n ? ns + 1 : -1;
        b.sy[ns++] = y;
    }
    for (int i = 1; i < ns; i++)
        if (maybe_add(&b, i - 1, i)) goto done;
    while (b.nh) {
        pair top = heap_pop(&b);
        sym *l = &b.sy[top.left], *r = &b.sy[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.size) continue;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) b.sy[r->next].prev = top.left;
        r->len = 0;
        if (maybe_add(&b, l->prev, top.left)) goto done;
        if (maybe_add(&b, top.left, b.sy[top.left].next)) goto done;
    }
    for (int i = 0; i != -1; i = b.sy[i].next)
        if (resegment(&b, b.sy[i].off, b.sy[i].len, out)) goto done;
    rc = 0;
done:
    free(b.sy);
    free(b.heap);
    free(b.rev);
    return rc;
}
