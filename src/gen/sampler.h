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

/* The distribution the sampler draws from for this row, after the penalty, temperature, top-k,
 * top-p and min-p: *ids / *probs (owned by s, valid until the next call) hold n candidates, most
 * likely first, probabilities summing to 1. Greedy: the argmax with probability 1. */
int rl_sampler_dist(rl_sampler *s, float *logits, const int32_t *history, int n_history,
                    const int32_t **ids, const float **probs);
/* Draws from the last distribution, leaving out token `skip` (-1: none) and renormalising. */
int32_t rl_sampler_draw(rl_sampler *s, int32_t skip);
/* A uniform number in [0, 1) from the sampler's seeded generator. */
double rl_sampler_uniform(rl_sampler *s);

#endif
