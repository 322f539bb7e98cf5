/* `bench` part (d): the first sweep of a freshly opened model with half its weights resident
 * (read at open) against the first sweep of one that streams everything, both from a cold page
 * cache, as a ratio (the resident read must run at streaming speed: ratio <= ~1). */
#ifndef RL_BENCH_BUDGET_H
#define RL_BENCH_BUDGET_H
#include "engine/model.h"
#include <stdio.h>

/* Runs `rounds` interleaved pairs on m's model directory with opts (mem_budget replaced) and
 * prints one line to f. 0, or -1 with rl_err. */
int rl_bench_first_sweep(const rl_model *m, const rl_model_opts *opts, int rounds, FILE *f);

#endif
