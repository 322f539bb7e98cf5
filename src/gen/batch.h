/* Batched generation: several prompts decoded together, one token per active sequence per
 * sweep, so each read of the weights serves every sequence (throughput for evaluations and
 * offline batches). Sequence i of the model runs prompt i. */
#ifndef RL_BATCH_H
#define RL_BATCH_H
#include "gen/generate.h"

typedef struct {
    int max_new;               /* most tokens per sequence */
    rl_sampling sampling;      /* sequence i samples with seed + i */
    int ignore_eos;
    const int32_t *stop_ids;   /* extra stop ids, may be NULL */
    int n_stop;
    /* called with each generated token of sequence seq; return nonzero to stop that sequence */
    int (*on_token)(void *ctx, int seq, int32_t tok);
    void *ctx;
    /* speculative decoding (spec_batch.c): a resident draft model opened with n_seq >= n; each
     * sweep of the target verifies one token tree per sequence (budget draft_tokens, 0 = 64,
     * shared by the sequences within a sweep's rows; the cost model picks it unless draft_fixed) */
    rl_model *draft_model;
    int draft_tokens, draft_fixed;
} rl_batch_opts;

/* Generates for prompts[0..n) (lengths n_prompt[i]) in sequences 0..n-1 of m (opened with
 * n_seq >= n; each sequence's cache is cleared first). outs[i] (max_new ids each) receive the
 * generated ids, n_outs[i] their counts. st (optional) sums the work: n_prompt, n_gen, times,
 * sweeps. 0 / -1 + rl_err. */
int rl_generate_batch(rl_model *m, const int32_t *const *prompts, const int *n_prompt, int n,
                      const rl_batch_opts *o, int32_t **outs, int *n_outs, rl_gen_stats *st);

#endif
