/* Command-line flags shared by run, chat and bench: model options and sampling. */
#ifndef RL_CLI_OPTS_H
#define RL_CLI_OPTS_H
#include "rabbitllm.h"

typedef struct {
    const char *model_dir;  /* the directory: MODEL as given, or a hub id org/name[@rev] resolved in the HF cache */
    const char *model_ref;  /* MODEL as given */
    rl_model_opts model;
    rl_sampling sampling;
    int n_new;              /* -n */
    int draft;              /* --draft: speculative tokens per sweep (prompt lookup) */
    const char *draft_model; /* --draft-model: a resident draft model (token trees) */
    int draft_tokens;       /* --draft-tokens: most tree nodes per sweep (0 = 64; the cost model picks up to it) */
    int draft_fixed;        /* --draft-fixed: always trees of --draft-tokens nodes (no cost model) */
    int draft_quant;        /* --draft-quant 8|4: the draft runs from its quantized layer cache (0 = as stored) */
    const char *draft_backend; /* --draft-backend NAME: the draft's compute backend (NULL = the target's) */
    int ignore_eos;
    int profile;
    const char *ids;        /* --ids */
    const char *prompt;     /* -p */
    const char *system;     /* --system */
    int raw;                /* --raw */
    const char *dump_logits;
    const char *ids_file;   /* --ids-file: one prompt of ids per line (batched) */
    const char *prompts;    /* --prompts: one text prompt per line (batched) */
    int parallel;           /* --parallel: sequences per batch */
    const char *trace;      /* --trace FILE: every layer's intermediates (rl_model_set_trace) */
    int quant;              /* --quant 8|4: run from the quantized layer cache (src/quant/qcache.h), 0 = off */
} rl_cli_opts;

/* Parses a size such as 4G, 500M, 64K or 1234 (decimal units). 0 / -1. */
int rl_cli_parse_size(const char *s, uint64_t *out);

/* The MoE placement flags shared by every command that opens a model: --expert-cache
 * SIZE|auto|off and --moe-cpu-rows N|off (flag a with value v). Returns 1 when a was one of
 * them (consumed with its value), 0 when not, -1 after printing a bad value to stderr. */
int rl_cli_moe_flag(const char *a, const char *v, rl_model_opts *mo);

/* Parses "1,2,3" into a malloc'd array (caller frees). 0 / -1 on a bad list. */
int rl_cli_parse_ids(const char *s, int32_t **out, int *n);
/* `run --ids-file` / `run --prompts`: many prompts, batched (cmd_run_batch.c). Exit status. */
int rl_run_batch(const rl_cli_opts *o);

/* Parses argv[1..] (argv[0] is the subcommand), resolves MODEL (a directory or a cached hub id)
 * and with --quant builds the quantized cache. Returns 0, or the exit status (cli/exitcode.h:
 * RL_EXIT_USAGE for a bad command line) after printing the problem to stderr. Unknown flags are
 * errors. */
int rl_cli_parse(int argc, char **argv, rl_cli_opts *o);

#endif
