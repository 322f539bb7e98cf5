/* Shared helpers of the libFuzzer targets in tests/fuzz/fuzz_*.c: a private scratch directory
 * for parsers that take a path, and the location of ../shared (seeds, fixed tokenizers).
 * Each target defines LLVMFuzzerTestOneInput; built with -fsanitize=fuzzer by `make fuzz`, or
 * with tests/fuzz/replay.c (a plain main replaying tests/fuzz/regress/<target>/) by `make all`. */
#ifndef RL_FUZZ_H
#define RL_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time setup (libFuzzer calls it before the first input; so does replay.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* A directory private to this process (created once, reused by every input). */
static inline const char *fz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/rlfuzz-%d", t && *t ? t : "/tmp", (int)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* Writes data to <fz_dir>/<name> (replacing it); returns the full path (static buffer per slot). */
static inline const char *fz_file(const char *name, const void *data, size_t n) {
    static char path[8][1024];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, 1024, "%s/%s", fz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) return p;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static inline void fz_unlink(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", fz_dir(), name);
    unlink(p);
}

/* ../shared (or $RL_SHARED), or NULL when absent. */
static inline const char *fz_shared(void) {
    const char *s = getenv("RL_SHARED");
    if (!s) s = "../shared";
    struct stat st;
    return stat(s, &st) == 0 && S_ISDIR(st.st_mode) ? s : NULL;
}

/* Splits data at the first occurrence of the byte sep: a = [0, k), b = (k, n). */
static inline void fz_split(const uint8_t *d, size_t n, uint8_t sep, size_t *k) {
    const uint8_t *p = memchr(d, sep, n);
    *k = p ? (size_t)(p - d) : n;
}

/* Malloc'd NUL-terminated copy. */
static inline char *fz_str(const uint8_t *d, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, d, n);
    s[n] = 0;
    return s;
}
#endif
