/* The public drafter of include/rabbitllm.h (rl_drafter_*): token trees for callers that batch
 * sequences themselves (the server). Each sequence's draft cache follows the accepted tokens it
 * is given (common prefix kept, the rest fed in one batched eval); the trees grow with the
 * shared pieces of spec_grow.c (rl_spec_grow_trees, or rl_spec_grow_chains where either model
 * has no token trees; the cost model). */
#include "gen/spec_grow.h"
#include "engine/model.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

struct rl_drafter {
    rl_model *m, *dm;
    int V, cap, n_seq, dctx, fixed, sweeps;
    int chains;               /* either model without token trees: the trees are the draft's greedy chains */
    rl_spec_cost cost;
    rl_spec_tree *tr;         /* per sequence */
    int32_t *seen;            /* per sequence: dctx tokens, the draft's cache of it */
    rl_spec_tree **tp;
    int *seq, *bud;
    rl_tree_item *items;
    rl_batch_item *bi;
    float *dl, *prob;
    rl_spec_cand *cand;
};

rl_drafter *rl_drafter_new(rl_model *m, rl_model *d, int draft_tokens, int fixed) {
    if (!m || !d) { rl_err("drafter: no target or draft model"); return NULL; }
    if (rl_model_vocab(d) != rl_model_vocab(m)) {
        rl_err("draft model: vocabulary of %d tokens, the target has %d", rl_model_vocab(d), rl_model_vocab(m));
        return NULL;
    }
    rl_drafter *p = calloc(1, sizeof *p);
    if (!p) { rl_err("out of memory"); return NULL; }
    p->m = m; p->dm = d;
    p->V = rl_model_vocab(m);
    p->n_seq = rl_model_n_seq(d);
    p->dctx = rl_model_ctx(d);
    p->cap = m->max_T < d->max_T ? m->max_T : d->max_T;
    if (p->cap > RL_TREE_MAX) p->cap = RL_TREE_MAX;
    p->fixed = fixed;
    p->chains = !rl_model_tree_ok(m) || !rl_model_tree_ok(d);
    int nmax = draft_tokens > 0 ? draft_tokens : 64;
    rl_spec_cost_init(&p->cost, nmax < p->cap ? nmax : p->cap);
    size_t n = (size_t)p->n_seq;
    p->tr = calloc(n, sizeof *p->tr);
    p->seen = malloc(n * (size_t)p->dctx * sizeof *p->seen);
    p->tp = malloc(n * sizeof *p->tp);
    p->seq = malloc(n * sizeof *p->seq);
    p->bud = malloc(n * sizeof *p->bud);
    p->items = malloc(n * sizeof *p->items);
    p->bi = malloc(n * sizeof *p->bi);
    p->dl = malloc((size_t)p->cap * p->V * sizeof *p->dl);   /* the trees' nodes: at most cap */
    p->prob = malloc((size_t)p->V * sizeof *p->prob);
    p->cand = malloc((size_t)RL_TREE_MAX * RL_SPEC_CHILDREN * sizeof *p->cand);
    if (!p->tr || !p->seen || !p->tp || !p->seq || !p->bud || !p->items || !p->bi || !p->dl || !p->prob || !p->cand) {
        rl_drafter_free(p);
        rl_err("out of memory");
        return NULL;
    }
    return p;
}

void rl_drafter_free(rl_drafter *p) {
    if (!p) return;
    free(p->tr); free(p->seen); free(p->tp); free(p->seq); free(p->bud); free(p->items); free(p->bi);
    free(p->dl); free(p->prob); free(p->cand);
    free(p);
}

int rl_drafter_max_nodes(const rl_drafter *p) { return p->cap; }

int rl_drafter_budget(rl_drafter *p) {
    if (p->fixed) p->cost.bi = p->cost.top;
    else rl_spec_cost_choose(&p->cost, p->sweeps);
    return 1 << p->cost.bi;
}

void rl_drafter_record(rl_drafter *p, int tokens, double seconds) {
    rl_spec_cost_record(&p->cost, tokens, seconds);
    p->sweeps++;
}

/* Brings sequence r->seq of the draft to r->tokens: keeps the common prefix, returns the batch
 * item of the rest (n 0: nothing to feed). */
static rl_batch_item sync_seq(rl_drafter *p, const rl_draft_req *r) {
    int32_t *seen = p->seen + (size_t)r->seq * p->dctx;
    int have = rl_model_seq_pos(p->dm, r->seq), c = 0;
    while (c < have && c < r->n && seen[c] == r->tokens[c]) c++;
    if (c < have && rl_model_seq_rewind(p->dm, r->seq, c)) { rl_model_seq_rewind(p->dm, r->seq, 0); c = 0; }
    memcpy(seen + c, r->tokens + c, (size_t)(r->n - c) * sizeof *seen);
    return (rl_batch_item){r->seq, seen + c, r->n - c};
}

int rl_drafter_grow(rl_drafter *p, const rl_draft_req *reqs, int n, rl_tree_item *trees) {
    int nb = 0, ng = 0, total = 0;
    for (int k = 0; k < n; k++) {
        const rl_draft_req *r = &reqs[k];
        if (r->seq < 0 || r->seq >= p->n_seq) return rl_err("drafter: sequence %d out of range (the draft has %d)", r->seq, p->n_seq);
        for (int j = 0; j < k; j++)
            if (reqs[j].seq == r->seq) return rl_err("drafter: sequence %d appears twice", r->seq);
        int b = r->budget < 1 ? 1 : r->budget;
        if (b > p->dctx - r->n) b = p->dctx - r->n;   /* the draft's room for the tree */
        total += b > 1 ? b : 1;
        if (total > p->cap) return rl_err("drafter: %d tree nodes in all exceed the %d a sweep can hold", total, p->cap);
        rl_spec_tree_root(&p->tr[r->seq], r->root);
        if (b > 1) {
            rl_batch_item it = sync_seq(p, r);
            if (it.n > 0) p->bi[nb++] = it;
            p->tp[ng] = &p->tr[r->seq];
            p->seq[ng] = r->seq;
            p->bud[ng++] = b;
        }
    }
    if ((nb && rl_model_eval_batch(p->dm, p->bi, nb, NULL)) ||
        (ng && (p->chains ? rl_spec_grow_chains(p->dm, p->tp, p->seq, p->bud, ng, p->bi, p->dl)
                          : rl_spec_grow_trees(p->dm, p->tp, p->seq, p->bud, ng, p->items, p->dl, p->prob, p->cand)))) {
        for (int k = 0; k < ng; k++) rl_model_seq_rewind(p->dm, p->seq[k], 0);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const rl_spec_tree *t = &p->tr[reqs[k].seq];
        trees[k] = (rl_tree_item){reqs[k].seq, t->tok, t->par, t->n};
    }
    return 0;
}
