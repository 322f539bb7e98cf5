/* Attention in llama.cpp's CPU order (attention_ggml.c): every SIMD path gives the scalar path's
 * bits, for one query and for a batch (one query per work item on the scalar path, blocks of
 * queries on the SIMD paths), head sizes with and without a tail past 64 / 16, grouped heads, a
 * sliding window, a ring cache and a soft-cap. */
#include "test.h"
#include "backend/cpu/attention_ggml.h"
#include "backend/cpu/simd.h"
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static void run_case(int hd, int vd, int n_head, int n_kv, int pos0, int T, int window, int ring, float softcap) {
    int cells = ring ? ring : pos0 + T;
    rl_kv_view kv = {.dt = RL_DT_F32, .ring = ring, .k_width = n_kv * hd, .v_width = n_kv * vd};
    float *k = malloc(sizeof(float) * (size_t)cells * kv.k_width), *v = malloc(sizeof(float) * (size_t)cells * kv.v_width);
    float *q = malloc(sizeof(float) * (size_t)T * n_head * hd);
    for (int64_t i = 0; i < (int64_t)cells * kv.k_width; i++) k[i] = frand();
    for (int64_t i = 0; i < (int64_t)cells * kv.v_width; i++) v[i] = frand();
    for (int64_t i = 0; i < (int64_t)T * n_head * hd; i++) q[i] = frand();
    kv.k = k;
    kv.v = v;
    int64_t row = (pos0 + T + 255) / 256 * 256;
    int n_rows = 2 * RL_GGML_ATT_QB; /* two threads' blocks */
    float *scratch = malloc(sizeof(float) * (size_t)row * n_rows);
    float *y0 = malloc(sizeof(float) * (size_t)T * n_head * vd), *y = malloc(sizeof(float) * (size_t)T * n_head * vd);
    CHECK(rl_attention_ggml_ok(&kv, pos0, T, hd, vd, row), "ok");
    CHECK(rl_simd_force("scalar") == 0, "scalar");
    rl_attention_ggml(NULL, y0, q, &kv, T, pos0, n_head, n_kv, hd, vd, 0.125f, softcap, window, scratch, row, 1); /* one query per item */
    static const char *const PATHS[] = {"avx2", "avx512", "avx512vnni"};
    int ran = 0;
    for (int pi = 0; pi < 3; pi++) {
        if (rl_simd_force(PATHS[pi]) != 0) continue;
        ran++;
        rl_pool *p = rl_pool_new(2);
        rl_attention_ggml(p, y, q, &kv, T, pos0, n_head, n_kv, hd, vd, 0.125f, softcap, window, scratch, row, n_rows);
        rl_pool_free(p);
        CHECK(!memcmp(y, y0, sizeof(float) * (size_t)T * n_head * vd), "%s hd=%d vd=%d T=%d pos0=%d window=%d ring=%d: differs from scalar",
              PATHS[pi], hd, vd, T, pos0, window, ring);
    }
    rl_simd_force(NULL);
    int finite = 1;
    for (int64_t i = 0; i < (int64_t)T * n_head * vd; i++) finite &= y0[i] == y0[i];
    CHECK(finite, "finite outputs");
    (void)ran;
    free(k); free(v); free(q); free(scratch); free(y0); free(y);
}

static void test_paths(void) {
    run_case(128, 128, 4, 2, 300, 1, 0, 0, 0.0f);   /* one query, GQA */
    run_case(128, 128, 4, 2, 0, 37, 0, 0, 0.0f);    /* a batch */
    run_case(80, 72, 3, 3, 70, 1, 0, 0, 0.0f);      /* tails past 64 and 16 */
    run_case(96, 96, 2, 1, 40, 5, 0, 0, 50.0f);     /* soft-cap */
    run_case(64, 64, 2, 2, 100, 1, 32, 40, 0.0f);   /* sliding window on a ring */
    run_case(64, 64, 2, 2, 100, 3, 32, 42, 0.0f);
    run_case(128, 128, 4, 2, 5, 61, 0, 0, 0.0f);    /* blocks of queries, a partial last block */
    run_case(64, 72, 4, 1, 0, 70, 24, 0, 30.0f);    /* blocks with a window, soft-cap, a column tail */
    run_case(64, 64, 2, 2, 90, 40, 32, 64, 0.0f);   /* blocks on a ring */
    run_case(128, 128, 12, 2, 700, 1, 0, 0, 0.0f);  /* one query, the 6 heads of a group in one item */
    run_case(64, 80, 10, 1, 1100, 1, 0, 0, 0.0f);   /* one query, blocks of 8 and 2 heads, a column tail */
    run_case(64, 64, 8, 2, 300, 1, 100, 128, 0.0f); /* one query, grouped heads, window on a ring */
    run_case(64, 64, 4, 2, 334, 1, 0, 0, 0.0f);     /* one query: 15 cells past the last full 16 */
}

int main(void) {
    RUN(test_paths);
    TEST_END();
}
