/* The tensor index of a model directory: which file, byte offset, dtype and shape each tensor
 * has, over a single model.safetensors or HF shards listed in model.safetensors.index.json.
 * Each file is opened O_RDONLY once and stays open; the loader preads tensors from the fds. */
#ifndef RL_CHECKPOINT_H
#define RL_CHECKPOINT_H
#include <stdint.h>
#include "format/dtype.h"
#include "format/safetensors.h"
#include "format/gguf.h"

typedef struct {
    const char *name;            /* tensor name (owned by the checkpoint) */
    rl_dtype dtype;              /* element type */
    int ndim;                    /* number of dims (0 = scalar) */
    int64_t shape[RL_MAX_DIMS];  /* dims, outermost first */
    int file;                    /* index of the file holding it (rl_ckpt_path/rl_ckpt_fd) */
    uint64_t offset;             /* absolute byte offset in that file */
    uint64_t nbytes;             /* bytes of data */
} rl_tensor_info;

typedef struct rl_checkpoint rl_checkpoint;

/* Opens the checkpoint in model_dir: model.safetensors, else model.safetensors.index.json
 * ("weight_map": name -> shard file, only those names are indexed), else a single other
 * *.safetensors.index.json or *.safetensors file, else one GGUF model (a .gguf or a split set,
 * format/gguf_find.h; ggml types map to the GGUF dtypes, shapes outermost first, and each expert
 * of a 3-D "*_exps.weight" stack is also indexed as "*_exps.E.weight").
 * model_dir may also name a .safetensors or .gguf file.
 * Every header is checked at open (so a truncated shard fails here). Returns a new checkpoint
 * (close with rl_ckpt_close) or NULL with rl_err naming the file and the problem. */
rl_checkpoint *rl_ckpt_open(const char *model_dir);

/* Closes the files and frees everything (NULL is fine); tensor infos and paths die with it. */
void rl_ckpt_close(rl_checkpoint *ck);

/* Tensor named `name` (hash lookup), or NULL if absent. Owned by ck. */
const rl_tensor_info *rl_ckpt_find(const rl_checkpoint *ck, const char *name);

/* Number of tensors, and tensor i (0 <= i < n), ordered by name. Owned by ck. */
int rl_ckpt_n_tensors(const rl_checkpoint *ck);
const rl_tensor_info *rl_ckpt_tensor(const rl_checkpoint *ck, int i);

/* Number of files; path, open read-only fd and size (at open) of file i. Owned by ck. */
int rl_ckpt_n_files(const rl_checkpoint *ck);
const char *rl_ckpt_path(const rl_checkpoint *ck, int i);
int rl_ckpt_fd(const rl_checkpoint *ck, int i);
uint64_t rl_ckpt_file_size(const rl_checkpoint *ck, int i);

/* Parsed GGUF header of file i (GGUF checkpoints: metadata, tensor infos), else NULL. Owned by ck. */
const rl_gguf *rl_ckpt_gguf(const rl_checkpoint *ck, int i);

/* Parsed safetensors header of file i (metadata, raw tensor list); NULL for GGUF. Owned by ck. */
const rl_st_header *rl_ckpt_header(const rl_checkpoint *ck, int i);

/* Reads tensor t's t->nbytes bytes into dst (caller's buffer). Returns 0, or -1 with rl_err
 * naming the file (e.g. a short read from a file truncated after open). Thread-safe (pread). */
int rl_ckpt_read(const rl_checkpoint *ck, const rl_tensor_info *t, void *dst);

#endif
