/* --profile report: per stage (layer / head chunk) bytes read, read time, prefetch wait,
 * compute time and achieved read GB/s, plus totals. */
#ifndef RL_CLI_PROFILE_H
#define RL_CLI_PROFILE_H
#include "rabbitllm.h"
#include <stdio.h>

/* Reset / print the profile; through an MPI pipeline every rank's layers (each rank prints its
 * own part, in rank order, after rank 0's). */
void rl_profile_reset(rl_model *m);
void rl_profile_print(const rl_model *m, FILE *f);
/* Installs this file's per-rank print / reset for the pipeline's workers (main, every rank). */
void rl_profile_install_hooks(void);
/* With a draft model (speculative decoding): the draft's memory plan and backend, and per sweep
 * of the target the tree nodes, accepted tokens and the time split (draft, target read, target
 * compute). */
void rl_profile_print_draft(const rl_model *dm, int sweeps, int drafted, int accepted, double draft_s, double read_s,
                            double compute_s, FILE *f);

#endif
