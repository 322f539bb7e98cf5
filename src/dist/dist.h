/* Pipeline parallelism over MPI (make MPI=1): `mpirun -np N rabbitllm ...` splits the decoder
 * layers into N contiguous stages, one per rank. Rank 0 runs the CLI (tokenizer, sampling,
 * server) and the first stage; ranks 1.. wait in rl_dist_worker for what rank 0 asks of them.
 * Activations (T x hidden f32) go rank to rank, the last rank sends the logits back to rank 0,
 * each rank keeps the KV cache and the resident weights of its own layers.
 * Without MPI=1, stub.c: one process, rl_dist_size() == 1, and none of the engine hooks runs. */
#ifndef RL_DIST_H
#define RL_DIST_H
#include "rabbitllm.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct rl_model_desc;
struct rl_stage;

/* 1 if built with MPI=1. */
int rl_dist_built(void);
/* MPI_Init when built with MPI (a no-op otherwise; harmless outside mpirun: one rank). 0 / -1. */
int rl_dist_init(int *argc, char ***argv);
int rl_dist_size(void);  /* ranks (1 without MPI) */
int rl_dist_rank(void);  /* this rank (0 without MPI) */
/* Ranks > 0: serve rank 0's requests until it finishes; returns the exit status. */
int rl_dist_worker(void);
/* Rank 0: tells the workers to finish, then MPI_Finalize (every rank). Safe to call twice. */
void rl_dist_finalize(void);
/* --pp-split "a,b,c": decoder layers per rank (one count per rank, summing to the model's
 * layers); NULL = balanced by bytes. Kept (not copied) until the next call. 0 / -1 + rl_err. */
int rl_dist_set_split(const char *spec);

/* Layer ranges of n ranks: rank r runs layers [first[r], first[r + 1]) (first[n] = n_layers).
 * spec as --pp-split, or NULL: contiguous ranges whose bytes (layer stages, plus the head
 * chunks on the last rank: bytes[n_layers] = the head's) are as even as possible; a rank may
 * get no layer when there are more ranks than layers. 0 / -1 + rl_err. */
int rl_dist_split(const size_t *layer_bytes, int n_layers, size_t head_bytes, int n, const char *spec, int *first);

/* --- engine hooks (engine.c), only where m->dist is set; all 0 / -1 + rl_err --- */
rl_model *rl_dist_model_open(const char *dir, const rl_model_opts *opts);  /* rank 0: the pipeline */
void rl_dist_model_close(rl_model *m);                                     /* rank 0: closes it everywhere */
/* Rank 0, start of a sweep: sends the sweep (rows, positions, tokens) down the pipeline. */
int rl_dist_sweep_begin(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits);
/* Stages after the first: the residual rows (T x hidden) from the stage before, into m->x. */
int rl_dist_recv_x(rl_model *m, int T);
/* Stages before the last: m->x to the next stage; rank 0 then expects the n_out logits rows
 * (logits may be NULL) from the last stage, waiting for them unless they can come later. */
int rl_dist_send_x(rl_model *m, int T, int n_out, float *logits);
/* The last stage: the sweep's status rc and its n_out logits rows to rank 0. Returns rc. */
int rl_dist_result(rl_model *m, int rc, int n_out, const float *logits);
/* Rank 0: waits until every sweep sent has come back (errors of the other ranks surface here). */
int rl_dist_flush(rl_model *m);
/* Rank 0: rl_model_seq_rewind on the other stages. */
int rl_dist_rewind(rl_model *m, int seq, int pos);
/* Rank 0: rl_model_seq_checkpoint_slot on the other stages. */
int rl_dist_checkpoint(rl_model *m, int seq, int slot);
/* Rank 0: rl_model_seq_tree_commit on the other stages. */
int rl_dist_tree_commit(rl_model *m, int seq, const int32_t *nodes, int k);
/* Rank 0: batch items per sweep so that the stages work on micro-batches at once. */
int rl_dist_microbatch(const rl_model *m, int n_items);

/* --profile over the pipeline: the command layer installs how a rank prints and resets its own
 * layers' profile (every rank, before rl_dist_worker); rank 0's rl_dist_profile then has every
 * other rank reset (reset 1) or print its part, which comes back to rank 0 and is written to f
 * in rank order. */
typedef void (*rl_dist_profile_print_fn)(const rl_model *m, FILE *f);
typedef void (*rl_dist_profile_reset_fn)(rl_model *m);
void rl_dist_set_profile_hooks(rl_dist_profile_print_fn print, rl_dist_profile_reset_fn reset);
int rl_dist_profile(rl_model *m, int reset, FILE *f);

/* --trace over the pipeline: the command layer installs how a traced intermediate becomes a line
 * (every rank, before rl_dist_worker; sweep counts the model's sweeps from 1). Rank 0:
 * rl_dist_trace(m, 1, NULL) has the other ranks record their layers' lines in memory,
 * rl_dist_trace(m, 0, f) has them stop and writes their lines to f (rank order). */
typedef void (*rl_dist_trace_line_fn)(FILE *f, int sweep, int layer, const char *name, const float *x, int rows, int cols);
void rl_dist_set_trace_hook(rl_dist_trace_line_fn line);
int rl_dist_trace(rl_model *m, int on, FILE *f);

#endif
