/* `bench MODEL_DIR --draft-model DRAFT`: speculative decoding against plain decoding on the same
 * streamed target (see bench_draft.c). */
#ifndef RL_CLI_BENCH_DRAFT_H
#define RL_CLI_BENCH_DRAFT_H
#include "cli/opts.h"

/* Runs the draft benchmark on the parsed options (prompt --ids or a fixed pseudo-random one,
 * -n tokens, --draft-tokens / --draft-fixed / --draft-quant / --draft-backend / --draft as
 * given); prints to stdout. Returns the exit status. */
int rl_bench_draft(rl_cli_opts *o);

#endif
