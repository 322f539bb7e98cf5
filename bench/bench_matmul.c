/* Micro-benchmark of rl_matmul per weight type on a matrix larger than the last-level cache:
 * decode (T=1) GB/s of weights read, against the memory read bandwidth measured in the same
 * run, and prefill (T=128) GFLOP/s; also the HF formats FP8 (128x128 blocks, F32 scales) and
 * GPTQ 4-bit (group 128).
 * Build: make bench   Run: build/bench_matmul [threads (0 = all CPUs)] [out] [in]
 * (RL_SIMD=scalar|avx2|avxvnni|avx512|avx512vnni forces a path) */
#include "backend/cpu/matmul.h"
#include "backend/backend.h"
#include "backend/cpu/membw.h"
#include "quant/quantize.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

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

#if defined(__x86_64__)
#include <immintrin.h>
/* f32 FMA peak of one core: 12 independent 16-lane accumulator chains (AVX-512). */
__attribute__((target("avx512f"))) static double fma_peak(void) {
    __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
#define R12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define DECL(i) __m512 a##i = _mm512_set1_ps((float)i);
    R12(DECL)
    long iters = 20000000;
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
        R12(STEP)
    }
    double dt = now() - t0;
    float s = 0;
#define SUM(i) s += _mm512_reduce_add_ps(a##i);
    R12(SUM)
    if (s == 12345.0f) printf(" ");
    return 12.0 * 16 * 2 * iters / dt;
}
/* bf16 dot-product peak (VDPBF16PS: 32 products per instruction), same shape. */
__attribute__((target("avx512f,avx512bf16"))) static double bf16_peak(void) {
    __m512bh m = (__m512bh)_mm512_set1_epi16(0x3f80), c = (__m512bh)_mm512_set1_epi16(0x3a83);
    R12(DECL)
    long iters = 20000000;
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#define STEPB(i) a##i = _mm512_dpbf16_ps(a##i, m, c);
        R12(STEPB)
    }
    double dt = now() - t0;
    float s = 0;
    R12(SUM)
    if (s == 12345.0f) printf(" ");
    return 12.0 * 32 * 2 * iters / dt;
}
/* int8 dot-product peak (VPDPBUSD: 64 multiply-adds per instruction), same shape. */
__attribute__((target("avx512f,avx512vnni"))) static double vnni_peak(void) {
    __m512i m = _mm512_set1_epi8(1), c = _mm512_set1_epi8(-1);
#define DECLI(i) __m512i a##i = _mm512_set1_epi32(i);
    R12(DECLI)
    long iters = 20000000;
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#define STEPI(i) a##i = _mm512_dpbusd_epi32(a##i, m, c);
        R12(STEPI)
    }
    double dt = now() - t0;
    long s = 0;
#define SUMI(i) s += _mm512_reduce_add_epi32(a##i);
    R12(SUMI)
    if (s == 12345) printf(" ");
    return 12.0 * 64 * 2 * iters / dt;
}
#endif

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 0, out = argc > 2 ? atoi(argv[2]) : 65536, in = argc > 3 ? atoi(argv[3]) : 896;
    int tp = argc > 4 ? atoi(argv[4]) : 128;
    if (out < 1 || in < 32 || in % 32) { fprintf(stderr, "in must be a positive multiple of 32\n"); return 1; }
    rl_pool *p = rl_pool_new(nth);
    if (!p) return 1;
    size_t nw = (size_t)out * in;
    float *wf = malloc(nw * 4), *x = malloc(sizeof(float) * 128 * (size_t)in), *y = malloc(sizeof(float) * 128 * (size_t)out);
    uint16_t *wb = malloc(nw * 2), *wh = malloc(nw * 2);
    uint8_t *q8 = malloc(rl_dtype_row_bytes(RL_DT_Q8_0, in) * out), *q4 = malloc(rl_dtype_row_bytes(RL_DT_Q4_1, in) * out);
    if (!wf || !x || !y || !wb || !wh || !q8 || !q4) return 1;
    for (size_t i = 0; i < nw; i++) {
        wf[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        wb[i] = rl_f32_to_bf16(wf[i]);
        wh[i] = rl_f32_to_f16(wf[i]);
    }
    for (int o = 0; o < out; o++) {
        rl_quantize_row(RL_DT_Q8_0, wf + (size_t)o * in, q8 + rl_dtype_row_bytes(RL_DT_Q8_0, in) * o, in);
        rl_quantize_row(RL_DT_Q4_1, wf + (size_t)o * in, q4 + rl_dtype_row_bytes(RL_DT_Q4_1, in) * o, in);
    }
    for (size_t i = 0; i < 128 * (size_t)in; i++) x[i] = (float)(i % 17) / 17.0f - 0.5f;
    double bw = rl_membw_read(p, (size_t)256 << 20, 1.0);
    printf("simd=%s threads=%d W=%dx%d  memory read bandwidth %.1f GB/s\n", rl_simd_name(), rl_pool_size(p), out, in,
           bw / 1e9);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) printf("peak (one core): f32 FMA %.1f GFLOP/s", fma_peak() / 1e9);
    if (__builtin_cpu_supports("avx512bf16")) printf(", bf16 VDPBF16PS %.1f GFLOP/s", bf16_peak() / 1e9);
    if (__builtin_cpu_supports("avx512vnni")) printf(", int8 VPDPBUSD %.1f GOP/s", vnni_peak() / 1e9);
    printf("\n");
#endif
    static const rl_dtype DTS[] = {RL_DT_BF16, RL_DT_F16, RL_DT_F32, RL_DT_Q8_0, RL_DT_Q4_1};
    const void *WS[] = {wb, wh, wf, q8, q4};
    for (int d = 0; d < 5; d++) {
        double bytes = (double)rl_dtype_row_bytes(DTS[d], in) * out;
        double t1 = time_call(p, y, x, WS[d], DTS[d], 1, in, out, 1.0);
        printf("%-5s T=1:   %9.1f us  %6.1f GB/s  (%.2f of memory bandwidth)\n", RL_DTYPES[DTS[d]].st_name, t1 * 1e6,
               bytes / t1 / 1e9, bytes / t1 / bw);
        if (tp > 0) {
            int o2 = out > 4864 ? 4864 : out; /* prefill: a cache-sized matrix, compute-bound */
            double t128 = time_call(p, y, x, WS[d], DTS[d], tp, in, o2, 1.0);
            printf("%-5s T=%d: %9.1f us  %6.1f GFLOP/s\n", RL_DTYPES[DTS[d]].st_name, tp, t128 * 1e6,
                   2.0 * o2 * in * tp / t128 / 1e9);
        }
    }
    /* HF pre-quantized formats: FP8 block-scaled and GPTQ-4 (random codes, realistic scales) */
    int sr = (out + 127) / 128, sc = (in + 127) / 128, G = (in + 127) / 128;
    uint8_t *f8 = malloc(nw);
    float *f8s = malloc(sizeof(float) * (size_t)sr * sc);
    int32_t *gq = malloc(nw / 2), *gz = malloc(sizeof(int32_t) * (size_t)G * (out / 8 + 1)), *gi = malloc(sizeof(int32_t) * (size_t)in);
    uint16_t *gs = malloc(2 * (size_t)G * out);
    if (!f8 || !f8s || !gq || !gz || !gi || !gs) return 1;
    for (size_t i = 0; i < nw; i++) { uint8_t v = (uint8_t)((i * 2654435761u) >> 13); f8[i] = (v & 0x7f) == 0x7f ? 0x3c : v; }
    for (int i = 0; i < sr * sc; i++) f8s[i] = 1e-3f * (float)(1 + i % 7);
    for (size_t i = 0; i < nw / 8; i++) gq[i] = (int32_t)(i * 2654435761u);
    for (int i = 0; i < G * (out / 8 + 1); i++) gz[i] = 0x77777777;
    for (int i = 0; i < G * out; i++) gs[i] = rl_f32_to_f16(1e-3f * (float)(1 + i % 5));
    for (int i = 0; i < in; i++) gi[i] = i / 128;
    rl_qweight qf = {.data = f8, .scales = f8s, .scale_dt = RL_DT_F32, .rows = out, .cols = in, .bits = 8, .blk_r = 128, .blk_c = 128};
    rl_qweight qg = {.data = gq, .scales = gs, .zeros = gz, .g_idx = gi, .rows = out, .cols = in, .bits = 4, .group = 128, .ngroups = G};
    static const char *HN[] = {"FP8", "GPTQ4"};
    const rl_qweight *HQ[] = {&qf, &qg};
    const rl_dtype HD[] = {RL_DT_FP8_BLK, RL_DT_GPTQ};
    for (int d = 0; d < 2; d++) {
        if (d == 1 && in % 8) break;
        double bytes = d ? (double)nw / 2 : (double)nw;
        double t1 = time_call(p, y, x, HQ[d], HD[d], 1, in, out, 1.0);
        printf("%-5s T=1:   %9.1f us  %6.1f GB/s  (%.2f of memory bandwidth)  %.1f Gweights/s\n", HN[d], t1 * 1e6,
               bytes / t1 / 1e9, bytes / t1 / bw, (double)nw / t1 / 1e9);
        if (tp > 0) {
            int o2 = out > 4864 ? 4864 : out;
            rl_qweight qs = *HQ[d];
            qs.rows = o2;
            if (d == 1) qs.rows = out; /* GPTQ's packed rows are out wide: keep the descriptor whole */
            double tt = time_call(p, y, x, &qs, HD[d], tp, in, qs.rows, 1.0);
            printf("%-5s T=%d: %9.1f us  %6.1f GFLOP/s\n", HN[d], tp, tt * 1e6, 2.0 * qs.rows * in * tp / tt / 1e9);
        }
    }
    /* GGUF types (llama.cpp's numerics): random codes, realistic f16 scales (in a multiple of 256) */
    static const rl_dtype GD[] = {RL_DT_GQ8_0, RL_DT_Q4_0, RL_DT_Q4_K, RL_DT_Q6_K};
    for (int d = 0; d < 4 && in % 256 == 0; d++) {
        size_t rb = rl_dtype_row_bytes(GD[d], in), bb = RL_DTYPES[GD[d]].block_bytes, nbk = rb / bb * (size_t)out;
        uint8_t *g = malloc(rb * (size_t)out);
        if (!g) break;
        for (size_t i = 0; i < rb * (size_t)out; i++) g[i] = (uint8_t)((i * 2654435761u) >> 11);
        uint16_t h = rl_f32_to_f16(1e-3f);
        for (size_t k = 0; k < nbk; k++) { /* the f16 super scales: d (and dmin) */
            uint8_t *b = g + k * bb;
            if (GD[d] == RL_DT_Q6_K) memcpy(b + 208, &h, 2);
            else { memcpy(b, &h, 2); if (GD[d] == RL_DT_Q4_K) memcpy(b + 2, &h, 2); }
        }
        double bytes = (double)rb * out, t1 = time_call(p, y, x, g, GD[d], 1, in, out, 1.0);
        printf("gguf %-6s T=1: %9.1f us  %6.1f GB/s  (%.2f of memory bandwidth)\n", RL_DTYPES[GD[d]].st_name, t1 * 1e6,
               bytes / t1 / 1e9, bytes / t1 / bw);
        if (tp > 0) {
            int o2 = out > 4864 ? 4864 : out;
            double tt = time_call(p, y, x, g, GD[d], tp, in, o2, 1.0);
            printf("gguf %-6s T=%d: %9.1f us  %6.1f GFLOP/s\n", RL_DTYPES[GD[d]].st_name, tp, tt * 1e6, 2.0 * o2 * in * tp / tt / 1e9);
        }
        free(g);
    }
    free(f8); free(f8s); free(gq); free(gz); free(gi); free(gs);
    free(wf); free(x); free(y); free(wb); free(wh); free(q8); free(q4);
    rl_pool_free(p);
    return 0;
}
