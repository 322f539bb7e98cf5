/* Batched generation (see batch.h). */
#include "gen/batch.h"
#include "gen/sampler.h"
#include "gen/spec_batch.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdlib.h>
#include <string.h>

int rl_generate_batch(rl_model *m, const int32_t *const *prompts, const int *n_prompt, int n,
                      const rl_batch_opts *o, int32_t **outs, int *n_outs, rl_gen_stats *st) {
    rl_gen_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (n <= 0) return rl_err("batch: no prompts");
    if (n > rl_model_n_seq(m)) return rl_err("batch: %d prompts but the model was opened for %d sequences", n, rl_model_n_seq(m));
    int V = rl_model_vocab(m), rc = -1, total = 0;
    for (int i = 0; i < n; i++) {
        if (n_prompt[i] <= 0) return rl_err("batch: prompt %d is empty", i);
        total += n_prompt[i];
        n_outs[i] = 0;
        rl_model_seq_rewind(m, i, 0);
    }
    if (o->draft_model) return rl_generate_batch_tree(m, prompts, n_prompt, n, o, outs, n_outs, st); /* spec_batch.c */
    float *lg = malloc((size_t)n * V * sizeof(float));
    rl_batch_item *items = malloc((size_t)n * sizeof *items);
    int32_t **hist = calloc((size_t)n, sizeof *hist), *last = malloc((size_t)n * sizeof *last);
    int *nh = calloc((size_t)n, sizeof *nh), *seq_of = malloc((size_t)n * sizeof *seq_of);
    rl_sampler **smp = calloc((size_t)n, sizeof *smp);
    if (!lg || !items || !hist || !last || !nh || !seq_of || !smp) { rl_err("out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        rl_sampling sp = o->sampling;
        sp.seed += (uint64_t)i;
        hist[i] = malloc(((size_t)n_prompt[i] + o->max_new + 1) * sizeof(int32_t));
        if (!hist[i] || !(smp[i] = rl_sampler_new(V, &sp))) { rl_err("out of memory"); goto done; }
        memcpy(hist[i], prompts[i], (size_t)n_prompt[i] * sizeof(int32_t));
        nh[i] = n_prompt[i];
        items[i] = (rl_batch_item){i, prompts[i], n_prompt[i]};
    }
    double t0 = rl_now_s();
    if (rl_model_eval_batch(m, items, n, lg)) goto done;
    st->n_prompt = total;
    st->prefill_s = rl_now_s() - t0;
    t0 = rl_now_s();
    /* rows of lg follow the items of the last eval: seq_of[r] = sequence of row r */
    int n_rows = n;
    for (int i = 0; i < n; i++) seq_of[i] = i;
    while (n_rows > 0 && o->max_new > 0) {
        int n_next = 0;
        for (int r = 0; r < n_rows; r++) {
            int i = seq_of[r];
            int32_t tok = rl_sampler_pick(smp[i], lg + (size_t)r * V, hist[i], nh[i]);
            outs[i][n_outs[i]++] = tok;
            hist[i][nh[i]++] = tok;
            int stop = n_outs[i] >= o->max_new || rl_model_seq_pos(m, i) >= rl_model_ctx(m);
            if (!o->ignore_eos) {
                if (rl_model_is_eos(m, tok)) stop = 1;
                for (int j = 0; j < o->n_stop; j++) if (o->stop_ids[j] == tok) stop = 1;
            }
            if (o->on_token && o->on_token(o->ctx, i, tok)) stop = 1;
            if (stop) continue;
            last[i] = tok;
            items[n_next++] = (rl_batch_item){i, &last[i], 1};
        }
        if (!n_next) break;
        if (rl_model_eval_batch(m, items, n_next, lg)) goto done;
        st->sweeps++;
        for (int r = 0; r < n_next; r++) seq_of[r] = items[r].seq;
        n_rows = n_next;
    }
    for (int i = 0; i < n; i++) st->n_gen += n_outs[i];
    st->decode_s = rl_now_s() - t0;
    rc = 0;
done:
    for (int i = 0; hist && i < n; i++) free(hist[i]);
    for (int i = 0; smp && i < n; i++) rl_sampler_free(smp[i]);
    free(lg); free(items); free(hist); free(last); free(nh); free(seq_of); free(smp);
    return rc;
}
