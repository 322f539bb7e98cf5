/* Generation loop (see generate.h). */
#include "gen/generate.h"
#include "gen/sampler.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rl_generate(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out, rl_gen_stats *st) {
    int V = rl_model_vocab(m), rc = -1;
    *n_out = 0;
    if (st) memset(st, 0, sizeof *st);
    if (n <= 0) return rl_err("empty prompt");
    int all = o->on_logits != NULL;
    float *lg = malloc((size_t)(all ? n : 1) * V * sizeof(float));
    int32_t *hist = malloc((size_t)(n + o->max_new + 1) * sizeof(int32_t));
    rl_sampler *s = rl_sampler_new(V, &o->sampling);
    if (!lg || !hist || !s) { rl_err("out of memory"); goto done; }
    memcpy(hist, prompt, (size_t)n * sizeof(int32_t));
    int nh = n;
    double t0 = rl_now_s();
    if (rl_model_eval(m, prompt, n, lg, all)) goto done;
    if (st) { st->n_prompt = n; st->prefill_s = rl_now_s() - t0; }
    if (all && o->on_logits(o->ctx, lg, n, V)) { rl_err("cannot write logits"); goto done; }
    float *last = lg + (size_t)(all ? n - 1 : 0) * V;
    t0 = rl_now_s();
    for (int i = 0; i < o->max_new; i++) {
        int32_t tok = rl_sampler_pick(s, last, hist, nh);
        out[(*n_out)++] = tok;
        hist[nh++] = tok;
        int stop = 0;
        if (!o->ignore_eos) {
            if (rl_model_is_eos(m, tok)) stop = 1;
            for (int j = 0; j < o->n_stop; j++) if (o->stop_ids[j] == tok) stop = 1;
            if (stop && st) st->stopped_by_eos = 1;
        }
        if (o->on_token && o->on_token(o->ctx, tok)) stop = 1;
        if (stop || i + 1 == o->max_new) break;
        if (rl_model_pos(m) >= rl_model_ctx(m)) break; /* context full: stop cleanly */
        if (rl_model_eval(m, &tok, 1, lg, 0)) goto done;
        last = lg;
        if (all && o->on_logits(o->ctx, lg, 1, V)) { rl_err("cannot write logits"); goto done; }
    }
    if (st) { st->n_gen = *n_out; st->decode_s = rl_now_s() - t0; }
    rc = 0;
done:
    free(lg); free(hist);
    rl_sampler_free(s);
    return rc;
}
