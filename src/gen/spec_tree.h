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

/* Opens the draft model of dir: the target's options (threads, context, batch, KV type) with
 * every weight resident as far as memory allows (its own memory plan, decided before the
 * target's so the target's automatic budget counts it), n_seq sequences (1, or a batch's), on
 * backend (NULL: the target's). NULL + rl_err. */
rl_model *rl_draft_open(const char *dir, const rl_model_opts *target_opts, const char *backend, int n_seq);

/* A draft model for a target: the same vocabulary size and, where both directories have a
 * tokenizer, the same token string for every id. 0 / -1 + rl_err naming the first difference. */
int rl_draft_check(const char *target_dir, const rl_model *target, const char *draft_dir, const rl_model *draft);

#endif
