/* Small file helpers: whole-file reads, path joins, existence checks. */
#ifndef RL_FILEIO_H
#define RL_FILEIO_H
#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a malloc'd NUL-terminated buffer; *len (optional) gets its size.
 * Returns NULL and sets rl_err naming the file on failure. Caller frees. */
char *rl_read_file(const char *path, size_t *len);
/* Writes buf to path atomically (temp file + rename). Returns 0 or -1 with rl_err. */
int rl_write_file_atomic(const char *path, const void *buf, size_t len);
/* Joins dir and name into out (size cap). Returns 0, or -1 if it does not fit. */
/* fsync of a file by path (0, or -1 + rl_err). */
int rl_fsync_file(const char *path);
/* Best-effort fsync of the directory holding path (after a rename into it). */
void rl_fsync_parent(const char *path);
int rl_path_join(char *out, size_t cap, const char *dir, const char *name);
/* Reads exactly len bytes at offset off (retrying short reads and EINTR). 0, or -1 with rl_err
 * "<path>: read failed at offset N: <reason>" (a truncated file says so). Thread-safe. */
int rl_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *path);
/* 1 if path exists as a regular file. */
int rl_file_exists(const char *path);

#endif
