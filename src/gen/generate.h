/* The generation loop: prefill the prompt in one sweep (or chunks), then one sweep per new
 * token, sampling each, stopping on eos ids, the token budget, a callback, or the context.
 * With speculation (draft > 0), each sweep also verifies up to `draft` tokens proposed by
 * prompt lookup (the continuation of the latest earlier occurrence of the last n-gram), so one
 * sweep can yield several tokens; acceptance follows speculative sampling, so the output
 * distribution is unchanged (greedy output is identical). */
#ifndef RL_GENERATE_H
#define RL_GENERATE_H
#include "rabbitllm.h"

typedef struct {
    int max_new;               /* most tokens to generate */
    rl_sampling sampling;
    int ignore_eos;            /* keep going past eos ids */
    const int32_t *stop_ids;   /* extra stop ids (end-of-turn tokens), may be NULL */
    int n_stop;
    int draft;                 /* most draft tokens verified per sweep (0 = off); with a draft
                                  model: prompt-lookup candidates merged into each tree */
    rl_model *draft_model;     /* resident draft model of the same vocabulary: token trees (spec_tree.c) */
    int draft_tokens;          /* most tree nodes per sweep with a draft model (0 = 64); the cost
                                  model picks the budget up to it */
    int draft_fixed;           /* 1: always trees of draft_tokens nodes (no cost model; tests, benchmarks) */
    /* called with each generated token; return nonzero to stop after it */
    int (*on_token)(void *ctx, int32_t tok);
    /* called with logits rows as computed: the prompt's rows, then one per fed-back token */
    int (*on_logits)(void *ctx, const float *rows, int n_rows, int vocab);
    void *ctx;
} rl_gen_opts;

typedef struct {
    int n_prompt, n_gen;
    double prefill_s, decode_s;
    int stopped_by_eos;
    int sweeps;                /* decode sweeps run */
    int ctx_full;              /* stopped because the context was full */
    int drafted, accepted;     /* speculative tokens proposed / accepted */
    double draft_s, target_s;  /* with a draft model: time in the draft, in target tree sweeps */
    double target_compute_s;   /* of target_s, computing (the rest: waiting for weights to be read) */
} rl_gen_stats;

/* Prompt lookup: the tokens that followed the latest earlier occurrence of the last g tokens
 * of h (g = 3, 2, 1), at most kmax of them, into d. Returns how many. */
int rl_prompt_lookup(const int32_t *h, int nh, int kmax, int32_t *d);

/* Generates after prompt[0..n) (appended to the model's KV cache at its current position).
 * out receives up to max_new ids; *n_out their count. 0 / -1 + rl_err. */
int rl_generate(rl_model *m, const int32_t *prompt, int n, const rl_gen_opts *o, int32_t *out, int *n_out, rl_gen_stats *st);

#endif
