/* How the CLI's text commands (run -p, chat, serve) use the public session API: opening a
 * session from the flags, generation parameters from the flags, the summary line. */
#ifndef RL_CLI_CLITEXT_H
#define RL_CLI_CLITEXT_H
#include "cli/opts.h"
#include <stdio.h>

/* Opens the session of o (a note on stderr when the model has no chat template); NULL after
 * printing the error. */
rl_session *rl_cli_session_open(const rl_cli_opts *o);
/* Generation parameters from the flags (max tokens, sampling, --ignore-eos, --draft). */
rl_gen_params rl_cli_gen_params(const rl_cli_opts *o);
/* on_text callback writing each piece to stdout at once. */
int rl_cli_to_stdout(void *user, const char *piece, size_t len);
/* The reasoning kept apart from the answer (harmony's analysis channel, <think>) on stderr, dim on a terminal. */
int rl_cli_reasoning_to_stderr(void *user, const char *piece, size_t len);
/* "[N prompt tokens, X tok/s prefill; M generated, Y tok/s decode...]" on f. */
void rl_cli_print_summary(FILE *f, const rl_gen_info *in);

#endif
