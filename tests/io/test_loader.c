/* The loader delivers the same tensor bytes whichever way it reads: buffered through the page
 * cache, under a cap (O_DIRECT into place, or buffered and dropped where O_DIRECT is refused),
 * streamed or resident (read at open), over a synthetic checkpoint in several shards; the stage
 * layout keeps tensors 8-byte aligned and O_DIRECT ranges aligned to their file offsets. */
#include "test.h"
#include "io/loader.h"
#include "model/config.h"
#include "model/synth.h"
#include "util/err.h"
#include "util/fileio.h"
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

static const char *CFG =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":128,"
    "\"intermediate_size\":384,\"num_hidden_layers\":6,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"vocab_size\":1000,\"max_position_embeddings\":256,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
    "\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\"}";

/* 1 if the file system of path takes O_DIRECT opens. */
static int direct_ok(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd >= 0) close(fd);
    return fd >= 0;
}

/* Compares every tensor of every stage read by a loader with opts o to the bytes read with
 * rl_ckpt_read. Two sweeps, so slots are reused. */
static void check_loader(const rl_checkpoint *ck, const rl_stage *st, int n, rl_loader_opts o, const char *what) {
    rl_loader *L = rl_loader_new_opts(ck, st, n, &o);
    CHECK(L != NULL, "%s: %s", what, rl_errmsg());
    if (!L) return;
    int bad = 0;
    for (int sweep = 0; sweep < 2; sweep++)
        for (int s = 0; s < n; s++) {
            const uint8_t *buf = rl_loader_acquire(L, s);
            CHECK(buf != NULL, "%s: stage %d: %s", what, s, rl_errmsg());
            if (!buf) { rl_loader_free(L); return; }
            for (int r = 0; r < W_COUNT; r++) {
                const rl_tensor_info *t = st[s].t[r];
                if (!t) continue;
                if (((uintptr_t)(buf + st[s].off[r])) % 8) bad++;
                uint64_t len = t->nbytes, from = 0;
                if (st[s].kind == RL_STAGE_HEAD) { /* a head chunk holds rows [row0, row1) */
                    uint64_t rb = t->nbytes / (uint64_t)t->shape[0];
                    from = rb * (uint64_t)st[s].row0;
                    len = rb * (uint64_t)(st[s].row1 - st[s].row0);
                }
                uint8_t *want = malloc(t->nbytes);
                if (!want || rl_ckpt_read(ck, t, want) || memcmp(want + from, buf + st[s].off[r], len)) bad++;
                free(want);
            }
            rl_loader_release(L, s);
        }
    CHECK(bad == 0, "%s: %d tensors differ or are misaligned", what, bad);
    if (o.drop_page_cache && !getenv("RL_NO_DIRECT") && direct_ok(rl_ckpt_path(ck, 0)))
        CHECK(rl_loader_direct_bytes(L) > 0, "%s: nothing read with O_DIRECT", what);
    else CHECK(rl_loader_direct_bytes(L) == 0, "%s: O_DIRECT used", what);
    int nres = 0;
    rl_loader_resident_bytes(L, &nres);
    CHECK(o.budget ? nres > 0 && nres < n : nres == 0, "%s: %d resident", what, nres);
    rl_loader_free(L);
}

static void test_read_paths(void) {
    char dir[] = "/tmp/rl_loader_XXXXXX", cfg[300], model[300];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(cfg, sizeof cfg, "%s/in.json", dir);
    snprintf(model, sizeof model, "%s/m", dir);
    CHECK(rl_write_file_atomic(cfg, CFG, strlen(CFG)) == 0, "write config");
    rl_synth_opts so = {RL_DT_BF16, 700000, 3}; /* ~0.7 MB shards: tensors straddle files */
    CHECK(rl_synth_write(cfg, model, &so) == 0, "synth: %s", rl_errmsg());
    rl_model_desc *d = calloc(1, sizeof *d);
    rl_checkpoint *ck = NULL;
    rl_stage *st = NULL;
    int n = 0;
    CHECK(d && rl_config_load(model, d) == 0, "config: %s", rl_errmsg());
    CHECK((ck = rl_ckpt_open(model)) != NULL, "open: %s", rl_errmsg());
    CHECK(ck && rl_ckpt_n_files(ck) > 1, "want several shards");
    if (ck && rl_stages_build(d, ck, 0, &st, &n) == 0) {
        int dio = 0;
        for (int s = 0; s < n; s++)
            for (int i = 0; i < st[s].n_ranges; i++) {
                const rl_read_range *g = &st[s].ranges[i];
                if (g->dio) { dio++; CHECK(g->buf_off % RL_DIO_ALIGN == g->off % RL_DIO_ALIGN, "stage %d range %d", s, i); }
            }
        CHECK(dio > 0, "no range laid out for O_DIRECT");
        size_t total = 0;
        for (int s = 0; s < n; s++) total += st[s].bytes;
        check_loader(ck, st, n, (rl_loader_opts){0, 0, NULL}, "buffered");
        check_loader(ck, st, n, (rl_loader_opts){0, 1, NULL}, "capped (O_DIRECT)");
        check_loader(ck, st, n, (rl_loader_opts){total / 2, 1, NULL}, "capped, half resident");
        check_loader(ck, st, n, (rl_loader_opts){total / 2, 0, NULL}, "half resident");
        setenv("RL_NO_DIRECT", "1", 1); /* the fallback: buffered reads, pages dropped */
        check_loader(ck, st, n, (rl_loader_opts){total / 3, 1, NULL}, "capped, no O_DIRECT");
        unsetenv("RL_NO_DIRECT");
    } else CHECK(0, "stages: %s", rl_errmsg());
    free(st);
    rl_ckpt_close(ck);
    free(d);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_read_paths);
    TEST_END();
}
