/* Speculative decoding for batched sequences: one sweep of the target verifies a token tree per
 * sequence (rl_model_eval_tree_batch), the draft grows all the trees together (see
 * spec_batch.c). Called by rl_generate_batch when rl_batch_opts.draft_model is set. */
#ifndef RL_GEN_SPEC_BATCH_H
#define RL_GEN_SPEC_BATCH_H
#include "gen/batch.h"

/* As rl_generate_batch, after its checks (caches of sequences 0..n-1 cleared). 0 / -1 + rl_err. */
int rl_generate_batch_tree(rl_model *m, const int32_t *const *prompts, const int *n_prompt, int n,
                           const rl_batch_opts *o, int32_t **outs, int *n_outs, rl_gen_stats *st);

#endif
