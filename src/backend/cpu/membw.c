/* Memory read bandwidth: every thread sums 64-byte lines of its own part of a large buffer
 * (vectorised integer adds, nothing written back); best pass of several. */
#include "backend/cpu/membw.h"
#include "util/err.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const uint64_t *buf;
    size_t n; /* uint64_t items */
    uint64_t sink[64][8];
} bw_job;

static void bw_work(void *ctx, int64_t b, int64_t e, int tid) {
    bw_job *j = ctx;
    uint64_t s[8] = {0};
    for (int64_t c = b; c < e; c++) {
        const uint64_t *p = j->buf + (size_t)c * 4096;
        for (size_t i = 0; i < 4096; i += 8)
            for (int k = 0; k < 8; k++) s[k] += p[i + k];
    }
    for (int k = 0; k < 8; k++) j->sink[tid & 63][k] += s[k];
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double rl_membw_read(rl_pool *p, size_t bytes, double secs) {
    if (bytes < ((size_t)4 << 20)) bytes = (size_t)4 << 20;
    size_t chunks = bytes / (4096 * sizeof(uint64_t));
    bw_job *j = calloc(1, sizeof *j);
    uint64_t *buf = malloc(chunks * 4096 * sizeof(uint64_t));
    if (!j || !buf) {
        free(j);
        free(buf);
        rl_err("memory bandwidth: cannot allocate %zu bytes", bytes);
        return 0;
    }
    memset(buf, 1, chunks * 4096 * sizeof(uint64_t)); /* touch every page */
    j->buf = buf;
    double best = 1e30, t_end = now_s() + secs;
    int passes = 0;
    do {
        double t0 = now_s();
        rl_pool_for(p, (int64_t)chunks, 1, bw_work, j);
        double d = now_s() - t0;
        if (d < best) best = d;
    } while (++passes < 3 || now_s() < t_end);
    free(buf);
    free(j);
    return (double)chunks * 4096 * sizeof(uint64_t) / best;
}
