/* Parser for one .safetensors file's header: reads only the 8-byte length and the JSON header
 * (never the tensor data), checks every untrusted field, and lists each tensor's dtype, shape and
 * absolute byte range in the file. Format: u64 little-endian N, N bytes of JSON
 * {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}}, data at 8+N. */
#ifndef RL_SAFETENSORS_H
#define RL_SAFETENSORS_H
#include <stdint.h>
#include "format/dtype.h"

#define RL_MAX_DIMS 8                          /* most dims a tensor may have */
#define RL_ST_MAX_HEADER (100u * 1024u * 1024u) /* header lengths above this are rejected */

typedef struct {
    char *name;                  /* tensor name (owned by the header) */
    rl_dtype dtype;              /* element type */
    int ndim;                    /* number of dims, 0..RL_MAX_DIMS (0 = scalar) */
    int64_t shape[RL_MAX_DIMS];  /* dims, outermost first; unused entries are 0 */
    uint64_t offset;             /* absolute byte offset in the file (8 + N + begin) */
    uint64_t nbytes;             /* bytes of data (product of shape × dtype size) */
} rl_st_tensor;

typedef struct {
    char *path;              /* file path as given (owned) */
    uint64_t file_size;      /* size of the file when parsed */
    uint64_t data_start;     /* 8 + N: where the data section begins */
    int n_tensors;           /* number of tensors */
    rl_st_tensor *tensors;   /* sorted by name (owned) */
    int n_meta;              /* "__metadata__" entries with string values */
    char **meta_keys;        /* owned */
    char **meta_vals;        /* owned */
} rl_st_header;

/* Parses the header of the safetensors file open on `fd` (read with pread; the fd's position is
 * untouched and the fd stays the caller's). `path` is used in messages and copied.
 * Returns a new header (free with rl_st_free), or NULL with rl_err
 * ("<path>: tensor '<name>': <problem>" for per-tensor problems). */
rl_st_header *rl_st_parse_fd(int fd, const char *path);

/* Opens `path`, parses its header and closes it. Returns a new header or NULL with rl_err. */
rl_st_header *rl_st_open(const char *path);

/* Tensor named `name` (binary search), or NULL if absent. Points into `h`. */
const rl_st_tensor *rl_st_find(const rl_st_header *h, const char *name);

/* Value of metadata key `key`, or NULL. Points into `h`. */
const char *rl_st_meta(const rl_st_header *h, const char *key);

/* Frees a header from rl_st_parse_fd/rl_st_open (NULL is fine). */
void rl_st_free(rl_st_header *h);

#endif
