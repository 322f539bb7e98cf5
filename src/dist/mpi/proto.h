/* The pipeline's wire protocol and per-model state (MPI build only). Messages between ranks:
 * commands travel down the chain rank 0 -> 1 -> ... -> N-1 (tag CMD), each rank forwarding
 * before acting; a sweep's residual rows follow its command (tag X, or XERR with the message
 * of the rank that failed); the last rank answers rank 0 with a status and the logits rows;
 * open results come straight to rank 0 (tag OPENED). */
#ifndef RL_DIST_PROTO_H
#define RL_DIST_PROTO_H
#include "dist/dist.h"
#include "engine/model.h"
#include <mpi.h>

enum { TAG_CMD = 11, TAG_X, TAG_XERR, TAG_STATUS, TAG_LOGITS, TAG_OPENED, TAG_PING, TAG_PROFILED };
enum { CMD_OPEN = 1, CMD_CLOSE, CMD_SWEEP, CMD_REWIND, CMD_COMMIT, CMD_PING, CMD_EXIT, CMD_PROFILE, CMD_CKPT, CMD_TRACE };

#define DIST_MSG 512   /* bytes of an error message on the wire */
#define DIST_PEND 32   /* sweeps rank 0 may have in flight */

/* Fixed head of every command; payload after it. */
typedef struct {
    int32_t kind, id;
    int32_t a, b, c, d, e; /* per kind: SWEEP T, n_seg, n_out, want logits, a token tree (parents follow);
                             REWIND seq, pos; COMMIT k, seq (nodes follow); PING bytes, reps;
                             PROFILE reset (each rank answers rank 0 with its text, TAG_PROFILED);
                             CKPT seq; TRACE on (off: each rank answers rank 0 with its
                             lines, TAG_PROFILED) */
} dist_cmd;

typedef struct { int32_t rc; char msg[DIST_MSG]; } dist_status;

struct rl_dist_model {
    int id, rank, size;
    uint8_t *cmd; size_t cmd_cap;   /* command buffer */
    float *xh; size_t xh_cap;       /* host copy of the residual rows (device backends) */
    float *lg; size_t lg_cap;       /* last rank: logits rows of a sweep */
    /* rank 0: sweeps sent whose status (and logits) have not come back */
    struct { MPI_Request st, lg; dist_status s; } pend[DIST_PEND];
    int p_head, p_n;
    int open_sweep, open_want;      /* rank 0: a sweep begun and not sent on (its stage failed) */
    int passed;                     /* workers: this sweep's rows (or answer) went on */
    int got_rows;                   /* workers: this sweep's rows (or error) from the rank before were taken */
    int broken;                     /* rank 0: a rank failed; the stages are out of step */
    char why[DIST_MSG];
    /* statistics (RL_PP_STATS=1 prints them at close) */
    long sweeps;
    FILE *trace; char *trace_txt; size_t trace_n; /* workers: --trace lines recorded (open_memstream) */
    double send_s, recv_s, wait_s;  /* in MPI_Send of rows, MPI_Recv of rows, waiting for results */
    double bytes;
};

/* Shared by the files of src/dist/mpi (comm.c). */
int dist_mpi_err(int rc, const char *what);           /* rl_err with MPI's message; 0 if rc is MPI_SUCCESS */
int dist_next_id(void);
const char *dist_split_spec(void);
int dist_send_cmd(struct rl_dist_model *dm, const dist_cmd *h, const void *payload, size_t bytes);
struct rl_dist_model *dist_state_new(int id);
void dist_state_free(struct rl_dist_model *dm);
void dist_print_stats(const rl_model *m);
/* The worker side of a sweep (worker.c calls it from the command loop). */
int dist_worker_sweep(rl_model *m, const dist_cmd *h, const uint8_t *payload, size_t bytes);
/* Stages after a failure: tells the next rank (or rank 0, from the last) about it. */
void dist_pass_failure(rl_model *m, int want);
/* The same from rank `rank` of `size` with a message (no model needed). */
void dist_fail_down(int rank, int size, int want, const char *msg);
/* Workers: a sweep that failed before taking its rows from the rank before takes them now (they
 * would otherwise be read as the next sweep's, or block the sender). */
void dist_drain_rows(int rank);
/* Rank 0: per-hop time of rows between ranks 0 and 1 (RL_PP_STATS). */
void dist_ping(rl_model *m);
/* Workers: CMD_PROFILE for model m (NULL: this rank has none): reset its part, or send rank 0
 * its printed part. */
void dist_worker_profile(rl_model *m, int reset, int rank);
/* Workers: CMD_TRACE for model m (NULL: none): start recording (on), or stop and send rank 0 the
 * lines (an answer in every case). */
void dist_worker_trace(rl_model *m, int on);

#endif
