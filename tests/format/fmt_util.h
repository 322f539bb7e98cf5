/* Helpers for the format tests: temp dirs under /tmp (removed after), raw file writers, and a
 * check that the last error message mentions given fragments. */
#ifndef RL_TEST_FMT_UTIL_H
#define RL_TEST_FMT_UTIL_H
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/err.h"

/* snprintf into a char array, reporting (not hiding) truncation. */
#define T_FMT(buf, ...) ((void)(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf || \
                                fprintf(stderr, "  path truncated: %s\n", buf)))

/* Creates a fresh temp dir into buf (>= 32 bytes). Returns buf or NULL. */
static inline char *t_mkdtemp(char *buf) {
    strcpy(buf, "/tmp/rl_fmt_XXXXXX");
    return mkdtemp(buf);
}

static inline int t_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes dir and everything below it (symlinks are not followed). */
static inline void t_rmrf(const char *dir) { nftw(dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Writes len bytes to dir/name (path returned in out, cap 4096). Returns 0 or -1. */
static inline int t_write(char *out, const char *dir, const char *name, const void *buf,
                          size_t len) {
    if (snprintf(out, 4096, "%s/%s", dir, name) >= 4096) return -1;
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    int ok = fwrite(buf, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Writes a raw safetensors file: header length `hlen` (little-endian), the JSON text, then
 * `data_len` bytes of pattern. Returns 0 or -1. */
static inline int t_write_st(char *out, const char *dir, const char *name, uint64_t hlen,
                             const char *json, size_t data_len) {
    size_t jl = strlen(json), n = 8 + jl + data_len;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, jl);
    for (size_t i = 0; i < data_len; i++) buf[8 + jl + i] = (unsigned char)(i * 7 + 1);
    int rc = t_write(out, dir, name, buf, n);
    free(buf);
    return rc;
}

/* Copies src to dst. Returns 0 or -1. */
static inline int t_copy(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    if (!in || !out) { if (in) fclose(in); return -1; }
    char buf[65536];
    size_t n;
    int ok = 1;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) ok &= fwrite(buf, 1, n, out) == n;
    fclose(in);
    return (fclose(out) == 0 && ok) ? 0 : -1;
}

/* 1 if the last error message contains a and (if non-NULL) b. */
static inline int t_msg_has(const char *a, const char *b) {
    const char *m = rl_errmsg();
    return strstr(m, a) && (!b || strstr(m, b));
}

#endif
