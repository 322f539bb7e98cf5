/* Speculative decoding with a draft model and token trees (see spec_tree.h).
 *
 * Each sweep of the target scores a tree of candidate continuations in one pass
 * (rl_model_eval_tree): node 0 is the pending token, the others were proposed by the resident
 * draft model, grown best-first by cumulative draft probability (SpecExec): every round the
 * draft scores the whole tree in one sweep of its own and the most probable children of any
 * node join, until the budget of nodes is reached. Acceptance is exact for any tree: at the
 * current node the target's own sampler picks the next token (argmax when greedy); if that token
 * is a child in the tree the walk moves on, else it becomes the next pending token. So the
 * output is the target's (same RNG draws as plain decoding: identical ids under a seed), and a
 * sweep yields 1 + the accepted path. The accepted path is committed to the target's cache
 * without recomputation (rl_model_tree_commit); the draft reads it before it drafts again.
 *
 * Models without token trees (recurrent layers, a backend without tree
 * attention) speculate with chains: the draft proposes its greedy path one token at a time (then
 * rewinds), the target verifies it through the same tree calls, which run a chain as plain rows
 * and keep its accepted prefix at the commit (the same exact walk). A recurrent (hybrid) target
 * checkpoints its state inside that sweep, so a rejected tail is fed again in front of the next
 * sweep instead of replaying the whole prefix.
 *
 * Prompt-lookup candidates (rl_gen_opts.draft > 0: the continuation of the last n-gram's
 * latest earlier occurrence) join the same tree as a path from the root, sharing the nodes the
 * draft already proposed, on top of the draft's budget.
 *
 * The budget follows a cost model: the measured tokens per second of each budget (an average
 * over its recent sweeps, draft time included) picks the budget; neighbours are tried now and
 * then, and a budget of 1 (the pending token alone: no drafting) wins when drafting does not pay. */
#include "gen/spec_tree.h"
#include "gen/sampler.h"
#include "gen/spec_grow.h"
#include "engine/model.h"
#include "util/err.h"
#include "util/timer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rl_model *m, *dm;
    int V, nmax;
    rl_spec_tree tr;          /* the tree of the current sweep */
    rl_spec_cost cost;        /* the budget */
    float *tl, *dl;           /* target / draft logits (RL_TREE_MAX rows) */
    float *prob;              /* vocab scratch */
    rl_spec_cand *c;          /* candidates */
    int chain_t, chain_d;     /* 1: the target verifies / the draft proposes chains, not trees */
    double draft_s, target_s, target_compute_s;
} tree_ctx;

/* Chains: the draft's greedy path from the pending token, one plain eval per token, then the
 * draft's cache rewound. Returns the node count (budget), -1 on an error. */
static int grow_chain(tree_ctx *T, int budget) {
    rl_spec_tree *t = &T->tr;
    int V = T->V, P = rl_model_pos(T->dm);
    double t0 = rl_now_s();
    /* a hybrid draft: the rewind below restores this state (no replay of the whole prefix) */
    if (budget > 1 && !rl_model_rewind_is_cheap(T->dm) && rl_model_seq_checkpoint_slot(T->dm, 0, RL_CKPT_SPEC)) return -1;
    while (t->n < budget) {
        if (rl_model_eval(T->dm, &t->tok[t->n - 1], 1, T->dl, 0)) return -1;
        int best = 0;
        for (int i = 1; i < V; i++) if (T->dl[i] > T->dl[best]) best = i;
        t->tok[t->n] = best; t->par[t->n] = t->n - 1; t->cum[t->n] = 0;
        t->n++;
    }
    if (t->n > 1 && rl_model_rewind(T->dm, P)) return -1;
    t->spine = t->n - 1;
    T->draft_s += rl_now_s() - t0;
    return t->n;
}

/* Grows the tree from the pending token to `budget` nodes (one draft tree sweep per round);
 * returns the node count. */
static int grow(tree_ctx *T, int32_t root, int budget) {
    rl_spec_tree *t = &T->tr;
    rl_spec_tree_root(t, root);
    if (T->chain_d) return grow_chain(T, budget);
    while (t->n < budget) {
        double t0 = rl_now_s();
        if (rl_model_eval_tree(T->dm, t->tok, t->par, t->n, T->dl)) return -1;
        int left = rl_spec_tree_expand(t, T->dl, T->V, budget, T->prob, T->c);
        T->draft_s += rl_now_s() - t0;
        if (!left && t->n < budget) break;
    }
    return t->n;
}

/* Seconds the model has spent computing (all stages) since open or the last profile reset. */
static double compute_total(const rl_model *m) {
    double t = 0;
    for (int s = 0; s < m->n_stages; s++) t += m->compute_s[s];
    return t;
}

int rl_generate_tree(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out,
                     rl_gen_stats *st, int (*emit)(rl_model *, const rl_gen_opts *, int32_t, int32_t *, int *, int32_t *,
                                                   int *, rl_gen_stats *)) {
    rl_model *dm = o->draft_model;
    int V = rl_model_vocab(m), rc = -1;
    if (rl_model_vocab(dm) != V) return rl_err("draft model: vocabulary of %d tokens, the target has %d", rl_model_vocab(dm), V);
    tree_ctx T = {.m = m, .dm = dm, .V = V};
    /* recurrent (hybrid) models, no tree attention: the tree API verifies chains (a hybrid target
     * checkpoints its state inside each, so the rejected tail costs no replay of the prefix) */
    T.chain_t = !rl_model_tree_ok(m);
    int cheap = rl_model_rewind_is_cheap(m);
    T.chain_d = T.chain_t || !rl_model_tree_ok(dm); /* the draft proposes what the target can verify */
    T.nmax = o->draft_tokens > 0 ? o->draft_tokens : 64;
    if (T.nmax > RL_TREE_MAX) T.nmax = RL_TREE_MAX;
    int sweep_cap = m->max_T < dm->max_T ? m->max_T : dm->max_T; /* --batch: rows a sweep holds */
    if (sweep_cap > RL_TREE_MAX) sweep_cap = RL_TREE_MAX;
    if (T.nmax > sweep_cap) T.nmax = sweep_cap;
    T.tl = malloc((size_t)RL_TREE_MAX * V * sizeof(float));
    T.dl = malloc((size_t)RL_TREE_MAX * V * sizeof(float));
    T.prob = malloc((size_t)V * sizeof(float));
    T.c = malloc((size_t)RL_TREE_MAX * RL_SPEC_CHILDREN * sizeof(rl_spec_cand));
    int32_t *hist = malloc((size_t)(n + o->max_new + 2) * sizeof(int32_t));
    int32_t *dpend = malloc((size_t)(o->max_new + 2) * sizeof(int32_t)); /* accepted tokens the draft has not read */
    int ndp = 0;
    float *row = malloc((size_t)V * sizeof(float));
    rl_sampler *s = rl_sampler_new(V, &o->sampling);
    int all = o->on_logits != NULL;
    float *pl = all ? malloc((size_t)n * V * sizeof(float)) : NULL;
    if (!T.tl || !T.dl || !T.prob || !T.c || !hist || !dpend || !row || !s || (all && !pl)) { rl_err("out of memory"); goto done; }
    rl_spec_cost_init(&T.cost, T.nmax);
    memcpy(hist, prompt, (size_t)n * sizeof(int32_t));
    int nh = n;
    double t0 = rl_now_s();
    { /* the draft's cache follows the target's (a session may have rewound the target) */
        const int32_t *th;
        int P0 = rl_model_tokens(m, &th), keep = rl_model_common_prefix(dm, th, P0);
        if (rl_model_rewind(dm, keep) || (keep < P0 && rl_model_eval(dm, th + keep, P0 - keep, NULL, 0))) goto done;
    }
    if (rl_model_eval(m, prompt, n, all ? pl : row, all) || rl_model_eval(dm, prompt, n, NULL, 0)) goto done;
    if (!cheap && rl_model_seq_checkpoint(m, 0)) goto done; /* the prompt's end (see generate.c) */
    st->n_prompt = n;
    st->prefill_s = rl_now_s() - t0;
    if (all && o->on_logits(o->ctx, pl, n, V)) { rl_err("cannot write logits"); goto done; }
    if (all) memcpy(row, pl + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
    int32_t tok = rl_sampler_pick(s, row, hist, nh);
    t0 = rl_now_s();
    while (!emit(m, o, tok, out, n_out, hist, &nh, st)) {
        int room = rl_model_ctx(m) - rl_model_pos(m), droom = rl_model_ctx(dm) - rl_model_pos(dm) - ndp;
        if (room <= 0 || droom <= 0) { st->ctx_full = 1; break; }
        if (o->draft_fixed) T.cost.bi = T.cost.top;
        else rl_spec_cost_choose(&T.cost, st->sweeps);
        int budget = 1 << T.cost.bi, left = o->max_new - *n_out;
        if (budget > room) budget = room;
        if (budget > droom) budget = droom;
        if (budget > left + 1) budget = left + 1; /* no point proposing past max_new */
        double s0 = rl_now_s();
        if (budget > 1 && ndp) { /* the draft catches up only when it drafts (budget 1 costs it nothing) */
            double t2 = rl_now_s();
            if (rl_model_eval(dm, dpend, ndp, NULL, 0)) goto done;
            ndp = 0;
            T.draft_s += rl_now_s() - t2;
        }
        int nn = grow(&T, tok, budget);
        if (nn < 0) goto done;
        if (o->draft > 0) { /* prompt lookup joins the tree */
            int32_t look[32];
            int cap = room < droom ? room : droom, kmax = o->draft < 32 ? o->draft : 32;
            if (cap > T.nmax + kmax) cap = T.nmax + kmax;
            if (cap > sweep_cap) cap = sweep_cap;
            if (kmax > left) kmax = left;
            int k = kmax > 0 ? rl_prompt_lookup(hist, nh, kmax, look) : 0;
            rl_spec_tree_merge(&T.tr, look, k, cap, T.chain_t);
            nn = T.tr.n;
        }
        double t1 = rl_now_s(), c1 = compute_total(m);
        if (nn == 1 ? rl_model_eval(m, T.tr.tok, 1, T.tl, 0)
                    : rl_model_eval_tree(m, T.tr.tok, T.tr.par, nn, T.tl))
            goto done;
        T.target_s += rl_now_s() - t1;
        T.target_compute_s += compute_total(m) - c1;
        st->sweeps++;
        st->drafted += nn - 1;
        /* walk: the target's pick at each node; on to the child that has it, if any */
        int32_t path[RL_TREE_MAX];
        int np = 0, u = 0, stop = 0;
        path[np++] = 0;
        for (;;) {
            memcpy(row, T.tl + (size_t)u * V, (size_t)V * sizeof(float));
            int32_t t = rl_sampler_pick(s, row, hist, nh);
            int c = -1;
            for (int i = u + 1; i < nn; i++) if (T.tr.par[i] == u && T.tr.tok[i] == t) { c = i; break; }
            if (c < 0) { tok = t; break; }
            st->accepted++;
            if (emit(m, o, t, out, n_out, hist, &nh, st)) { stop = 1; break; } /* not fed back */
            path[np++] = c;
            u = c;
        }
        if (all) /* the rows of the fed-back tokens, in order */
            for (int i = 0; i < np; i++)
                if (o->on_logits(o->ctx, T.tl + (size_t)path[i] * V, 1, V)) { rl_err("cannot write logits"); goto done; }
        int32_t ptok[RL_TREE_MAX];
        for (int i = 0; i < np; i++) ptok[i] = T.tr.tok[path[i]];
        if (nn > 1 && rl_model_tree_commit(m, path, np))
            goto done; /* a lone root went in as a plain eval */
        memcpy(dpend + ndp, ptok, (size_t)np * sizeof(int32_t));
        ndp += np;
        rl_spec_cost_record(&T.cost, np, rl_now_s() - s0);
        if (stop) break;
    }
    st->n_gen = *n_out;
    st->decode_s = rl_now_s() - t0;
    st->draft_s = T.draft_s;
    st->target_s = T.target_s;
    st->target_compute_s = T.target_compute_s;
    rc = 0;
done:
    free(T.tl); free(T.dl); free(T.prob); free(T.c); free(hist); free(dpend); free(row); free(pl);
    rl_sampler_free(s);
    return rc;
}

rl_model *rl_draft_open(const char *dir, const rl_model_opts *target_opts, const char *backend, int n_seq) {
    rl_model_opts o = target_opts ? *target_opts : (rl_model_opts){0};
    o.mem_budget = RL_MEM_BUDGET_AUTO; /* resident as far as memory allows */
    o.n_seq = n_seq > 0 ? n_seq : 1;
    if (backend) o.backend = backend;
    rl_model *d = rl_model_open(dir, &o);
    if (!d) rl_err_prefix("draft model: ");
    return d;
}

int rl_draft_check(const char *target_dir, const rl_model *target, const char *draft_dir, const rl_model *draft) {
    int V = rl_model_vocab(target);
    if (rl_model_vocab(draft) != V)
        return rl_err("draft model %s: vocabulary of %d tokens, the target %s has %d", draft_dir, rl_model_vocab(draft),
                      target_dir, V);
    rl_tokenizer *a = rl_tokenizer_open(target_dir), *b = rl_tokenizer_open(draft_dir);
    int rc = 0;
    for (int id = 0; a && b && id < V && !rc; id++) {
        char *pa = NULL, *pb = NULL;
        size_t la = 0, lb = 0;
        int ea = rl_token_to_piece(a, id, &pa, &la), eb = rl_token_to_piece(b, id, &pb, &lb);
        if (ea != eb || (!ea && (la != lb || memcmp(pa, pb, la))))
            rc = rl_err("draft model %s: token %d is \"%.*s\" there but \"%.*s\" in the target %s", draft_dir, id,
                        (int)(eb ? 0 : lb), eb ? "" : pb, (int)(ea ? 0 : la), ea ? "" : pa, target_dir);
        rl_release(pa); rl_release(pb);
    }
    rl_tokenizer_close(a); rl_tokenizer_close(b);
    return rc;
}
