/* `bench MODEL_DIR --resident`: compute speed with every weight in RAM (see bench_resident.c). */
#ifndef RL_CLI_BENCH_RESIDENT_H
#define RL_CLI_BENCH_RESIDENT_H
#include "cli/opts.h"

/* Runs the resident benchmark on the parsed options (n: decode tokens); prints to stdout.
 * Returns the process exit status. */
int rl_bench_resident(rl_cli_opts *o, int n);

#endif
