/* Whole-file reads and atomic writes (see fileio.h). */
#include "util/fileio.h"
#include "util/err.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *rl_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { rl_err("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f); rl_err("%s: not a regular file", path); return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) { fclose(f); rl_err("%s: out of memory (%zu bytes)", path, n); return NULL; }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) { free(buf); rl_err("%s: short read (%zu of %zu bytes)", path, got, n); return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int rl_write_file_atomic(const char *path, const void *buf, size_t len) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return rl_err("%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return rl_err("%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(buf, 1, len, f) == len;
    ok &= fflush(f) == 0;
    ok &= fsync(fileno(f)) == 0;          /* on disk before the name points at it */
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return rl_err("%s: write failed: %s", path, strerror(errno));
    }
    rl_fsync_parent(path);
    return 0;
}

int rl_fsync_file(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rl_err("%s: cannot open: %s", path, strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : rl_err("%s: fsync failed: %s", path, strerror(errno));
    close(fd);
    return rc;
}

void rl_fsync_parent(const char *path) {
    char dir[4096];
    const char *sl = strrchr(path, '/');
    if (!sl) snprintf(dir, sizeof dir, ".");
    else if (sl == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(sl - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }   /* best effort: makes the rename durable */
}

int rl_path_join(char *out, size_t cap, const char *dir, const char *name) {
    size_t n = strlen(dir);
    int w = snprintf(out, cap, "%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", name);
    return (w < 0 || (size_t)w >= cap) ? rl_err("path too long: %s/%s", dir, name) : 0;
}

int rl_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int rl_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *path) {
    size_t done = 0;
    while (done < len) {
        size_t want = len - done > (1u << 30) ? (1u << 30) : len - done;
        ssize_t got = pread(fd, (char *)buf + done, want, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return rl_err("%s: read failed at offset %llu: %s", path, (unsigned long long)(off + done),
                          got < 0 ? strerror(errno) : "unexpected end of file (truncated?)");
        done += (size_t)got;
    }
    return 0;
}
