/* --profile report: per stage (layer / head chunk) bytes read, read time, prefetch wait,
 * compute time and achieved read GB/s, plus totals. */
#ifndef RL_CLI_PROFILE_H
#define RL_CLI_PROFILE_H
#include "rabbitllm.h"
#include <stdio.h>

void rl_profile_reset(rl_model *m);
void rl_profile_print(const rl_model *m, FILE *f);

#endif
