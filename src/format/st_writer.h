/* Incremental safetensors writer (used by the synthetic-checkpoint tool and tests): the tensor
 * list is given up front, the header is written at once (JSON padded with spaces to a multiple
 * of 8, as HF does), then the caller streams the data in order in chunks of any size, so memory
 * stays bounded. Output goes to "<path>.tmp", renamed to path only on a successful close. */
#ifndef RL_ST_WRITER_H
#define RL_ST_WRITER_H
#include <stddef.h>
#include <stdint.h>
#include "format/dtype.h"
#include "format/safetensors.h"

typedef struct {
    const char *name;            /* tensor name */
    rl_dtype dtype;              /* element type */
    int ndim;                    /* 0..RL_MAX_DIMS */
    int64_t shape[RL_MAX_DIMS];  /* dims, outermost first */
} rl_st_spec;

typedef struct rl_st_writer rl_st_writer;

/* Starts writing path: checks the specs (dtype, dims, overflow, unique names), creates
 * "<path>.tmp" and writes the header. Data is laid out in spec order, back to back.
 * meta: NULL or a NULL-terminated list of key, value strings for "__metadata__".
 * The specs are copied. Returns a writer or NULL with rl_err. */
rl_st_writer *rl_st_writer_open(const char *path, int n, const rl_st_spec *specs,
                                const char *const *meta);

/* Appends len bytes of tensor data (tensors in spec order, any chunking). Returns 0, or -1 with
 * rl_err (e.g. more bytes than the specs describe); after an error only close/abort are valid. */
int rl_st_writer_write(rl_st_writer *w, const void *buf, size_t len);

/* Total data bytes the specs describe, and bytes written so far. */
uint64_t rl_st_writer_data_size(const rl_st_writer *w);
uint64_t rl_st_writer_written(const rl_st_writer *w);

/* Finishes: checks all data was written, flushes, fsyncs and renames the temp file to path.
 * Always frees w; on failure removes the temp file. Returns 0 or -1 with rl_err. */
int rl_st_writer_close(rl_st_writer *w);

/* Abandons the file: removes the temp file and frees w (NULL is fine). */
void rl_st_writer_abort(rl_st_writer *w);

/* Writes <dir>/model.safetensors.index.json atomically: {"metadata": {"total_size": total_size},
 * "weight_map": {names[i]: shards[i]}} (shards are file names relative to dir).
 * Returns 0 or -1 with rl_err. */
int rl_st_write_index(const char *dir, uint64_t total_size, int n, const char *const *names,
                      const char *const *shards);

#endif
