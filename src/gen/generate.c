/* Generation loop (see generate.h). */
#include "gen/generate.h"
#include "gen/sampler.h"
#include "gen/spec_tree.h"
#include "engine/model.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rl_prompt_lookup(const int32_t *h, int nh, int kmax, int32_t *d) {
    int lo = nh > 4096 ? nh - 4096 : 0;
    for (int g = 3; g >= 1; g--) {
        if (nh < g + 1) continue;
        const int32_t *tail = h + nh - g;
        for (int i = nh - g - 1; i >= lo; i--) {
            if (memcmp(h + i, tail, (size_t)g * sizeof *h)) continue;
            int k = 0;
            while (k < kmax && i + g + k < nh) { d[k] = h[i + g + k]; k++; }
            if (k) return k;
        }
    }
    return 0;
}

/* Emits one generated token: output, history, stop checks, callback. Returns 1 to stop. */
static int emit(rl_model *m, const rl_gen_opts *o, int32_t tok, int32_t *out, int *n_out, int32_t *hist, int *nh, rl_gen_stats *st) {
    out[(*n_out)++] = tok;
    hist[(*nh)++] = tok;
    int stop = 0;
    if (!o->ignore_eos) {
        if (rl_model_is_eos(m, tok)) stop = 1;
        for (int j = 0; j < o->n_stop; j++) if (o->stop_ids[j] == tok) stop = 1;
        if (stop && st) st->stopped_by_eos = 1;
    }
    if (o->on_token && o->on_token(o->ctx, tok)) stop = 1;
    return stop || *n_out >= o->max_new;
}

int rl_generate(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out, rl_gen_stats *st) {
    int V = rl_model_vocab(m), rc = -1;
    rl_gen_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    *n_out = 0;
    if (n <= 0) return rl_err("empty prompt");
    if (o->max_new <= 0) return 0;
    if (o->draft_model) return rl_generate_tree(m, prompt, n, o, out, n_out, st, emit);
    int all = o->on_logits != NULL;
    /* hybrid models: each verification starts at a state checkpoint, so a rejected draft replays
     * only the sweep's accepted tokens (inside the next sweep) */
    int cheap = rl_model_rewind_is_cheap(m), K = o->draft > 0 ? (o->draft < 32 ? o->draft : 32) : 0;
    size_t rows = (size_t)(all && n > K + 1 ? n : K + 1);
    float *lg = malloc(rows * V * sizeof(float)), *row = malloc((size_t)V * sizeof(float));
    int32_t *hist = malloc((size_t)(n + o->max_new + K + 2) * sizeof(int32_t)), feed[33];
    rl_sampler *s = rl_sampler_new(V, &o->sampling);
    if (!lg || !row || !hist || !s) { rl_err("out of memory"); goto done; }
    memcpy(hist, prompt, (size_t)n * sizeof(int32_t));
    int nh = n;
    double t0 = rl_now_s();
    if (rl_model_eval(m, prompt, n, lg, all)) goto done;
    /* a hybrid model's state at the prompt's end: the next turn of a chat, which keeps this
     * prompt but not the answer as generated (templates drop a reply's reasoning), rewinds to
     * about here and then replays only what follows instead of the whole conversation */
    if (!cheap && rl_model_seq_checkpoint(m, 0)) goto done;
    st->n_prompt = n;
    st->prefill_s = rl_now_s() - t0;
    if (all && o->on_logits(o->ctx, lg, n, V)) { rl_err("cannot write logits"); goto done; }
    memcpy(row, lg + (size_t)(all ? n - 1 : 0) * V, (size_t)V * sizeof(float));
    int32_t tok = rl_sampler_pick(s, row, hist, nh);
    t0 = rl_now_s();
    while (!emit(m, o, tok, out, n_out, hist, &nh, st)) {
        int room = rl_model_ctx(m) - rl_model_pos(m);
        if (room <= 0) { st->ctx_full = 1; break; } /* context full: stop cleanly */
        int kmax = K < o->max_new - *n_out ? K : o->max_new - *n_out;
        if (kmax > room - 1) kmax = room - 1;
        int k = kmax > 0 ? rl_prompt_lookup(hist, nh, kmax, feed + 1) : 0;
        feed[0] = tok;
        int pos0 = rl_model_pos(m);
        if (k > 0 && !cheap && rl_model_seq_checkpoint_slot(m, 0, RL_CKPT_SPEC)) goto done;
        if (rl_model_eval(m, feed, k + 1, lg, k > 0)) goto done;
        st->sweeps++;
        st->drafted += k;
        /* walk the verified rows: row j holds the logits after feed[j] */
        int j = 0, stop = 0;
        for (;; j++) {
            memcpy(row, lg + (size_t)j * V, (size_t)V * sizeof(float));
            if (j == k) { tok = rl_sampler_pick(s, row, hist, nh); break; }
            const int32_t *ids;
            const float *pr;
            int nc = rl_sampler_dist(s, row, hist, nh, &ids, &pr);
            double p = 0;
            for (int c = 0; c < nc; c++) if (ids[c] == feed[j + 1]) { p = pr[c]; break; }
            if (!(p >= 1.0 || (p > 0 && rl_sampler_uniform(s) < p))) { tok = rl_sampler_draw(s, feed[j + 1]); break; }
            st->accepted++;
            if (emit(m, o, feed[j + 1], out, n_out, hist, &nh, st)) { stop = 1; j++; break; }
        }
        /* keep feed[0..j] in the cache; later drafts were rejected (or not needed) */
        if (stop) rl_model_rewind(m, pos0 + j);  /* the stopping token itself is not fed back */
        else if (j < k) rl_model_rewind(m, pos0 + j + 1);
        if (all && o->on_logits(o->ctx, lg, stop ? j : j + 1, V)) { rl_err("cannot write logits"); goto done; }
        if (stop) break;
    }
    st->n_gen = *n_out;
    st->decode_s = rl_now_s() - t0;
    rc = 0;
done:
    free(lg); free(row); free(hist);
    rl_sampler_free(s);
    return rc;
}
