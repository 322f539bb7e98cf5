/* `--draft-model PATH` (`--draft-quant 8|4`, `--draft-backend NAME`): opens the draft model of
 * speculative decoding, resident within the memory budget, before the target (so the target's
 * automatic budget counts it), and checks it shares the target's vocabulary: the same size and,
 * where both have a tokenizer, the same token strings. Also the summary line's draft part. */
#ifndef RL_CLI_DRAFT_H
#define RL_CLI_DRAFT_H
#include "cli/opts.h"
#include <stdio.h>

/* NULL when no draft model was asked for or on an error (printed; *failed set; the exit status
 * is rl_cli_exit_code()). */
rl_model *rl_cli_open_draft(const rl_cli_opts *o, int *failed);
/* Checks d against the target m; on a mismatch prints it, closes d and returns -1 (exit status:
 * rl_cli_exit_code()). */
int rl_cli_check_draft(const rl_cli_opts *o, const rl_model *m, rl_model *d);
/* ", nodes/sweep X.XX accepted/sweep Y.YY[, draft A s, target read B s, target compute C s]"
 * (the time split when with_times): the part of the summary line tools read. */
void rl_cli_draft_summary(FILE *f, int sweeps, int drafted, int accepted, int with_times, double draft_s,
                          double read_s, double compute_s);

#endif
