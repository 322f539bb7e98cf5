/* MoE expert streaming and MLA/DSA caches: a decode sweep reads only the routed experts
 * (k of E per MoE layer), expert batches and chunked prefill give the same logits, and the
 * MLA / DSA cache path equals recomputing the whole sequence. */
#include "test.h"
#include "engine/model.h"
#include "engine/moe.h"
#include "engine/moe_state.h"
#include "backend/backend.h"
#include "rabbitllm.h"
#include <math.h>

static rl_model *open_fx(const char *name, int max_batch) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    rl_model_opts o = {.max_batch = max_batch};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s: open: %s", name, rl_last_error());
    return m;
}

/* decode of one token reads exactly top-k experts' bytes in each MoE layer */
static void test_decode_reads_topk(void) {
    rl_model *m = open_fx("qwen3_moe", 0);
    if (!m) return;
    int32_t p[5] = {3, 17, 42, 99, 7}, nxt = 11;
    CHECK(rl_model_eval(m, p, 5, NULL, 0) == 0, "prefill: %s", rl_last_error());
    rl_moe_reset_stats(m);
    CHECK(rl_model_eval(m, &nxt, 1, NULL, 0) == 0, "decode: %s", rl_last_error());
    const rl_model_desc *d = &m->d;
    for (int l = 0; l < d->n_layers; l++) {
        if (!d->layer_moe[l]) continue;
        uint64_t got = rl_moe_layer_bytes(m, l), all = rl_moe_layer_total_bytes(m, l);
        CHECK(all > 0 && got * (uint64_t)d->n_experts == all * (uint64_t)d->n_experts_used,
              "layer %d: decode read %llu expert bytes of %llu (want %d/%d)", l, (unsigned long long)got,
              (unsigned long long)all, d->n_experts_used, d->n_experts);
    }
    rl_model_close(m);
}

/* the same prompt prefilled in chunks (several expert batches per chunk) or at once; decode
 * after a prefill equals a full prefill of the sequence (MLA cache, DSA indexer cache) */
static void check_consistency(const char *name) {
    rl_model *a = open_fx(name, 3), *b = open_fx(name, 0);
    if (!a || !b) { rl_model_close(a); rl_model_close(b); return; }
    int V = rl_model_vocab(a), N = 20;
    int32_t seq[20];
    for (int i = 0; i < N; i++) seq[i] = (int32_t)((i * 53 + 7) % V);
    float *la = malloc((size_t)V * N * sizeof(float)), *lb = malloc((size_t)V * N * sizeof(float));
    CHECK(rl_model_eval(a, seq, 12, la, 1) == 0, "%s: chunked prefill: %s", name, rl_last_error());
    for (int i = 12; i < N; i++) CHECK(rl_model_eval(a, &seq[i], 1, la + (size_t)i * V, 0) == 0, "%s: decode", name);
    CHECK(rl_model_eval(b, seq, N, lb, 1) == 0, "%s: full: %s", name, rl_last_error());
    double w = 0;
    for (size_t i = 0; i < (size_t)V * N; i++) w = fmax(w, fabs(la[i] - lb[i]));
    CHECK(w < 1e-4, "%s: chunked prefill + decode vs full prefill differ by %g", name, w);
    free(la); free(lb);
    rl_model_close(a); rl_model_close(b);
}

static void test_consistency(void) {
    const char *names[] = {"mixtral", "qwen2_moe", "deepseek_v2", "deepseek_v3", "glm_moe_dsa", "exaone_moe", NULL};
    for (int i = 0; names[i]; i++) check_consistency(names[i]);
}

/* --- expert placement (moe_place.c): the cache, and the CPU side of a GPU backend --- */

#define SEQ_N 20
#define SEQ_P 12

static rl_model *open_opts(const char *rel, rl_model_opts o) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", t_shared(), rel);
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s [%s]: open: %s", rel, o.backend ? o.backend : "cpu", rl_last_error());
    return m;
}

/* Logits of a fixed sequence: a prompt of SEQ_P tokens (in sweeps of max_batch), then decode. */
static int run_seq(rl_model *m, float *out) {
    int V = rl_model_vocab(m);
    int32_t seq[SEQ_N];
    for (int i = 0; i < SEQ_N; i++) seq[i] = (int32_t)((i * 53 + 7) % V);
    if (rl_model_eval(m, seq, SEQ_P, out, 1)) return -1;
    for (int i = SEQ_P; i < SEQ_N; i++)
        if (rl_model_eval(m, &seq[i], 1, out + (size_t)i * V, 0)) return -1;
    return 0;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - b[i]));
    return w;
}

/* Bytes of `slots` experts in every MoE layer of m. */
static size_t slot_bytes(const rl_model *m, int slots) { return (size_t)slots * rl_moe_slot_bytes(m); }

/* A decode of one token repeated (rewound) twice, then a third time: the expert bytes that third
 * decode read from disk. */
static uint64_t repeated_decode_reads(rl_model *m, const char *rel) {
    int32_t t = 5;
    int pos = rl_model_pos(m);
    for (int k = 0; k < 2; k++) {
        CHECK(rl_model_eval(m, &t, 1, NULL, 0) == 0, "%s: decode", rel);
        CHECK(rl_model_rewind(m, pos) == 0, "%s: rewind", rel);
    }
    rl_moe_reset_stats(m);
    CHECK(rl_model_eval(m, &t, 1, NULL, 0) == 0, "%s: decode again", rel);
    uint64_t rd = 0;
    for (int l = 0; l < m->d.n_layers; l++) rd += rl_moe_layer_bytes(m, l);
    return rd;
}

/* cpu: an expert cache holding every expert, and one of 2 per layer (evictions), give the
 * uncached logits bit for bit; a decode repeated a third time (its experts taken in on reuse)
 * reads nothing from disk with a cache of every expert */
static void check_cache_cpu(const char *rel) {
    rl_model *r = open_opts(rel, (rl_model_opts){.max_batch = 3});
    if (!r) return;
    int V = rl_model_vocab(r);
    float *lr = malloc((size_t)V * SEQ_N * sizeof(float)), *lc = malloc((size_t)V * SEQ_N * sizeof(float));
    CHECK(r->moe->xc.slots == 0 && !strstr(rl_moe_placement(r), "--expert-cache"), "%s: no cache by default with --mem-budget 0", rel);
    CHECK(run_seq(r, lr) == 0, "%s: reference: %s", rel, rl_last_error());
    int E = r->moe->E, n_moe = r->moe->n_moe;
    for (int v = 0; v < 2; v++) {
        int slots = v ? 2 : E;
        rl_model *m = open_opts(rel, (rl_model_opts){.max_batch = 3, .expert_cache = slot_bytes(r, slots)});
        if (!m) continue;
        CHECK(m->moe->xc.slots == slots, "%s: %d slots asked, %d planned", rel, slots, m->moe->xc.slots);
        CHECK(run_seq(m, lc) == 0, "%s: %d slots: %s", rel, slots, rl_last_error());
        double w = max_diff(lr, lc, (size_t)V * SEQ_N);
        CHECK(w == 0, "%s: %d cached experts per layer change the logits by %g", rel, slots, w);
        uint64_t hits, admits;
        rl_moe_place_stats(m, &hits, &admits, NULL, NULL, NULL);
        CHECK(hits > 0 && admits > 0, "%s: %d slots: %llu hits, %llu admitted", rel, slots, (unsigned long long)hits, (unsigned long long)admits);
        if (v) CHECK(admits > (uint64_t)(slots * n_moe), "%s: 2 slots per layer but no eviction (%llu admitted)", rel, (unsigned long long)admits);
        else {
            uint64_t rd = repeated_decode_reads(m, rel);
            CHECK(rd == 0, "%s: a repeated decode with every expert cached read %llu expert bytes", rel, (unsigned long long)rd);
        }
        rl_model_close(m);
    }
    free(lr); free(lc);
    rl_model_close(r);
}

static void test_cache_cpu(void) {
    const char *names[] = {"fixtures/qwen3_moe", "fixtures/mixtral", "fixtures/deepseek_v3", "fixtures/qwen2_moe",
                           "fixtures-quant/deepseek_v3_fp8", NULL};
    for (int i = 0; names[i]; i++) check_cache_cpu(names[i]);
    /* --mem-budget auto sizes the cache from what the budget leaves: the fixtures fit whole */
    rl_model *m = open_opts("fixtures/qwen3_moe", (rl_model_opts){.mem_budget = RL_MEM_BUDGET_AUTO});
    if (m) {
        CHECK(m->moe->xc.slots == m->moe->E, "auto budget: %d of %d experts cached (%s)", m->moe->xc.slots, m->moe->E, rl_moe_placement(m));
        rl_model_close(m);
    }
    m = open_opts("fixtures/qwen3_moe", (rl_model_opts){.mem_budget = RL_MEM_BUDGET_AUTO, .expert_cache = RL_EXPERT_CACHE_OFF});
    if (m) { CHECK(m->moe->xc.slots == 0, "--expert-cache off: %d slots", m->moe->xc.slots); rl_model_close(m); }
}

/* A GPU-style backend (cpu-staged; vulkan on lavapipe in CI; cuda in tests/cuda/device_check.sh): misses on the
 * CPU, uploaded (from disk or the RAM tier), or cached on the device, each giving the logits of
 * every expert on the device. */
static void check_hybrid(const char *rel, const char *be) {
    rl_model *r = open_opts(rel, (rl_model_opts){.max_batch = 3, .backend = be, .moe_cpu_rows = -1});
    if (!r) return;
    int V = rl_model_vocab(r);
    float *lr = malloc((size_t)V * SEQ_N * sizeof(float)), *lc = malloc((size_t)V * SEQ_N * sizeof(float));
    CHECK(run_seq(r, lr) == 0, "%s: reference: %s", rel, rl_last_error());
    uint64_t cpu, dev;
    rl_moe_place_stats(r, NULL, NULL, &cpu, &dev, NULL);
    CHECK(cpu == 0 && dev > 0 && r->moe->cpu == NULL, "%s: --moe-cpu-rows off: %llu experts on the CPU", rel, (unsigned long long)cpu);
    struct { const char *what; rl_model_opts o; int hits, cpu, dev, ram; } v[] = {
        {"misses on the CPU (default)", {.max_batch = 3, .backend = be}, 0, 1, -1, 0},
        {"device cache from --gpu-mem", {.max_batch = 3, .backend = be, .gpu_mem = (size_t)1 << 30}, 1, -1, -1, 0},
        {"2 cached, 1-row misses on the CPU", {.max_batch = 3, .backend = be, .moe_cpu_rows = 1}, 1, 1, 1, 0},
        {"CPU misses from the RAM tier", {.max_batch = 3, .backend = be, .mem_budget = RL_MEM_BUDGET_AUTO}, 0, 1, -1, 1},
        {"2 cached, fills and 1-row misses from RAM", {.max_batch = 3, .backend = be, .moe_cpu_rows = 1, .mem_budget = RL_MEM_BUDGET_AUTO}, 1, 1, 1, 1},
        {"every expert uploaded, from the RAM tier", {.max_batch = 3, .backend = be, .moe_cpu_rows = -1, .mem_budget = RL_MEM_BUDGET_AUTO,
                                                      .expert_cache = RL_EXPERT_CACHE_OFF}, 0, 0, 1, 1},
    };
    for (int i = 0; i < 6; i++) {
        if (i == 2 || i == 4) v[i].o.expert_cache = slot_bytes(r, 2);
        rl_model *m = open_opts(rel, v[i].o);
        if (!m) continue;
        CHECK(run_seq(m, lc) == 0, "%s: %s: %s", rel, v[i].what, rl_last_error());
        double w = max_diff(lr, lc, (size_t)V * SEQ_N);
        CHECK(w < 1e-4, "%s: %s: logits differ from every expert on the device by %g", rel, v[i].what, w);
        uint64_t hits, admits, ram;
        rl_moe_place_stats(m, &hits, &admits, &cpu, &dev, &ram);
        fprintf(stderr, "  %s [%s, %s]: %llu hits, %llu admitted, %llu on the CPU, %llu uploaded, %llu from RAM; max diff %.2g\n", rel, be,
                v[i].what, (unsigned long long)hits, (unsigned long long)admits, (unsigned long long)cpu, (unsigned long long)dev,
                (unsigned long long)ram, w);
        CHECK((ram > 0) == v[i].ram, "%s: %s: %llu uses from the RAM tier", rel, v[i].what, (unsigned long long)ram);
        CHECK(v[i].hits < 0 || (hits > 0) == v[i].hits, "%s: %s: %llu hits", rel, v[i].what, (unsigned long long)hits);
        CHECK(v[i].cpu < 0 || (cpu > 0) == v[i].cpu, "%s: %s: %llu on the CPU", rel, v[i].what, (unsigned long long)cpu);
        CHECK(v[i].dev < 0 || (dev > 0) == v[i].dev, "%s: %s: %llu uploaded", rel, v[i].what, (unsigned long long)dev);
        if (!strcmp(be, "cpu-staged")) /* the RAM tier's slots page-locked where the backend can */
            CHECK((rl_backend_staged_registered() > 0) == v[i].ram, "%s: %s: %ld host ranges registered", rel, v[i].what,
                  rl_backend_staged_registered());
        if (i == 5) { /* every expert from the RAM tier, none from disk */
            uint64_t rd = repeated_decode_reads(m, rel);
            CHECK(rd == 0, "%s: %s: a repeated decode read %llu expert bytes from disk", rel, v[i].what, (unsigned long long)rd);
        }
        rl_model_close(m);
        if (!strcmp(be, "cpu-staged"))
            CHECK(rl_backend_staged_registered() == 0, "%s: %s: %ld host ranges left registered after close", rel, v[i].what,
                  rl_backend_staged_registered());
    }
    free(lr); free(lc);
    rl_model_close(r);
}

static void test_hybrid_gpu(void) {
    const char *gpus[] = {"cpu-staged", "vulkan", "cuda"}; /* cpu-staged: the same paths, under ASan too */
    for (int g = 0; g < 3; g++) {
        if (g && !strstr(rl_backend_available(), gpus[g])) continue; /* not built in */
        rl_backend *be = g && getenv("RL_SANITIZED") ? NULL : rl_backend_open(gpus[g], 1);
        if (!be) { /* no device, or under ASan (lavapipe is slow there) */
            t_skipped++;
            fprintf(stderr, "  %s skipped: %s\n", gpus[g], getenv("RL_SANITIZED") ? "sanitized build" : rl_last_error());
            continue;
        }
        rl_backend_close(be);
        const char *names[] = {"fixtures/qwen3_moe", "fixtures/deepseek_v3", "fixtures/qwen2_moe", NULL};
        for (int i = 0; names[i]; i++) check_hybrid(names[i], gpus[g]);
    }
}

int main(void) {
    RUN_SHARED(test_decode_reads_topk);
    RUN_SHARED(test_consistency);
    RUN_SHARED(test_cache_cpu);
    RUN_SHARED(test_hybrid_gpu);
    TEST_END();
}
