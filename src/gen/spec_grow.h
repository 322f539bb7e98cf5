/* Token trees of speculative decoding, shared by one sequence (spec_tree.c) and batches of
 * sequences (spec_batch.c): growing a tree from the draft model's logits (SpecExec-style,
 * best-first by cumulative draft probability, with a spine along the draft's greedy path),
 * merging a prompt-lookup path into it, chains for models without trees, and the cost model
 * that picks the tree budget. */
#ifndef RL_GEN_SPEC_GROW_H
#define RL_GEN_SPEC_GROW_H
#include "rabbitllm.h"

#define RL_SPEC_CHILDREN 8    /* candidate children considered per node and round */
#define RL_SPEC_BUDGETS 9     /* budgets 1, 2, 4, ..., 256 */

typedef struct { int parent; int32_t tok; double cum; } rl_spec_cand;

typedef struct {
    int32_t tok[RL_TREE_MAX], par[RL_TREE_MAX];
    double cum[RL_TREE_MAX];  /* cumulative draft probability of each node's path */
    int n;                    /* nodes */
    int spine;                /* the deepest node of the draft's greedy path in the tree */
} rl_spec_tree;

/* A tree of the pending token alone. */
void rl_spec_tree_root(rl_spec_tree *t, int32_t root);
/* One growth round: dl holds the draft's logits rows (V each) of the tree's t->n nodes; the
 * most probable children not in the tree yet join, at most a few per round (the first extends
 * the spine), up to budget nodes. prob: V floats of scratch; c: RL_TREE_MAX * RL_SPEC_CHILDREN
 * candidates of scratch. Returns the candidates left over (0: the tree cannot grow). */
int rl_spec_tree_expand(rl_spec_tree *t, const float *dl, int V, int budget, float *prob, rl_spec_cand *c);
/* Merges the path look[0..k) below the root (existing nodes shared, new ones appended, at most
 * cap nodes in all; chain_only: only where it extends the last node). */
void rl_spec_tree_merge(rl_spec_tree *t, const int32_t *look, int k, int cap, int chain_only);
/* Grows the trees t[0..n) (roots set; tree k belongs to the draft's sequence seq[k], whose
 * cache holds the tokens before its root) up to budget[k] nodes each, in rounds of one batched
 * tree sweep of the draft dm over the trees still growing. items: n of scratch; dl: a row of V
 * floats per node of the budgets' sum (at most RL_TREE_MAX); prob, c: as rl_spec_tree_expand. 0 / -1 + rl_err. */
int rl_spec_grow_trees(rl_model *dm, rl_spec_tree *const *t, const int *seq, const int *budget, int n,
                       rl_tree_item *items, float *dl, float *prob, rl_spec_cand *c);

/* Chains instead (either model without token trees: recurrent layers, a DSA indexer): each of
 * t[0..n) grows along the draft's greedy path, one batched eval of the draft per node (every
 * chain's last node), then the draft's caches go back to the roots (a hybrid draft checkpoints
 * there first, so that costs no replay). bi: n of scratch; dl: n rows of V floats. */
int rl_spec_grow_chains(rl_model *dm, rl_spec_tree *const *t, const int *seq, const int *budget, int n,
                        rl_batch_item *bi, float *dl);

/* The cost model: tokens per second measured per budget 2^i (an average over its recent
 * sweeps, draft time included); the best is used, neighbours tried now and then, and budget 1
 * (no drafting) wins when drafting does not pay. */
typedef struct {
    double rate[RL_SPEC_BUDGETS];
    int uses[RL_SPEC_BUDGETS];
    int bi;                   /* the current budget index */
    int nmax;                 /* the largest budget allowed */
    int top;                  /* the largest budget's index (draft_fixed) */
} rl_spec_cost;

void rl_spec_cost_init(rl_spec_cost *c, int nmax);
/* The budget index for the next sweep (the sweeps run so far steer exploration). */
int rl_spec_cost_choose(rl_spec_cost *c, int sweeps);
/* The sweep at budget index c->bi yielded tokens in seconds. */
void rl_spec_cost_record(rl_spec_cost *c, int tokens, double seconds);

#endif
