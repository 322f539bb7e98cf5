/* Long contexts, bounded: a tiny synthetic model (hidden 64) with a 32,768-token context
 * prefills 16,384 tokens (2,048 under sanitizers) in one sweep, in bounded memory (peak RSS under
 * the memory plan's totals + a margin), and its logits equal the same prompt run in chunks of
 * 1,000 (1e-3). The rope scalings that act at such lengths are exercised on the way: yarn (the
 * 16k run), llama3 and linear (chunked == one sweep at 3,000 tokens, past their original
 * length); dynamic NTK and longrope choose their factors from the length of each call (as
 * transformers does), so for them the test checks that the switch happens exactly past the
 * original length: one sweep of `orig` tokens is plain (short factors / base), one of
 * orig + 1 is not. A prompt past the context is a clear error naming --ctx. */
#include "test.h"
#include "engine/model.h"
#include "model/synth.h"
#include "util/fileio.h"
#include <math.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_root[64];

/* Writes a synthetic llama with the given rope_scaling JSON ("" for none) to g_root/name. */
static int make_model(const char *name, const char *scaling, char *out, size_t cap) {
    char cfg[4096], in[256];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64,"
             "\"intermediate_size\":128,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
             "\"vocab_size\":256,\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
             "\"tie_word_embeddings\":true%s%s}", *scaling ? ",\"rope_scaling\":" : "", scaling);
    snprintf(in, sizeof in, "%s/%s.json", g_root, name);
    snprintf(out, cap, "%s/%s", g_root, name);
    rl_synth_opts so = {RL_DT_F32, 0, 11};
    if (rl_write_file_atomic(in, cfg, strlen(cfg)) || rl_synth_write(in, out, &so)) return -1;
    return 0;
}

static void prompt(int32_t *t, int n) {
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; t[i] = (int32_t)(s % 256); }
}

/* Last-row logits of n tokens with sweeps of max_batch rows. */
static int last_logits(const char *dir, int n, int max_batch, float *out) {
    rl_model_opts o = {.ctx = 32768, .max_batch = max_batch, .mem_budget = 0};
    rl_model *m = rl_model_open(dir, &o);
    if (!m) return -1;
    int32_t *t = malloc((size_t)n * sizeof *t);
    prompt(t, n);
    int rc = rl_model_eval(m, t, n, out, 0);
    free(t);
    rl_model_close(m);
    return rc;
}

static double max_diff(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) w = fmax(w, isfinite(a[i]) && isfinite(b[i]) ? fabs((double)a[i] - b[i]) : INFINITY);
    return w;
}

/* 16k prefill in one sweep in a child (its peak RSS against the plan), then in chunks. */
static void test_long_prefill(void) {
    char dir[300];
    CHECK(make_model("yarn", "{\"rope_type\":\"yarn\",\"factor\":8.0,\"original_max_position_embeddings\":4096}", dir, sizeof dir) == 0,
          "synth: %s", rl_last_error());
    int n = getenv("RL_SANITIZED") ? 2048 : 16384;
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        float r[256 + 3] = {0};
        rl_model_opts o = {.ctx = 32768, .max_batch = n, .mem_budget = 0};
        rl_model *m = rl_model_open(dir, &o);
        if (m) {
            int32_t *t = malloc((size_t)n * sizeof *t);
            prompt(t, n);
            r[0] = rl_model_eval(m, t, n, r + 3, 0) == 0;
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            r[1] = (float)((double)ru.ru_maxrss * 1024 / 1e6);
            r[2] = (float)((m->plan.device_bytes + m->plan.host_bytes + (64u << 20)) / 1e6);
            free(t);
            rl_model_close(m);
        }
        if (write(fds[1], r, sizeof r) != (ssize_t)sizeof r) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    float r[256 + 3] = {0};
    CHECK(read(fds[0], r, sizeof r) == (ssize_t)sizeof r, "child result");
    close(fds[0]);
    waitpid(pid, NULL, 0);
    CHECK(r[0] == 1, "one-sweep prefill of %d tokens", n);
    fprintf(stderr, "  %d tokens in one sweep: peak RSS %.1f MB, plan + 64 MB %.1f MB\n", n, r[1], r[2]);
    if (!getenv("RL_SANITIZED")) CHECK(r[1] < r[2], "peak RSS %.1f MB over the plan's %.1f MB", r[1], r[2]);
    float chunked[256];
    CHECK(last_logits(dir, n, 1000, chunked) == 0, "chunked: %s", rl_last_error());
    double w = max_diff(r + 3, chunked, 256);
    CHECK(w <= 1e-3, "one sweep vs chunks of 1000: max abs diff %g", w);
    fprintf(stderr, "  one sweep vs chunks: max abs diff %.2g\n", w);
    /* past the context: a clear error naming --ctx */
    rl_model_opts o = {.ctx = 64, .mem_budget = 0};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "open: %s", rl_last_error());
    if (m) {
        int32_t t[65] = {0};
        CHECK(rl_model_eval(m, t, 65, NULL, 0) == -1 && strstr(rl_last_error(), "--ctx"), "overflow: %s", rl_last_error());
        rl_model_close(m);
    }
}

/* Static scalings: chunked == one sweep past the original length. */
static void test_static_scalings(void) {
    static const char *S[][2] = {
        {"llama3", "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                   "\"original_max_position_embeddings\":1024}"},
        {"linear", "{\"rope_type\":\"linear\",\"factor\":4.0}"}};
    int n = getenv("RL_SANITIZED") ? 1200 : 3000;
    for (int i = 0; i < 2; i++) {
        char dir[300];
        float a[256], b[256];
        CHECK(make_model(S[i][0], S[i][1], dir, sizeof dir) == 0, "synth: %s", rl_last_error());
        CHECK(last_logits(dir, n, n, a) == 0 && last_logits(dir, n, 700, b) == 0, "%s: %s", S[i][0], rl_last_error());
        double w = max_diff(a, b, 256);
        CHECK(w <= 1e-3, "%s: one sweep vs chunks at %d tokens: %g", S[i][0], n, w);
    }
}

/* Length-dependent scalings: long factors (or NTK base growth) take effect exactly past orig. */
static void test_switching_scalings(void) {
    char lf[3000] = "", sf[3000] = "";
    for (int i = 0; i < 16; i++) { /* rot_dims / 2 = 16 factors */
        snprintf(lf + strlen(lf), sizeof lf - strlen(lf), "%s%g", i ? "," : "", 1.0 + 0.5 * i);
        snprintf(sf + strlen(sf), sizeof sf - strlen(sf), "%s1.0", i ? "," : "");
    }
    char lr[7000], lr2[7000];
    snprintf(lr, sizeof lr, "{\"rope_type\":\"longrope\",\"long_factor\":[%s],\"short_factor\":[%s],"
             "\"original_max_position_embeddings\":512}", lf, sf);
    snprintf(lr2, sizeof lr2, "{\"rope_type\":\"longrope\",\"long_factor\":[%s],\"short_factor\":[%s],"
             "\"original_max_position_embeddings\":512}", sf, sf); /* long factors all 1 */
    char a_dir[300], b_dir[300], c_dir[300], d_dir[300];
    CHECK(make_model("longrope", lr, a_dir, sizeof a_dir) == 0 && make_model("longrope1", lr2, b_dir, sizeof b_dir) == 0,
          "synth: %s", rl_last_error());
    CHECK(make_model("dynamic", "{\"rope_type\":\"dynamic\",\"factor\":4.0,\"original_max_position_embeddings\":1024}", c_dir, sizeof c_dir) == 0 &&
          make_model("plain", "", d_dir, sizeof d_dir) == 0, "synth: %s", rl_last_error());
    float a[256], b[256];
    /* longrope: at 512 tokens the long factors are unused; at 513 they are (the switch) */
    CHECK(last_logits(a_dir, 512, 512, a) == 0 && last_logits(b_dir, 512, 512, b) == 0, "longrope: %s", rl_last_error());
    CHECK(max_diff(a, b, 256) == 0, "longrope at the original length uses the short factors");
    CHECK(last_logits(a_dir, 513, 513, a) == 0 && last_logits(b_dir, 513, 513, b) == 0, "longrope: %s", rl_last_error());
    CHECK(max_diff(a, b, 256) > 1e-4, "longrope past the original length uses the long factors");
    /* dynamic NTK: plain rope up to its original length (1024), a grown base past it */
    CHECK(last_logits(c_dir, 1024, 1024, a) == 0 && last_logits(d_dir, 1024, 1024, b) == 0, "dynamic: %s", rl_last_error());
    CHECK(max_diff(a, b, 256) == 0, "dynamic NTK at its original length is plain rope");
    CHECK(last_logits(c_dir, 1025, 1025, a) == 0 && last_logits(d_dir, 1025, 1025, b) == 0, "dynamic: %s", rl_last_error());
    CHECK(max_diff(a, b, 256) > 1e-4, "dynamic NTK past its original length scales the base");
}

int main(void) {
    snprintf(g_root, sizeof g_root, "/tmp/rl_long_XXXXXX");
    if (!mkdtemp(g_root)) { fprintf(stderr, "mkdtemp failed\n"); return 1; }
    RUN(test_long_prefill);
    RUN(test_static_scalings);
    RUN(test_switching_scalings);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd)) fprintf(stderr, "cleanup of %s failed\n", g_root);
    TEST_END();
}
