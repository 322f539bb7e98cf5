/* Unigram model (HuggingFace semantics): Viterbi best path over vocabulary pieces, unknown
 * characters scored min_score - 10 and fused, then byte fallback for unknown pieces. */
#include "tokenizer/tok_model.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

typedef struct { double score; int64_t start; int32_t id; } node;

static int emit(const rl_tkmodel *m, const char *s, size_t n, rl_ivec *out) {
    int32_t id = rl_tkmap_get(&m->vocab, s, n);
    if (id >= 0) return rl_tkivec_push(out, id);
    if (m->byte_fallback) {
        size_t j = 0;
        while (j < n && m->byte_ids[(unsigned char)s[j]] >= 0) j++;
        if (j == n) {
            for (j = 0; j < n; j++) if (rl_tkivec_push(out, m->byte_ids[(unsigned char)s[j]])) return -1;
            return 0;
        }
    }
    if (m->unk_id < 0) return rl_err("model Unigram: unknown piece and no unk_id");
    return rl_tkivec_push(out, m->unk_id);
}

int rl_tkunigram_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out) {
    node *best = malloc((n + 1) * sizeof *best);
    if (!best) return rl_err("tokenizer: out of memory");
    for (size_t i = 0; i <= n; i++) best[i] = (node){0, -1, -1};
    best[0].start = 0;
    for (size_t s = 0; s < n;) {
        size_t mb = 1;
        while (s + mb < n && ((unsigned char)w[s + mb] & 0xC0) == 0x80) mb++;
        if (best[s].start < 0) { s += mb; continue; }
        double base = best[s].score;
        int single = 0;
        for (size_t e = s + 1; e <= n && e - s <= m->max_piece; e++) {
            if (e < n && ((unsigned char)w[e] & 0xC0) == 0x80) continue;
            int32_t id = rl_tkmap_get(&m->vocab, w + s, e - s);
            if (id < 0) continue;
            double c = base + m->scores[id];
            if (best[e].start < 0 || c > best[e].score) best[e] = (node){c, (int64_t)s, id};
            if (e - s == mb) single = 1;
        }
        if (!single) {
            double c = base + m->unk_score;
            if (best[s + mb].start < 0 || c > best[s + mb].score) best[s + mb] = (node){c, (int64_t)s, m->unk_id};
        }
        s += mb;
    }
    /* backtrack into (start, end) ranges, fusing consecutive unknowns */
    size_t *rg = malloc((2 * n + 2) * sizeof *rg), nr = 0;
    if (!rg) { free(best); return rl_err("tokenizer: out of memory"); }
    size_t e = n;
    int prev_unk = 0;
    while (e > 0) {
        size_t s = (size_t)best[e].start;
        int isunk = m->unk_id >= 0 && best[e].id == m->unk_id;
        if (isunk && prev_unk) rg[2 * nr - 2] = s;
        else { rg[2 * nr] = s; rg[2 * nr + 1] = e; nr++; }
        prev_unk = isunk;
        e = s;
    }
    int st = 0;
    for (size_t k = nr; k-- > 0 && !st;) st = emit(m, w + rg[2 * k], rg[2 * k + 1] - rg[2 * k], out);
    free(rg); free(best);
    return st;
}
