/* Memory read bandwidth: every thread sums 64-byte lines of its own part of a large buffer
 * (AVX2 integer adds where the CPU has them, nothing written back); best pass of several. */
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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* AVX2: two 64-byte lines per step into four accumulators (a scalar loop cannot keep up with
 * memory). */
__attribute__((target("avx2"))) static void sum_avx2(const uint64_t *p, size_t n, uint64_t *out) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(const void *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(const void *)(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(const void *)(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(const void *)(p + i + 12)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)(void *)t, a0);
    *out += t[0] + t[1] + t[2] + t[3];
}
#endif

static void bw_work(void *ctx, int64_t b, int64_t e, int tid) {
    bw_job *j = ctx;
    uint64_t s[8] = {0};
    for (int64_t c = b; c < e; c++) {
        const uint64_t *p = j->buf + (size_t)c * 4096;
#if defined(__x86_64__) || defined(__i386__)
        if (__builtin_cpu_supports("avx2")) { sum_avx2(p, 4096, &s[0]); continue; }
#endif
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
    uint64_t *buf = aligned_alloc(64, chunks * 4096 * sizeof(uint64_t));
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
