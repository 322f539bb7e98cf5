/* Micro-benchmark of rl_matmul on a BF16 4864x896 weight (Qwen2-0.5B down_proj shape):
 * GB/s of weight streaming at T=1 (decode) and GFLOP/s at T=128 (prefill).
 * Build: make build/librabbitllm.a && cc -std=c11 -D_GNU_SOURCE -O2 -pthread -Isrc \
 *          -o build/bench_matmul bench/bench_matmul.c build/librabbitllm.a -lm
 * Run:   build/bench_matmul [threads (0 = all CPUs)] [out] [in]   (RL_SIMD=scalar|avx2|avx512 to force) */
#include "backend/cpu/matmul.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best-of time per call over repeated runs lasting about `secs`. */
static double time_call(rl_pool *p, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out,
                        double secs) {
    rl_matmul(p, y, x, w, dt, NULL, T, in, out); /* warm-up */
    double best = 1e30, t_end = now() + secs;
    do {
        double t0 = now();
        rl_matmul(p, y, x, w, dt, NULL, T, in, out);
        double d = now() - t0;
        if (d < best) best = d;
    } while (now() < t_end);
    return best;
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 0, out = argc > 2 ? atoi(argv[2]) : 4864, in = argc > 3 ? atoi(argv[3]) : 896;
    rl_pool *p = rl_pool_new(nth);
    if (!p) return 1;
    size_t nw = (size_t)out * in;
    uint16_t *w = malloc(nw * 2);
    float *wf = malloc(nw * 4), *x = malloc(sizeof(float) * 128 * (size_t)in), *y = malloc(sizeof(float) * 128 * (size_t)out);
    for (size_t i = 0; i < nw; i++) { wf[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f; w[i] = rl_f32_to_bf16(wf[i]); }
    for (size_t i = 0; i < 128 * (size_t)in; i++) x[i] = (float)(i % 17) / 17.0f;
    printf("simd=%s threads=%d W=%dx%d\n", rl_simd_name(), rl_pool_size(p), out, in);
    static const rl_dtype DTS[] = {RL_DT_BF16, RL_DT_F16, RL_DT_F32};
    static const char *NAMES[] = {"bf16", "f16", "f32"};
    for (int d = 0; d < 3; d++) {
        const void *wp = DTS[d] == RL_DT_F32 ? (const void *)wf : (const void *)w;
        double es = DTS[d] == RL_DT_F32 ? 4 : 2;
        double t1 = time_call(p, y, x, wp, DTS[d], 1, in, out, 1.0);
        double t128 = time_call(p, y, x, wp, DTS[d], 128, in, out, 2.0);
        printf("%-5s T=1:   %8.1f us  %7.1f GB/s (weights)\n", NAMES[d], t1 * 1e6, nw * es / t1 / 1e9);
        printf("%-5s T=128: %8.1f us  %7.1f GFLOP/s\n", NAMES[d], t128 * 1e6, 2.0 * nw * 128 / t128 / 1e9);
    }
    free(w); free(wf); free(x); free(y);
    rl_pool_free(p);
    return 0;
}
