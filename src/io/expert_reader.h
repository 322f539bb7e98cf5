/* Expert streaming for MoE layers: after the router has chosen the experts of a sweep, their
 * byte ranges are read in batches into two fixed buffers by a background thread, so batch b+1
 * is read while batch b computes. Only the experts the tokens route to are read. */
#ifndef RL_EXPERT_READER_H
#define RL_EXPERT_READER_H
#include "format/checkpoint.h"
#include "io/coalesce.h"
#include "io/hostmem.h"
#include <stddef.h>
#include <stdint.h>

#define RL_XR_MAX_RANGES 3   /* ranges of one expert (gate, up, down) */

typedef rl_read_range rl_xr_range; /* bytes of a checkpoint file and where they land in the batch buffer */

/* One batch: experts whose ranges land in one buffer. ranges points into caller memory that
 * stays valid until the batch is released. */
typedef struct {
    const rl_xr_range *ranges;
    int n_ranges;
    uint64_t bytes;          /* sum of range lengths (for statistics) */
} rl_xr_batch;

typedef struct rl_expert_reader rl_expert_reader;

/* Starts the reader thread with two buffers of buf_bytes each from hm (NULL: plain host
 * memory). NULL + rl_err on failure. */
rl_expert_reader *rl_xr_new(const rl_checkpoint *ck, size_t buf_bytes, const rl_host_mem *hm);
void rl_xr_free(rl_expert_reader *x);
/* Queues batches[0..n) (not copied: must stay valid until the last is released) and returns
 * at once; the thread reads them in order, at most two ahead of the consumer. */
void rl_xr_start(rl_expert_reader *x, const rl_xr_batch *batches, int n);
/* Waits for batch i of the current job and returns its buffer, or NULL + rl_err on a read
 * error. Adds the time spent waiting to *wait_s. */
const uint8_t *rl_xr_wait(rl_expert_reader *x, int i, double *wait_s);
/* Gives batch i's buffer back (call in order, after computing batch i). */
void rl_xr_release(rl_expert_reader *x, int i);
/* Waits until the thread is idle (all queued batches read or abandoned after an error). */
void rl_xr_finish(rl_expert_reader *x);
/* Seconds the thread spent in pread since creation. */
double rl_xr_read_seconds(const rl_expert_reader *x);

#endif
