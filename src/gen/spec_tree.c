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
 * Models without token trees (MLA, a backend without tree attention) speculate with chains:
 * the draft proposes its greedy path one token at a time (then rewinds), the target verifies
 * it as a plain run of all its rows and rewinds to the accepted length (the same exact walk).
 * Recurrent (hybrid) models cannot rewind cheaply: refused.
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
#include "engine/model.h"
#include "util/err.h"
#include "util/timer.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHILDREN 8    /* candidate children considered per node and round */
#define N_BUDGETS 9   /* budgets 1, 2, 4, ..., 256 */

typedef struct { int parent; int32_t tok; double cum; } cand;

typedef struct {
    rl_model *m, *dm;
    int V, nmax;
    int32_t tok[RL_TREE_MAX], par[RL_TREE_MAX], kid_ok[RL_TREE_MAX];
    double cum[RL_TREE_MAX];
    float *tl, *dl;           /* target / draft logits (RL_TREE_MAX rows) */
    float *prob;              /* vocab scratch */
    cand *c;                  /* candidates */
    double rate[N_BUDGETS];   /* tokens/s measured per budget (EMA, 0 = not tried) */
    int uses[N_BUDGETS];
    int bi;                   /* current budget index */
    int top;                  /* the largest budget's index (draft_fixed) */
    int spine;                /* the deepest node of the draft's greedy path in the tree */
    int chain_t, chain_d;     /* 1: the target verifies / the draft proposes chains, not trees */
    double draft_s, target_s, target_compute_s;
} tree_ctx;

/* Softmax of one logits row into prob (temperature 1: the draft's own beliefs). */
static void softmax(const float *x, float *p, int V) {
    float mx = x[0];
    for (int i = 1; i < V; i++) if (x[i] > mx) mx = x[i];
    double s = 0;
    for (int i = 0; i < V; i++) { p[i] = expf(x[i] - mx); s += p[i]; }
    for (int i = 0; i < V; i++) p[i] = (float)(p[i] / s);
}

/* 1 if node u already has a child with token t. */
static int has_child(const tree_ctx *T, int n, int u, int32_t t) {
    for (int i = 1; i < n; i++) if (T->par[i] == u && T->tok[i] == t) return 1;
    return 0;
}

/* Chains: the draft's greedy path from the pending token, one plain eval per token, then the
 * draft's cache rewound. Returns the node count (budget), -1 on an error. */
static int grow_chain(tree_ctx *T, int budget) {
    int n = 1, V = T->V, P = rl_model_pos(T->dm);
    double t0 = rl_now_s();
    while (n < budget) {
        if (rl_model_eval(T->dm, &T->tok[n - 1], 1, T->dl, 0)) return -1;
        int best = 0;
        for (int i = 1; i < V; i++) if (T->dl[i] > T->dl[best]) best = i;
        T->tok[n] = best; T->par[n] = n - 1; T->cum[n] = 0;
        n++;
    }
    if (n > 1 && rl_model_rewind(T->dm, P)) return -1;
    T->spine = n - 1;
    T->draft_s += rl_now_s() - t0;
    return n;
}

/* Grows the tree from the pending token to `budget` nodes; returns the node count. */
static int grow(tree_ctx *T, int32_t root, int budget) {
    int n = 1, V = T->V;
    T->tok[0] = root; T->par[0] = -1; T->cum[0] = 1.0;
    T->spine = 0;
    if (T->chain_d) return grow_chain(T, budget);
    while (n < budget) {
        double t0 = rl_now_s();
        if (rl_model_eval_tree(T->dm, T->tok, T->par, n, T->dl)) return -1;
        int nc = 0;
        for (int u = 0; u < n; u++) { /* each node's most probable children not in the tree yet */
            softmax(T->dl + (size_t)u * V, T->prob, V);
            for (int k = 0; k < CHILDREN; k++) {
                int best = -1;
                for (int i = 0; i < V; i++)
                    if (T->prob[i] >= 0 && (best < 0 || T->prob[i] > T->prob[best])) best = i;
                if (best < 0) break;
                double p = T->prob[best];
                T->prob[best] = -1; /* taken */
                if (!has_child(T, n, u, best)) T->c[nc++] = (cand){u, best, T->cum[u] * p};
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
            if (T->c[i].parent == T->spine && (sb < 0 || T->c[i].cum > T->c[sb].cum)) sb = i;
        for (int a = 0; a < add && nc > 0; a++) {
            int b = 0;
            for (int i = 1; i < nc; i++) if (T->c[i].cum > T->c[b].cum) b = i;
            if (a == 0 && sb >= 0) b = sb;
            if (b == sb) T->spine = n;
            T->tok[n] = T->c[b].tok; T->par[n] = T->c[b].parent; T->cum[n] = T->c[b].cum;
            n++;
            T->c[b] = T->c[--nc];
            if (sb == nc) sb = b; /* the spine candidate moved into the freed place */
            else if (b == sb) sb = -1;
        }
        T->draft_s += rl_now_s() - t0;
        if (!nc && n < budget) break;
    }
    return n;
}

/* Merges the prompt-lookup path look[0..k) below the root into the tree of n nodes (existing
 * nodes shared, new ones appended, at most cap nodes in all; chain mode: only where it extends
 * the chain). Returns the node count. */
static int merge_lookup(tree_ctx *T, int n, const int32_t *look, int k, int cap) {
    int u = 0;
    for (int j = 0; j < k; j++) {
        int c = -1;
        for (int i = u + 1; i < n; i++) if (T->par[i] == u && T->tok[i] == look[j]) { c = i; break; }
        if (c < 0) {
            if (n >= cap || (T->chain_t && u != n - 1)) break;
            c = n++;
            T->tok[c] = look[j]; T->par[c] = u; T->cum[c] = 0;
        }
        u = c;
    }
    return n;
}

/* Seconds the model has spent computing (all stages) since open or the last profile reset. */
static double compute_total(const rl_model *m) {
    double t = 0;
    for (int s = 0; s < m->n_stages; s++) t += m->compute_s[s];
    return t;
}

/* The budget for the next sweep: the best measured one (sweep 0 runs without drafting), and
 * neighbours of the best are tried now and then (every 4th sweep while drafting
 * pays, at sweeps 2^k - 1 while it is off), so the choice follows the acceptance as it changes
 * and falls to no drafting when drafting does not pay. */
static int choose(tree_ctx *T, int sweeps) {
    int best = T->bi;
    for (int i = 0; i < N_BUDGETS && (1 << i) <= T->nmax; i++)
        if (T->uses[i] && T->rate[i] > T->rate[best]) best = i;
    /* explore a neighbour of the best: every 4th sweep while drafting pays; while it is off,
     * at sweeps 2^k - 1 only, so a draft that never pays costs less and less */
    int explore = best ? sweeps % 4 == 3 : ((sweeps + 1) & sweeps) == 0;
    if (explore) {
        int up = best + 1, down = best - 1;
        if (up < N_BUDGETS && (1 << up) <= T->nmax && (!T->uses[up] || down < 0)) best = up;
        else if (down >= 0) best = down;
    }
    return best;
}

int rl_generate_tree(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out,
                     rl_gen_stats *st, int (*emit)(rl_model *, const rl_gen_opts *, int32_t, int32_t *, int *, int32_t *,
                                                   int *, rl_gen_stats *)) {
    rl_model *dm = o->draft_model;
    int V = rl_model_vocab(m), rc = -1;
    if (rl_model_vocab(dm) != V) return rl_err("draft model: vocabulary of %d tokens, the target has %d", rl_model_vocab(dm), V);
    if (!rl_model_rewind_is_cheap(m) || !rl_model_rewind_is_cheap(dm))
        return rl_err("draft model: speculative decoding needs %s without recurrent (linear-attention) layers",
                      !rl_model_rewind_is_cheap(m) ? "a target" : "a draft model");
    tree_ctx T = {.m = m, .dm = dm, .V = V};
    T.chain_t = !rl_model_tree_ok(m);              /* MLA, no tree attention: verify chains */
    T.chain_d = T.chain_t || !rl_model_tree_ok(dm); /* the draft proposes what the target can verify */
    T.nmax = o->draft_tokens > 0 ? o->draft_tokens : 64;
    if (T.nmax > RL_TREE_MAX) T.nmax = RL_TREE_MAX;
    int sweep_cap = m->max_T < dm->max_T ? m->max_T : dm->max_T; /* --batch: rows a sweep holds */
    if (sweep_cap > RL_TREE_MAX) sweep_cap = RL_TREE_MAX;
    if (T.nmax > sweep_cap) T.nmax = sweep_cap;
    T.tl = malloc((size_t)RL_TREE_MAX * V * sizeof(float));
    T.dl = malloc((size_t)RL_TREE_MAX * V * sizeof(float));
    T.prob = malloc((size_t)V * sizeof(float));
    T.c = malloc((size_t)RL_TREE_MAX * CHILDREN * sizeof(cand));
    int32_t *hist = malloc((size_t)(n + o->max_new + 2) * sizeof(int32_t));
    int32_t *dpend = malloc((size_t)(o->max_new + 2) * sizeof(int32_t)); /* accepted tokens the draft has not read */
    int ndp = 0;
    float *row = malloc((size_t)V * sizeof(float));
    rl_sampler *s = rl_sampler_new(V, &o->sampling);
    int all = o->on_logits != NULL;
    float *pl = all ? malloc((size_t)n * V * sizeof(float)) : NULL;
    if (!T.tl || !T.dl || !T.prob || !T.c || !hist || !dpend || !row || !s || (all && !pl)) { rl_err("out of memory"); goto done; }
    T.bi = 0; /* start without drafting; exploration grows the tree where it pays */
    for (T.top = 0; (2 << T.top) <= T.nmax; T.top++) {}
    memcpy(hist, prompt, (size_t)n * sizeof(int32_t));
    int nh = n;
    double t0 = rl_now_s();
    { /* the draft's cache follows the target's (a session may have rewound the target) */
        const int32_t *th;
        int P0 = rl_model_tokens(m, &th), keep = rl_model_common_prefix(dm, th, P0);
        if (rl_model_rewind(dm, keep) || (keep < P0 && rl_model_eval(dm, th + keep, P0 - keep, NULL, 0))) goto done;
    }
    if (rl_model_eval(m, prompt, n, all ? pl : row, all) || rl_model_eval(dm, prompt, n, NULL, 0)) goto done;
    st->n_prompt = n;
    st->prefill_s = rl_now_s() - t0;
    if (all && o->on_logits(o->ctx, pl, n, V)) { rl_err("cannot write logits"); goto done; }
    if (all) memcpy(row, pl + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
    int32_t tok = rl_sampler_pick(s, row, hist, nh);
    t0 = rl_now_s();
    while (!emit(m, o, tok, out, n_out, hist, &nh, st)) {
        int room = rl_model_ctx(m) - rl_model_pos(m), droom = rl_model_ctx(dm) - rl_model_pos(dm) - ndp;
        if (room <= 0 || droom <= 0) { st->ctx_full = 1; break; }
        T.bi = o->draft_fixed ? T.top : choose(&T, st->sweeps);
        int budget = 1 << T.bi, left = o->max_new - *n_out;
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
            nn = merge_lookup(&T, nn, look, k, cap);
        }
        double t1 = rl_now_s(), c1 = compute_total(m);
        int P = rl_model_pos(m);
        if (nn == 1 ? rl_model_eval(m, T.tok, 1, T.tl, 0)
                    : T.chain_t ? rl_model_eval(m, T.tok, nn, T.tl, 1) : rl_model_eval_tree(m, T.tok, T.par, nn, T.tl))
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
            for (int i = u + 1; i < nn; i++) if (T.par[i] == u && T.tok[i] == t) { c = i; break; }
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
        for (int i = 0; i < np; i++) ptok[i] = T.tok[path[i]];
        if (nn > 1 && (T.chain_t ? rl_model_rewind(m, P + np) : rl_model_tree_commit(m, path, np)))
            goto done; /* a lone root went in as a plain eval */
        memcpy(dpend + ndp, ptok, (size_t)np * sizeof(int32_t));
        ndp += np;
        double dt = rl_now_s() - s0, r = np / (dt > 1e-9 ? dt : 1e-9);
        T.rate[T.bi] = T.uses[T.bi] ? 0.7 * T.rate[T.bi] + 0.3 * r : r;
        T.uses[T.bi]++;
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

rl_model *rl_draft_open(const char *dir, const rl_model_opts *target_opts, const char *backend) {
    rl_model_opts o = target_opts ? *target_opts : (rl_model_opts){0};
    o.mem_budget = RL_MEM_BUDGET_AUTO; /* resident as far as memory allows */
    o.n_seq = 1;
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
