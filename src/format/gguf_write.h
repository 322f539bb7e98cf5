/* GGUF v3 writer (llama.cpp's model file): key/value metadata of the scalar and array types,
 * tensor infos (ggml order dims, 32-byte aligned offsets) and the tensor data streamed in the
 * declared order in chunks of any size, so memory stays bounded. Crash-safe like st_writer:
 * everything goes to "<path>.tmp", which is fsynced and renamed to path only on a complete close. */
#ifndef RL_GGUF_WRITE_H
#define RL_GGUF_WRITE_H
#include <stddef.h>
#include <stdint.h>

typedef struct rl_gguf_writer rl_gguf_writer;

/* A new, empty writer for path (nothing is created yet). NULL + rl_err on out of memory. */
rl_gguf_writer *rl_gguf_writer_new(const char *path);

/* Metadata (in the order given; a key may appear once). Return 0 or -1 + rl_err. */
int rl_gguf_w_u32(rl_gguf_writer *w, const char *key, uint32_t v);
int rl_gguf_w_i32(rl_gguf_writer *w, const char *key, int32_t v);
int rl_gguf_w_f32(rl_gguf_writer *w, const char *key, float v);
int rl_gguf_w_bool(rl_gguf_writer *w, const char *key, int v);
int rl_gguf_w_str(rl_gguf_writer *w, const char *key, const char *v);
/* Arrays: n strings (each of len[i] bytes, or NUL-terminated when len is NULL), n int32, n f32. */
int rl_gguf_w_arr_str(rl_gguf_writer *w, const char *key, uint64_t n, const char *const *v, const size_t *len);
int rl_gguf_w_arr_i32(rl_gguf_writer *w, const char *key, uint64_t n, const int32_t *v);
int rl_gguf_w_arr_f32(rl_gguf_writer *w, const char *key, uint64_t n, const float *v);

/* Declares the next tensor: ggml type (format/gguf.h numbering), n_dims 1..4, ne in ggml order
 * (ne[0] the row length). Checks the type, that ne[0] is a multiple of its block and the size
 * does not overflow. Returns 0 or -1 + rl_err. */
int rl_gguf_w_tensor(rl_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne);

/* Data bytes of tensor i as declared (0 if i is out of range). */
uint64_t rl_gguf_w_tensor_bytes(const rl_gguf_writer *w, int i);

/* Creates "<path>.tmp" and writes the header (magic, version 3, metadata, tensor infos, padding).
 * After this no more metadata or tensors may be declared. Returns 0 or -1 + rl_err. */
int rl_gguf_w_begin(rl_gguf_writer *w);

/* Appends len bytes of tensor data (tensors in declared order, any chunking; the alignment
 * padding between tensors is inserted here). Returns 0 or -1 + rl_err. */
int rl_gguf_w_data(rl_gguf_writer *w, const void *buf, size_t len);

/* Finishes: checks every declared byte was written, flushes, fsyncs and renames the temp file to
 * path. Always frees w; on failure removes the temp file. Returns 0 or -1 + rl_err. */
int rl_gguf_w_close(rl_gguf_writer *w);

/* Abandons the file: removes the temp file and frees w (NULL is fine). */
void rl_gguf_w_abort(rl_gguf_writer *w);

#endif
