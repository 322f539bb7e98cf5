/* `--draft-model PATH`: opens the draft model of speculative decoding (resident within the
 * memory budget, same backend and threads as the target) and checks it shares the target's
 * vocabulary: the same size and, where both have a tokenizer, the same token strings. */
#ifndef RL_CLI_DRAFT_H
#define RL_CLI_DRAFT_H
#include "cli/opts.h"

/* NULL when no draft model was asked for or on an error (printed; *failed set). */
rl_model *rl_cli_open_draft(const rl_cli_opts *o, const rl_model *target, int *failed);

#endif
