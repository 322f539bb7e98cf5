/* Speculative decoding with a resident draft model and token trees (SpecExec-style growth,
 * exact acceptance by the target's own sampler; see spec_tree.c). Called by rl_generate when
 * rl_gen_opts.draft_model is set. */
#ifndef RL_GEN_SPEC_TREE_H
#define RL_GEN_SPEC_TREE_H
#include "gen/generate.h"

/* As rl_generate (its emit function passed in). 0 / -1 + rl_err. */
int rl_generate_tree(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out,
                     rl_gen_stats *st, int (*emit)(rl_model *, const rl_gen_opts *, int32_t, int32_t *, int *, int32_t *,
                                                   int *, rl_gen_stats *));

#endif
