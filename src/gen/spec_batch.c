/* Speculative decoding for batched sequences (see spec_batch.h). Every sweep: the draft reads
 * each sequence's accepted tokens (one batched eval), grows every active sequence's tree in
 * rounds of one batched tree sweep of the draft each (rl_spec_tree_expand per sequence), the
 * target scores all trees in one batched tree sweep (one read of its weights for every
 * sequence), then each sequence walks its tree with its own sampler (seed + i, as plain batched
 * decoding: greedy and seeded ids are the same) and commits its accepted path. The tree budget
 * per sequence follows the cost model on the tokens per second of all sequences together, within
 * the rows a sweep holds (--batch) shared by the active sequences. Where either model has no
 * token trees (recurrent layers: Qwen3.5) the trees are the draft's greedy chains
 * (rl_spec_grow_chains), verified and committed the same way. */
#include "gen/spec_batch.h"
#include "gen/sampler.h"
#include "gen/spec_grow.h"
#include "engine/model.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    rl_spec_tree tr;
    rl_sampler *smp;
    int32_t *hist, *dpend;    /* history (prompt + generated); accepted tokens the draft has not read */
    int nh, ndp, active;
    int32_t tok;              /* the pending token (sampled, not yet in the target's cache) */
} seq_state;

static double compute_total(const rl_model *m) {
    double t = 0;
    for (int s = 0; s < m->n_stages; s++) t += m->compute_s[s];
    return t;
}

/* Emits one token of sequence i; returns 1 when the sequence stops. */
static int emit(rl_model *m, const rl_batch_opts *o, int i, seq_state *q, int32_t tok, int32_t **outs, int *n_outs) {
    outs[i][n_outs[i]++] = tok;
    q->hist[q->nh++] = tok;
    int stop = n_outs[i] >= o->max_new;
    if (!o->ignore_eos) {
        if (rl_model_is_eos(m, tok)) stop = 1;
        for (int j = 0; j < o->n_stop; j++) if (o->stop_ids[j] == tok) stop = 1;
    }
    if (o->on_token && o->on_token(o->ctx, i, tok)) stop = 1;
    return stop;
}

int rl_generate_batch_tree(rl_model *m, const int32_t *const *prompts, const int *n_prompt, int n,
                           const rl_batch_opts *o, int32_t **outs, int *n_outs, rl_gen_stats *st) {
    rl_model *dm = o->draft_model;
    int V = rl_model_vocab(m), rc = -1;
    if (rl_model_vocab(dm) != V) return rl_err("draft model: vocabulary of %d tokens, the target has %d", rl_model_vocab(dm), V);
    int chains = !rl_model_tree_ok(m) || !rl_model_tree_ok(dm); /* the draft proposes what the target can verify */
    if (rl_model_n_seq(dm) < n) return rl_err("draft model: opened for %d sequences, the batch has %d", rl_model_n_seq(dm), n);
    int cap = m->max_T < dm->max_T ? m->max_T : dm->max_T; /* rows of one sweep, shared by the sequences */
    if (cap > RL_TREE_MAX) cap = RL_TREE_MAX;
    if (cap < n) return rl_err("batched speculative decoding: %d sequences but a sweep holds %d rows (--batch)", n, cap);
    int nmax = o->draft_tokens > 0 ? o->draft_tokens : 64;
    if (nmax > cap) nmax = cap;
    seq_state *q = calloc((size_t)n, sizeof *q);
    rl_tree_item *items = malloc((size_t)n * sizeof *items);
    rl_batch_item *bi = malloc((size_t)n * sizeof *bi);
    int *idx = malloc((size_t)n * sizeof *idx), *budget = malloc((size_t)n * sizeof *budget), *bk = malloc((size_t)n * sizeof *bk);
    rl_spec_tree **tp = malloc((size_t)n * sizeof *tp);
    float *tl = malloc((size_t)RL_TREE_MAX * V * sizeof(float)), *dl = malloc((size_t)RL_TREE_MAX * V * sizeof(float));
    float *prob = malloc((size_t)V * sizeof(float)), *lg = malloc((size_t)n * V * sizeof(float));
    rl_spec_cand *cand = malloc((size_t)RL_TREE_MAX * RL_SPEC_CHILDREN * sizeof *cand);
    if (!q || !items || !bi || !idx || !budget || !bk || !tp || !tl || !dl || !prob || !lg || !cand) { rl_err("out of memory"); goto done; }
    int total = 0;
    for (int i = 0; i < n; i++) {
        rl_sampling sp = o->sampling;
        sp.seed += (uint64_t)i;
        q[i].hist = malloc(((size_t)n_prompt[i] + o->max_new + 2) * sizeof(int32_t));
        q[i].dpend = malloc(((size_t)o->max_new + 2) * sizeof(int32_t));
        if (!q[i].hist || !q[i].dpend || !(q[i].smp = rl_sampler_new(V, &sp))) { rl_err("out of memory"); goto done; }
        memcpy(q[i].hist, prompts[i], (size_t)n_prompt[i] * sizeof(int32_t));
        q[i].nh = n_prompt[i];
        total += n_prompt[i];
        if (rl_model_seq_rewind(dm, i, 0)) goto done;
        bi[i] = (rl_batch_item){i, prompts[i], n_prompt[i]};
    }
    double t0 = rl_now_s();
    if (rl_model_eval_batch(m, bi, n, lg) || rl_model_eval_batch(dm, bi, n, NULL)) goto done;
    st->n_prompt = total;
    st->prefill_s = rl_now_s() - t0;
    t0 = rl_now_s();
    int n_act = 0;
    for (int i = 0; i < n; i++) {
        q[i].tok = rl_sampler_pick(q[i].smp, lg + (size_t)i * V, q[i].hist, q[i].nh);
        q[i].active = o->max_new > 0 && !emit(m, o, i, &q[i], q[i].tok, outs, n_outs);
        n_act += q[i].active;
    }
    rl_spec_cost cost;
    rl_spec_cost_init(&cost, nmax);
    double draft_s = 0, target_s = 0, target_c = 0;
    while (n_act > 0) {
        if (o->draft_fixed) cost.bi = cost.top;
        else rl_spec_cost_choose(&cost, st->sweeps);
        int share = cap / n_act, na = 0, grow = 0;
        for (int i = 0; i < n; i++) {
            if (!q[i].active) continue;
            int room = rl_model_ctx(m) - rl_model_seq_pos(m, i), droom = rl_model_ctx(dm) - rl_model_seq_pos(dm, i) - q[i].ndp;
            if (room <= 0 || droom <= 0) { q[i].active = 0; st->ctx_full = 1; continue; }
            int b = 1 << cost.bi, left = o->max_new - n_outs[i];
            if (b > share) b = share;
            if (b > room) b = room;
            if (b > droom) b = droom;
            if (b > left + 1) b = left + 1; /* no point proposing past max_new */
            budget[i] = b;
            idx[na++] = i;
            rl_spec_tree_root(&q[i].tr, q[i].tok);
            grow |= b > 1;
        }
        if (!na) break;
        double s0 = rl_now_s();
        if (grow) { /* the draft reads the accepted tokens, then grows every tree in rounds */
            int nb = 0;
            for (int k = 0; k < na; k++) {
                seq_state *z = &q[idx[k]];
                if (budget[idx[k]] > 1 && z->ndp) bi[nb++] = (rl_batch_item){idx[k], z->dpend, z->ndp};
            }
            if (nb && rl_model_eval_batch(dm, bi, nb, NULL)) goto done;
            for (int k = 0; k < nb; k++) q[bi[k].seq].ndp = 0;
            for (int k = 0; k < na; k++) { tp[k] = &q[idx[k]].tr; bk[k] = budget[idx[k]]; }
            if (chains ? rl_spec_grow_chains(dm, tp, idx, bk, na, bi, dl) : rl_spec_grow_trees(dm, tp, idx, bk, na, items, dl, prob, cand))
                goto done;
            draft_s += rl_now_s() - s0;
        }
        double t1 = rl_now_s(), c1 = compute_total(m);
        for (int k = 0; k < na; k++) {
            seq_state *z = &q[idx[k]];
            items[k] = (rl_tree_item){idx[k], z->tr.tok, z->tr.par, z->tr.n};
        }
        if (rl_model_eval_tree_batch(m, items, na, tl)) goto done;
        target_s += rl_now_s() - t1;
        target_c += compute_total(m) - c1;
        st->sweeps++;
        int got = 0;
        for (int k = 0, row = 0; k < na; row += items[k].n, k++) {
            int i = idx[k], nn = items[k].n;
            seq_state *z = &q[i];
            const float *rows = tl + (size_t)row * V;
            st->drafted += nn - 1;
            int32_t path[RL_TREE_MAX];
            int np = 0, u = 0, stop = 0;
            path[np++] = 0;
            for (;;) { /* the target's pick at each node; on to the child that has it, if any */
                memcpy(prob, rows + (size_t)u * V, (size_t)V * sizeof(float));
                int32_t t = rl_sampler_pick(z->smp, prob, z->hist, z->nh);
                int c = -1;
                for (int j = u + 1; j < nn; j++) if (z->tr.par[j] == u && z->tr.tok[j] == t) { c = j; break; }
                if (c < 0) { z->tok = t; break; }
                st->accepted++;
                if (emit(m, o, i, z, t, outs, n_outs)) { stop = 1; break; } /* not fed back */
                path[np++] = c;
                u = c;
            }
            if (rl_model_seq_tree_commit(m, i, path, np)) goto done;
            for (int j = 0; j < np; j++) z->dpend[z->ndp++] = z->tr.tok[path[j]];
            got += np;
            if (!stop && emit(m, o, i, z, z->tok, outs, n_outs)) stop = 1;
            if (stop) { z->active = 0; n_act--; }
        }
        rl_spec_cost_record(&cost, got, rl_now_s() - s0);
    }
    for (int i = 0; i < n; i++) st->n_gen += n_outs[i];
    st->decode_s = rl_now_s() - t0;
    st->draft_s = draft_s;
    st->target_s = target_s;
    st->target_compute_s = target_c;
    rc = 0;
done:
    for (int i = 0; q && i < n; i++) { free(q[i].hist); free(q[i].dpend); rl_sampler_free(q[i].smp); }
    free(q); free(items); free(bi); free(idx); free(budget); free(bk); free(tp); free(tl); free(dl); free(prob); free(lg); free(cand);
    return rc;
}
