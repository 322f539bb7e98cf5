/* Streaming keeps memory bounded: a synthetic checkpoint whose weights total >= 8x its largest
 * layer runs with peak RSS under 3 x largest layer + KV cache + activations + 64 MB. */
#include "test.h"
#include "engine/model.h"
#include "model/synth.h"
#include "util/fileio.h"
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *CFG =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":512,"
    "\"intermediate_size\":1536,\"num_hidden_layers\":24,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
    "\"vocab_size\":8192,\"max_position_embeddings\":2048,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
    "\"tie_word_embeddings\":false,\"torch_dtype\":\"float32\"}";

static void test_peak_rss(void) {
    char dir[] = "/tmp/rl_stream_XXXXXX", cfg[300], model[300];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(cfg, sizeof cfg, "%s/in.json", dir);
    snprintf(model, sizeof model, "%s/m", dir);
    CHECK(rl_write_file_atomic(cfg, CFG, strlen(CFG)) == 0, "write config");
    rl_synth_opts so = {RL_DT_F32, 50000000, 7};
    CHECK(rl_synth_write(cfg, model, &so) == 0, "synth: %s", rl_last_error());

    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double r[4] = {0};
        rl_model_opts o = {.ctx = 256, .max_batch = 64};
        rl_model *m = rl_model_open(model, &o);
        if (m) {
            int V = rl_model_vocab(m);
            float *lg = malloc((size_t)V * sizeof(float));
            int32_t toks[32];
            for (int i = 0; i < 32; i++) toks[i] = (int32_t)(i * 97 % V);
            int ok = rl_model_eval(m, toks, 32, lg, 0) == 0;
            for (int i = 0; ok && i < 4; i++) ok = rl_model_eval(m, &toks[i], 1, lg, 0) == 0;
            size_t largest = rl_loader_slot_bytes(m->ld), total = 0;
            for (int i = 0; i < rl_ckpt_n_files(m->ck); i++) total += rl_ckpt_file_size(m->ck, i);
            /* the memory plan: KV cache, activations, scratch (device) + slots and staging (host) */
            size_t planned = m->plan.device_bytes + m->plan.host_bytes;
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            r[0] = ok; r[1] = (double)ru.ru_maxrss * 1024; r[2] = (double)(planned + largest + (64u << 20)); r[3] = (double)total / largest;
            free(lg);
            rl_model_close(m);
        }
        if (write(fds[1], r, sizeof r) != sizeof r) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    double r[4] = {0};
    CHECK(read(fds[0], r, sizeof r) == sizeof r, "child result");
    close(fds[0]);
    waitpid(pid, NULL, 0);
    CHECK(r[0] == 1, "child ran the model");
    CHECK(r[3] >= 8, "weights total %.1fx the largest stage (need >= 8)", r[3]);
    fprintf(stderr, "  peak RSS %.1f MB, bound %.1f MB, weights %.1fx largest stage\n", r[1] / 1e6, r[2] / 1e6, r[3]);
    if (!getenv("RL_SANITIZED")) /* sanitizer shadow memory inflates RSS */
        CHECK(r[1] < r[2], "peak RSS %.1f MB exceeds %.1f MB", r[1] / 1e6, r[2] / 1e6);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_peak_rss);
    TEST_END();
}
