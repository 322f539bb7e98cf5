/* `rabbitllm CMD --help` and the "did you mean" of unknown flags, both from one table of every
 * command's arguments and flags with their defaults (help.c). */
#ifndef RL_CLI_HELP_H
#define RL_CLI_HELP_H
#include <stdio.h>

/* The command being run (set by main; NULL before). */
extern const char *rl_cli_command;

/* Prints the help of cmd (its arguments, every flag with its default) to f; -1 if cmd is unknown. */
int rl_cli_help(const char *cmd, FILE *f);
/* The flag of cmd nearest to flag (edit distance at most 3, or a unique prefix), or NULL. */
const char *rl_cli_suggest(const char *cmd, const char *flag);
/* Prints "error: unknown option 'flag'" (with "; did you mean 'X'?" when one is near) to stderr. */
void rl_cli_unknown_flag(const char *flag);
/* The command nearest to an unknown one (edit distance under 3, or a prefix of 3+ letters), or NULL. */
const char *rl_cli_suggest_command(const char *name);
#endif
