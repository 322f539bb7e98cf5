/* Token-tree growth, prompt-lookup merging and the budget cost model (see spec_grow.h). */
#include "gen/spec_grow.h"
#include "engine/model.h"
#include "util/err.h"
#include <math.h>
#include <stdlib.h>

void rl_spec_tree_root(rl_spec_tree *t, int32_t root) {
    t->tok[0] = root; t->par[0] = -1; t->cum[0] = 1.0;
    t->n = 1;
    t->spine = 0;
}

/* Softmax of one logits row into p (temperature 1: the draft's own beliefs). */
static void softmax(const float *x, float *p, int V) {
    float mx = x[0];
    for (int i = 1; i < V; i++) if (x[i] > mx) mx = x[i];
    double s = 0;
    for (int i = 0; i < V; i++) { p[i] = expf(x[i] - mx); s += p[i]; }
    for (int i = 0; i < V; i++) p[i] = (float)(p[i] / s);
}

/* 1 if node u already has a child with token tok. */
static int has_child(const rl_spec_tree *t, int u, int32_t tok) {
    for (int i = 1; i < t->n; i++) if (t->par[i] == u && t->tok[i] == tok) return 1;
    return 0;
}

int rl_spec_tree_expand(rl_spec_tree *t, const float *dl, int V, int budget, float *prob, rl_spec_cand *c) {
    int n = t->n, nc = 0;
    for (int u = 0; u < n; u++) { /* each node's most probable children not in the tree yet */
        softmax(dl + (size_t)u * V, prob, V);
        for (int k = 0; k < RL_SPEC_CHILDREN; k++) {
            int best = -1;
            for (int i = 0; i < V; i++)
                if (prob[i] >= 0 && (best < 0 || prob[i] > prob[best])) best = i;
            if (best < 0) break;
            double p = prob[best];
            prob[best] = -1; /* taken */
            if (!has_child(t, u, best)) c[nc++] = (rl_spec_cand){u, best, t->cum[u] * p};
        }
    }
    /* a round deepens the tree by at most one level: adding a few nodes per round (at most
     * doubling) lets a confident draft build deep paths within the budget. The first pick of
     * a round extends the spine (the draft's own greedy path, from the deepest spine node),
     * so the path a draft that agrees with the target would take is always in the tree. */
    int add = budget / 8 > 2 ? budget / 8 : 2;
    if (add > n) add = n;
    if (add > budget - n) add = budget - n;
    int sb = -1;
    for (int i = 0; i < nc; i++)
        if (c[i].parent == t->spine && (sb < 0 || c[i].cum > c[sb].cum)) sb = i;
    for (int a = 0; a < add && nc > 0; a++) {
        int b = 0;
        for (int i = 1; i < nc; i++) if (c[i].cum > c[b].cum) b = i;
        if (a == 0 && sb >= 0) b = sb;
        if (b == sb) t->spine = n;
        t->tok[n] = c[b].tok; t->par[n] = c[b].parent; t->cum[n] = c[b].cum;
        n++;
        c[b] = c[--nc];
        if (sb == nc) sb = b; /* the spine candidate moved into the freed place */
        else if (b == sb) sb = -1;
    }
    t->n = n;
    return nc;
}

void rl_spec_tree_merge(rl_spec_tree *t, const int32_t *look, int k, int cap, int chain_only) {
    int u = 0;
    for (int j = 0; j < k; j++) {
        int c = -1;
        for (int i = u + 1; i < t->n; i++) if (t->par[i] == u && t->tok[i] == look[j]) { c = i; break; }
        if (c < 0) {
            if (t->n >= cap || (chain_only && u != t->n - 1)) break;
            c = t->n++;
            t->tok[c] = look[j]; t->par[c] = u; t->cum[c] = 0;
        }
        u = c;
    }
}

int rl_spec_grow_trees(rl_model *dm, rl_spec_tree *const *t, const int *seq, const int *budget, int n,
                       rl_tree_item *items, float *dl, float *prob, rl_spec_cand *c) {
    int V = rl_model_vocab(dm);
    for (;;) {
        int ni = 0, at[RL_TREE_MAX];
        for (int k = 0; k < n && ni < RL_TREE_MAX; k++) /* the trees still growing */
            if (t[k]->n < budget[k] && t[k]->spine >= 0) {
                at[ni] = k;
                items[ni++] = (rl_tree_item){seq[k], t[k]->tok, t[k]->par, t[k]->n};
            }
        if (!ni) return 0;
        if (rl_model_eval_tree_batch(dm, items, ni, dl)) return -1;
        for (int j = 0, row = 0; j < ni; row += items[j].n, j++) {
            rl_spec_tree *z = t[at[j]];
            if (!rl_spec_tree_expand(z, dl + (size_t)row * V, V, budget[at[j]], prob, c) && z->n < budget[at[j]])
                z->spine = -1; /* cannot grow further: done */
        }
    }
}

int rl_spec_grow_chains(rl_model *dm, rl_spec_tree *const *t, const int *seq, const int *budget, int n,
                        rl_batch_item *bi, float *dl) {
    int V = rl_model_vocab(dm), rc = 0, *pos = malloc((size_t)n * 2 * sizeof(int)), *at = pos + n;
    if (!pos) return rl_err("out of memory");
    for (int k = 0; k < n; k++) pos[k] = rl_model_seq_pos(dm, seq[k]);
    /* a hybrid draft: the rewinds below restore this state (no replay of the prefix) */
    for (int k = 0; k < n && !rl_model_rewind_is_cheap(dm); k++)
        if (budget[k] > 1 && rl_model_seq_checkpoint_slot(dm, seq[k], RL_CKPT_SPEC)) { free(pos); return -1; }
    for (;;) {
        int ni = 0;
        for (int k = 0; k < n; k++) /* every chain still growing feeds its last node */
            if (t[k]->n < budget[k]) {
                at[ni] = k;
                bi[ni++] = (rl_batch_item){seq[k], &t[k]->tok[t[k]->n - 1], 1};
            }
        if (!ni) break;
        if ((rc = rl_model_eval_batch(dm, bi, ni, dl))) break;
        for (int j = 0; j < ni; j++) {
            rl_spec_tree *z = t[at[j]];
            const float *r = dl + (size_t)j * V;
            int best = 0;
            for (int i = 1; i < V; i++) if (r[i] > r[best]) best = i;
            z->tok[z->n] = best; z->par[z->n] = z->n - 1; z->cum[z->n] = 0;
            z->spine = z->n++;
        }
    }
    for (int k = 0; k < n; k++) /* the draft's caches back to the roots */
        if (rl_model_seq_rewind(dm, seq[k], pos[k])) rc = -1;
    free(pos);
    return rc;
}

void rl_spec_cost_init(rl_spec_cost *c, int nmax) {
    *c = (rl_spec_cost){.nmax = nmax};
    c->bi = 0; /* start without drafting; exploration grows the tree where it pays */
    for (c->top = 0; c->top + 1 < RL_SPEC_BUDGETS && (2 << c->top) <= nmax; c->top++) {}
}

/* the best measured budget; neighbours of the best are tried every 4th sweep while drafting
 * pays, at sweeps 4^k - 1 (3, 15, 63, ...) only while it is off, so a draft that never pays
 * costs less and less (a sweep with a tree costs the draft's catch-up and the extra rows) */
int rl_spec_cost_choose(rl_spec_cost *c, int sweeps) {
    int best = c->bi;
    for (int i = 0; i < RL_SPEC_BUDGETS && (1 << i) <= c->nmax; i++)
        if (c->uses[i] && c->rate[i] > c->rate[best]) best = i;
    int explore = best ? sweeps % 4 == 3 : sweeps > 0 && ((sweeps + 1) & sweeps) == 0 && (sweeps + 1) % 3 == 1;
    if (explore) {
        int up = best + 1, down = best - 1;
        if (up < RL_SPEC_BUDGETS && (1 << up) <= c->nmax && (!c->uses[up] || down < 0)) best = up;
        else if (down >= 0) best = down;
    }
    return c->bi = best;
}

void rl_spec_cost_record(rl_spec_cost *c, int tokens, double seconds) {
    double r = tokens / (seconds > 1e-9 ? seconds : 1e-9);
    c->rate[c->bi] = c->uses[c->bi] ? 0.7 * c->rate[c->bi] + 0.3 * r : r;
    c->uses[c->bi]++;
}
