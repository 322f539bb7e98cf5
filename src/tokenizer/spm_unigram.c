/* SentencePiece Unigram (EncodeOptimized of unigram_model.cc, 0.1.97: Viterbi over piece scores
 * with an unknown-character penalty, user-defined symbols boosted), plus the CHAR and WORD models. */
#include "tokenizer/spm_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

#define UNK_PENALTY 10.0f

typedef struct { int id; float score; long start; } best;

int rl_spm_encode_unigram(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out) {
    if (n == 0) return 0;
    best *bp = malloc((n + 1) * sizeof *bp);
    if (!bp) return rl_err("spm: out of memory (unigram)");
    for (size_t i = 0; i <= n; i++) { bp[i].id = -1; bp[i].score = 0.0f; bp[i].start = -1; }
    const float unk_score = s->min_score - UNK_PENALTY;
    size_t st = 0;
    while (st < n) {
        const float here = bp[st].score;
        int single = 0;
        size_t mblen = rl_spm_char_len(t + st, n - st);
        size_t maxl = s->max_piece_len < n - st ? s->max_piece_len : n - st;
        for (size_t l = 1; l <= maxl; l++) {
            int id = rl_spm_map_get(s, &s->normal, t + st, l);
            if (id < 0 || s->pieces[id].type == RL_SPM_UNUSED) continue;
            best *tg = &bp[st + l];
            /* the ternary's type is double in sentencepiece; keep the same arithmetic */
            double score = s->pieces[id].type == RL_SPM_USER_DEFINED ? (double)((float)l * s->max_score) - 0.1
                                                                     : (double)s->pieces[id].score;
            double cand = score + here;
            if (tg->start == -1 || cand > tg->score) {
                tg->score = (float)cand;
                tg->start = (long)st;
                tg->id = id;
            }
            if (l == mblen) single = 1;
        }
        if (!single) {
            best *tg = &bp[st + mblen];
            float cand = unk_score + here;
            if (tg->start == -1 || cand > tg->score) {
                tg->score = cand;
                tg->start = (long)st;
                tg->id = s->unk_id;
            }
        }
        st += mblen;
    }
    /* backtrack, then reverse what was appended */
    size_t first = out->n;
    for (size_t e = n; e > 0;) {
        const best *b = &bp[e];
        if (b->start < 0 || (size_t)b->start >= e) { free(bp); return rl_err("spm: unigram lattice broken"); }
        if (rl_spm_segs_push(out, (size_t)b->start, e - (size_t)b->start, b->id)) { free(bp); return -1; }
        e = (size_t)b->start;
    }
    for (size_t i = first, j = out->n ? out->n - 1 : 0; i < j; i++, j--) {
        rl_spm_seg tmp = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = tmp;
    }
    free(bp);
    return 0;
}

int rl_spm_encode_char(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out) {
    for (size_t off = 0; off < n;) {
        size_t ml = rl_spm_user_prefix(s, t + off, n - off);
        if (!ml) ml = rl_spm_char_len(t + off, n - off);
        if (rl_spm_segs_push(out, off, ml, rl_spm_lookup(s, t + off, ml))) return -1;
        off += ml;
    }
    return 0;
}

/* SplitIntoWords (treat_ws_as_suffix false, allow_ws_only_pieces false): a word starts at the
 * beginning and at every U+2581. */
int rl_spm_encode_word(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out) {
    size_t ws = 0, off = 0;
    while (off < n) {
        size_t ml = rl_spm_char_len(t + off, n - off);
        int is_ws = ml == 3 && memcmp(t + off, "\xe2\x96\x81", 3) == 0;
        if (off > 0 && is_ws) {
            if (rl_spm_segs_push(out, ws, off - ws, rl_spm_lookup(s, t + ws, off - ws))) return -1;
            ws = off;
        }
        off += ml;
    }
    if (n > 0 && rl_spm_segs_push(out, ws, n - ws, rl_spm_lookup(s, t + ws, n - ws))) return -1;
    return 0;
}
