/* `--trace FILE`: writes every intermediate of every sweep (rl_model_set_trace) as one line
 * "sweep layer name rows cols sum sum_abs max_abs v0 v1 v2 v3", so two runs (two backends,
 * two builds) can be compared layer by layer with diff or a script. */
#ifndef RL_CLI_TRACE_H
#define RL_CLI_TRACE_H
#include "rabbitllm.h"
#include <stdio.h>

/* Opens path and attaches the hook to m; returns the file (close it with rl_cli_trace_close
 * after the model's last eval) or NULL after printing the problem. */
FILE *rl_cli_trace_open(rl_model *m, const char *path);
/* Detaches the hook and closes the file; -1 if writing failed. Through an MPI pipeline the other
 * ranks' layers follow rank 0's lines (rank order; their sweep numbers are the same sweeps'). */
int rl_cli_trace_close(rl_model *m, FILE *f);
/* Installs the line format for the pipeline's workers (main, every rank). */
void rl_cli_trace_install_hook(void);

#endif
