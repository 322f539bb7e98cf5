/* The KV cache module through the engine, on the gemma3 fixture (5 sliding layers of window 8,
 * one global layer, head_dim 32):
 * - ring caches: sliding layers keep window + max_T - 1 rows; decoding 40 tokens one by one
 *   through a 9-row ring (max_batch 2) gives the logits of one 40-token prefill through linear
 *   caches, and prefilling in chunks of 2 does too;
 * - rewinding deeper than the ring keeps replays the prefix and stays exact; a shallow rewind
 *   is cheap (no replay) and exact;
 * - compact KV types (f16, bf16, q8_0) stay close to f32 (bounds below, from the storage
 *   precision) and keep the greedy choice; an unknown type is a clear error;
 * - at a 32k context the 5:1 pattern cuts the KV bytes more than 5x;
 * - MLA caches its latent (c | k_pe) once per token, not per-head keys and values. */
#include "test.h"
#include "rabbitllm.h"
#include "engine/model.h"
#include <math.h>
#include <string.h>

#define N 40

static char g_dir[512];

static rl_model *open_with(int max_batch, int ctx, const char *kv_type) {
    rl_model_opts o = {.max_batch = max_batch, .ctx = ctx, .kv_type = kv_type};
    rl_model *m = rl_model_open(g_dir, &o);
    CHECK(m != NULL, "open (batch %d, kv %s): %s", max_batch, kv_type ? kv_type : "auto", rl_last_error());
    return m;
}

static void tokens(int32_t *t, int V) {
    for (int i = 0; i < N; i++) t[i] = (int32_t)((i * 37 + 11) % V);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* Logits of all N positions of one linear-cache prefill (the reference). */
static float *reference(int *V) {
    rl_model *m = open_with(64, 64, "f32");
    if (!m) return NULL;
    *V = rl_model_vocab(m);
    CHECK(m->kv.ring[0] == 0, "batch 64 at ctx 64: linear caches");
    int32_t t[N];
    tokens(t, *V);
    float *lg = malloc((size_t)N * *V * sizeof(float));
    CHECK(rl_model_eval(m, t, N, lg, 1) == 0, "eval: %s", rl_last_error());
    rl_model_close(m);
    return lg;
}

static void test_ring(void) {
    int V = 0;
    float *ref = reference(&V);
    if (!ref) return;
    rl_model *m = open_with(2, 64, "f32");
    if (!m) { free(ref); return; }
    CHECK(m->kv.ring[0] == 9, "sliding layer ring: window 8 + 2 - 1 = 9 rows, got %d", m->kv.ring[0]);
    int32_t t[N];
    tokens(t, V);
    float *lg = malloc((size_t)N * V * sizeof(float));
    double w = 0;
    for (int i = 0; i < N; i++) { /* decode one by one: the ring wraps every 9 positions */
        CHECK(rl_model_eval(m, &t[i], 1, lg, 0) == 0, "decode %d: %s", i, rl_last_error());
        w = fmax(w, max_diff(lg, ref + (size_t)i * V, (size_t)V));
    }
    CHECK(w <= 1e-5, "ring decode vs linear prefill: max abs diff %g", w);
    /* a shallow rewind (2 <= max_T) keeps the ring valid: no replay */
    CHECK(rl_model_rewind(m, N - 2) == 0 && !m->replay, "shallow rewind without replay");
    CHECK(rl_model_eval(m, &t[N - 2], 2, lg, 1) == 0, "re-eval: %s", rl_last_error());
    w = max_diff(lg, ref + (size_t)(N - 2) * V, 2 * (size_t)V);
    CHECK(w <= 1e-5, "after a shallow rewind: max abs diff %g", w);
    /* a deep rewind (7 > max_T) loses ring rows the prefix needs: replayed, still exact */
    CHECK(rl_model_rewind(m, N - 7) == 0 && m->replay, "deep rewind asks for a replay");
    CHECK(rl_model_eval(m, &t[N - 7], 7, lg, 1) == 0, "re-eval: %s", rl_last_error());
    w = max_diff(lg, ref + (size_t)(N - 7) * V, 7 * (size_t)V);
    CHECK(w <= 1e-5, "after a deep rewind: max abs diff %g", w);
    CHECK(rl_model_rewind(m, N + 1) == -1, "rewind past the end is an error");
    rl_model_close(m);
    /* chunked prefill through the ring */
    m = open_with(2, 64, "f32");
    if (m) {
        CHECK(rl_model_eval(m, t, N, lg, 1) == 0, "chunked prefill: %s", rl_last_error());
        w = max_diff(lg, ref, (size_t)N * V);
        CHECK(w <= 1e-5, "chunked ring prefill vs linear: max abs diff %g", w);
        rl_model_close(m);
    }
    free(lg); free(ref);
}

/* Compact types: the logits move by what rounding the cached keys and values costs. Bounds
 * relative to the largest |logit|: f16 keeps 11 significant bits (2^-11 = 4.9e-4 per value),
 * bf16 8 bits (3.9e-3), q8_0 a 1/254 step of each 32-block's max (about 4e-3 of the block's
 * largest value); after attention and four more layers they stay within a few times that. */
static void test_kv_types(void) {
    int V = 0;
    float *ref = reference(&V);
    if (!ref) return;
    double lmax = 0;
    for (size_t i = 0; i < (size_t)N * V; i++) lmax = fmax(lmax, fabs(ref[i]));
    const char *types[] = {"f16", "bf16", "q8_0"};
    const double bound[] = {4e-3, 3e-2, 3e-2};
    int32_t t[N];
    tokens(t, V);
    float *lg = malloc((size_t)N * V * sizeof(float));
    for (int k = 0; k < 3; k++) {
        for (int batch = 2; batch <= 64; batch += 62) { /* ring and linear caches */
            rl_model *m = open_with(batch, 64, types[k]);
            if (!m) continue;
            CHECK(rl_model_eval(m, t, N, lg, 1) == 0, "%s: eval: %s", types[k], rl_last_error());
            double rel = max_diff(lg, ref, (size_t)N * V) / lmax;
            CHECK(rel <= bound[k], "kv %s (batch %d): max diff %.3g of the largest logit (bound %g)", types[k], batch, rel, bound[k]);
            fprintf(stderr, "  kv %-4s batch %2d: max |diff| / max |logit| = %.2g\n", types[k], batch, rel);
            rl_model_close(m);
        }
    }
    rl_model_opts o = {.kv_type = "q4"};
    CHECK(rl_model_open(g_dir, &o) == NULL && strstr(rl_last_error(), "KV type"), "unknown kv type: %s", rl_last_error());
    free(lg); free(ref);
}

/* 32k context: 1 global layer of 32768 rows + 5 rings of 8 + 255 rows, against 6 x 32768. */
static void test_bytes(void) {
    rl_model_opts o = {.ctx = 32768, .kv_type = "f32"};
    rl_model *m = rl_model_open(g_dir, &o);
    CHECK(m != NULL, "open at 32k: %s", rl_last_error());
    if (!m) return;
    uint64_t have = rl_kv_bytes(&m->kv), full = 6ull * 32768 * 2 * m->kv.k_width * sizeof(float);
    CHECK((double)full / have > 5.0, "KV bytes cut %.2fx (need > 5)", (double)full / have);
    fprintf(stderr, "  32k context: %.2f MB instead of %.2f MB (%.2fx less)\n", have / 1e6, full / 1e6, (double)full / have);
    rl_model_close(m);
}

/* MLA (deepseek_v3 fixture): the cache holds the latent c and k_pe per token, once (keys and
 * values share the rows), instead of expanded per-head keys and values; an f16 latent stays
 * within the f16 bound above. (bf16 is not bounded per logit here: this fixture routes through
 * MoE experts, and at one of its positions a bf16 rounding of the attention output flips a
 * near-tie of the router, which moves that row's logits by O(1) — a discontinuity of the
 * model, not an error of the cache.) */
static void test_mla_latent(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/deepseek_v3", t_shared());
    rl_model_opts o = {.ctx = 256, .kv_type = "f32"};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open: %s", rl_last_error());
    if (!m) return;
    const rl_model_desc *d = &m->d;
    CHECK(m->mla_latent, "cpu runs MLA in the latent");
    uint64_t want = (uint64_t)m->kv.n_layers * 256 * (d->kv_lora_rank + d->qk_rope_dim) * sizeof(float);
    uint64_t expanded = (uint64_t)m->kv.n_layers * 256 * d->n_heads * (d->head_dim + d->v_head_dim) * sizeof(float);
    CHECK(rl_kv_bytes(&m->kv) == want, "latent cache %llu bytes, want %llu", (unsigned long long)rl_kv_bytes(&m->kv),
          (unsigned long long)want);
    fprintf(stderr, "  MLA cache %.1f KB instead of %.1f KB expanded (%.1fx less)\n", want / 1e3, expanded / 1e3,
            (double)expanded / want);
    int V = rl_model_vocab(m);
    int32_t t[24];
    for (int i = 0; i < 24; i++) t[i] = (int32_t)((i * 29 + 3) % V);
    float *a = malloc((size_t)24 * V * sizeof(float)), *b = malloc((size_t)24 * V * sizeof(float));
    CHECK(rl_model_eval(m, t, 24, a, 1) == 0, "eval: %s", rl_last_error());
    rl_model_close(m);
    o.kv_type = "f16";
    m = rl_model_open(dir, &o);
    CHECK(m != NULL && rl_model_eval(m, t, 24, b, 1) == 0, "f16: %s", rl_last_error());
    double lmax = 0;
    for (size_t i = 0; i < (size_t)24 * V; i++) lmax = fmax(lmax, fabs(a[i]));
    double rel = max_diff(a, b, (size_t)24 * V) / lmax;
    CHECK(rel <= 4e-3, "f16 latent: %.3g of the largest logit", rel);
    rl_model_close(m);
    free(a); free(b);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/fixtures/gemma3", t_shared());
    RUN_SHARED(test_ring);
    RUN_SHARED(test_kv_types);
    RUN_SHARED(test_bytes);
    RUN_SHARED(test_mla_latent);
    TEST_END();
}
