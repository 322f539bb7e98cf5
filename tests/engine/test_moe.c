/* MoE expert streaming and MLA/DSA caches: a decode sweep reads only the routed experts
 * (k of E per MoE layer), expert batches and chunked prefill give the same logits, and the
 * MLA / DSA cache path equals recomputing the whole sequence. */
#include "test.h"
#include "engine/model.h"
#include "engine/moe.h"
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

int main(void) {
    RUN_SHARED(test_decode_reads_topk);
    RUN_SHARED(test_consistency);
    TEST_END();
}
