/* The scheduler's speculative step (serve --draft-model, see sched.h): each decoding slot feeds
 * its pending token as the root of a tree the draft grows, the model scores every tree in one
 * tree sweep, and each slot samples its rows in order with rl_sched_sample (the same function
 * and the same rows as plain steps, so the same tokens), going on to the child whose token it
 * drew, then commits the accepted path; the last draw stays pending as in plain steps. */
#include "server/sched_int.h"

/* Fails every slot of the step (the sweep's error): their caches are dropped. */
static void fail_all(rl_sched *s, int n, const char *error) {
    for (int k = 0; k < n; k++) {
        int i = s->dreq[k].seq;
        slot *sl = &s->slots[i];
        rl_model_seq_rewind(s->m, i, 0);
        sl->n_cached = 0;
        if (sl->busy) rl_sched_finish(s, sl, RL_FINISH_STOP, error);
        sl->n_toks = 0;
    }
}

/* Walks slot i's tree (its rows of s->tlog from row) and commits the accepted path; returns the
 * path's length. */
static int walk(rl_sched *s, int i, const rl_tree_item *t, int row) {
    slot *sl = &s->slots[i];
    const int32_t *tok = t->tokens, *par = t->parent;
    int np = 0, u = 0;
    s->path[np++] = 0;
    sl->n_cached++;                              /* the root, fed as a plain step feeds it */
    while (!rl_sched_sample(s, sl, s->tlog + (size_t)(row + u) * s->vocab)) {
        int c = -1;
        for (int j = u + 1; j < t->n; j++) if (par[j] == u && tok[j] == sl->next) { c = j; break; }
        if (c < 0) break;                        /* the draw stays pending */
        if (rl_sched_push_tok(sl, sl->next)) { rl_sched_finish(s, sl, RL_FINISH_STOP, rl_sched_last_error()); break; }
        sl->has_next = 0;
        sl->n_cached++;
        s->path[np++] = c;
        u = c;
    }
    s->st.draft_accepted += np - 1;
    if (rl_model_seq_tree_commit(s->m, i, s->path, np)) {
        rl_model_seq_rewind(s->m, i, 0);
        sl->n_cached = 0;
        if (sl->busy) rl_sched_finish(s, sl, RL_FINISH_STOP, rl_last_error());
        sl->n_toks = 0;
    }
    return np;
}

void rl_sched_draft_step(rl_sched *s, int budget) {
    double t0 = rl_sched_now();
    int n = 0, dec = 0, cap = rl_drafter_max_nodes(s->draft);
    for (int i = 0; i < s->n_slots; i++) dec += s->slots[i].busy && s->slots[i].has_next;
    int share = cap / (dec ? dec : 1);
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->busy || !sl->has_next) continue;
        if (rl_sched_push_tok(sl, sl->next)) { rl_sched_finish(s, sl, RL_FINISH_STOP, rl_sched_last_error()); continue; }
        sl->has_next = 0;
        int b = budget < share ? budget : share;
        int room = s->ctx - sl->n_cached, left = sl->t.max_tokens - sl->n_gen;
        if (b > room) b = room;
        if (b > left) b = left;                  /* no point proposing past max_tokens */
        s->dreq[n++] = (rl_draft_req){i, sl->toks, sl->n_cached, sl->next, b > 1 ? b : 1};
    }
    if (!n) return;
    if (rl_drafter_grow(s->draft, s->dreq, n, s->trees) || rl_model_eval_tree_batch(s->m, s->trees, n, s->tlog)) {
        fail_all(s, n, rl_last_error());
        return;
    }
    s->st.steps++;
    s->st.draft_steps++;
    int got = 0;
    for (int k = 0, row = 0; k < n; row += s->trees[k].n, k++) {
        s->st.draft_nodes += s->trees[k].n - 1;
        got += walk(s, s->trees[k].seq, &s->trees[k], row);
    }
    rl_drafter_record(s->draft, got, rl_sched_now() - t0);
}
