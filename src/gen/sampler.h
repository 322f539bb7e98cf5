/* Token sampling from a logits row: greedy, or temperature with top-k, top-p, min-p and a
 * repetition penalty, from a seeded generator (same seed, same output). */
#ifndef RL_SAMPLER_H
#define RL_SAMPLER_H
#include "rabbitllm.h"

typedef struct rl_sampler rl_sampler;

/* A sampler for vocab-sized rows; buffers allocated once here. NULL + rl_err on OOM. */
rl_sampler *rl_sampler_new(int vocab, const rl_sampling *p);
void rl_sampler_free(rl_sampler *s);
/* Picks the next token from logits (modified in place by the penalty). history: tokens seen
 * so far (prompt + generated) for the repetition penalty. */
int32_t rl_sampler_pick(rl_sampler *s, float *logits, const int32_t *history, int n_history);

#endif
