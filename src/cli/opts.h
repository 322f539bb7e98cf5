/* Command-line flags shared by run, chat and bench: model options and sampling. */
#ifndef RL_CLI_OPTS_H
#define RL_CLI_OPTS_H
#include "rabbitllm.h"

typedef struct {
    const char *model_dir;
    rl_model_opts model;
    rl_sampling sampling;
    int n_new;              /* -n */
    int draft;              /* --draft: speculative tokens per sweep (prompt lookup) */
    int ignore_eos;
    int profile;
    const char *ids;        /* --ids */
    const char *prompt;     /* -p */
    const char *system;     /* --system */
    int raw;                /* --raw */
    const char *dump_logits;
} rl_cli_opts;

/* Parses a size such as 4G, 500M, 64K or 1234 (decimal units). 0 / -1. */
int rl_cli_parse_size(const char *s, uint64_t *out);

/* Parses argv[1..] (argv[0] is the subcommand). Returns 0, or -1 after printing the problem
 * to stderr. Unknown flags are errors. */
int rl_cli_parse(int argc, char **argv, rl_cli_opts *o);

#endif
