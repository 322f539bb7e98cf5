/* `rabbitllm bench MODEL_DIR [-n 8]`: streaming decode speed against the limits measured on the
 * same files in the same run: (a) cold decode vs a cold sequential read of the same bytes (disk),
 * (b) warm decode vs reading the same bytes from the page cache (memory), (c) prefill tokens/s,
 * (d) a cold first sweep with half the weights resident (read at open) vs a streaming one.
 * `--resident` measures compute speed with every weight in RAM instead (bench_resident.c);
 * `--draft-model` speculative decoding against plain decoding (bench_draft.c). */
#include "cli/profile.h"
#include "cli/timeline.h"
#include "cli/commands.h"
#include "cli/bench_budget.h"
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "cli/bench_resident.h"
#include "cli/bench_draft.h"
#include "engine/model.h"
#include "engine/moe.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Drops every checkpoint file from the page cache. */
static void evict(rl_model *m) {
    rl_loader_pause(m->ld);
    for (int i = 0; i < rl_ckpt_n_files(m->ck); i++) {
        int fd = rl_ckpt_fd(m->ck, i);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    }
}

/* Reads every stage's byte ranges in order into one buffer, as a plain sequential reader would
 * (readahead: also ask the kernel to read each range ahead first, the fastest reader we know).
 * Returns seconds, or -1 on a read error. */
static double read_all(rl_model *m, uint8_t *buf, uint64_t *bytes, int readahead) {
    double t0 = rl_now_s();
    *bytes = 0;
    for (int s = 0; s < m->n_stages; s++)
        for (int r = 0; r < m->stages[s].n_ranges; r++) {
            const rl_read_range *g = &m->stages[s].ranges[r];
            if (readahead) posix_fadvise(rl_ckpt_fd(m->ck, g->file), (off_t)g->off, (off_t)g->len, POSIX_FADV_WILLNEED);
            if (rl_pread_full(rl_ckpt_fd(m->ck, g->file), buf + g->buf_off, g->len, g->off, rl_ckpt_path(m->ck, g->file))) return -1;
            *bytes += g->len;
        }
    return rl_now_s() - t0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Routed expert bytes read since the last rl_moe_reset_stats (0 without MoE). */
static uint64_t expert_bytes(const rl_model *m) {
    uint64_t b = 0;
    for (int l = 0; m->moe && l < m->d.n_layers; l++) b += rl_moe_layer_bytes(m, l);
    return b;
}

int cmd_bench(int argc, char **argv) {
    rl_cli_opts o;
    int resident = 0, k = 0;
    const char *pp = "128,2048", *timeline = NULL;
    for (int i = 0; i < argc; i++) /* --resident, --pp LIST: bench's own flags, out before parsing */
        if (i > 0 && !strcmp(argv[i], "--resident")) resident = 1;
        else if (i > 0 && i + 1 < argc && !strcmp(argv[i], "--pp")) pp = argv[++i];
        else if (i > 0 && i + 1 < argc && !strcmp(argv[i], "--timeline")) timeline = argv[++i];
        else argv[k++] = argv[i];
    argc = k;
    int prc = rl_cli_parse(argc, argv, &o);
    if (prc) return prc;
    if (o.draft_model) return rl_bench_draft(&o); /* --draft-model: speculative vs plain decoding */
    int n = argc > 0 && o.n_new != 64 ? o.n_new : 8;
    if (n < 1) n = 1;
    if (resident) return rl_bench_resident(&o, n, pp);
    o.model.ctx = o.model.ctx ? o.model.ctx : 512;
    o.model.mem_budget = 0; /* measure streaming: nothing resident */
    rl_model *m = rl_model_open(o.model_dir, &o.model);
    if (!m) return rl_cli_fail(NULL);
    int V = rl_model_vocab(m);
    float *lg = malloc((size_t)V * sizeof(float));
    uint8_t *buf = malloc(rl_loader_slot_bytes(m->ld));
    int32_t *prompt = malloc(128 * sizeof(int32_t));
    int rc = RL_EXIT_NOMEM;
    if (!lg || !buf || !prompt) { fprintf(stderr, "error: out of memory\n"); goto done; }
    rc = RL_EXIT_IO;   /* the failures below that do not go through err: are reads and writes */
    for (int i = 0; i < 128; i++) prompt[i] = (int32_t)((i * 7919 + 13) % V);
    uint64_t bytes = 0;
    printf("model %s: %d layers, %d stages, slot %.1f MB, backend %s\n", o.model_dir, m->d.n_layers, m->n_stages,
           rl_loader_slot_bytes(m->ld) / 1e6, m->be->ops->describe(m->be));

    /* (a) cold: for each token, a sequential read of the same bytes with the page cache dropped
     * (plain, and with readahead: the disk limit is the faster of the two), then one decode
     * sweep with the cache dropped again; interleaved so all see the same disk, compared by
     * their medians. */
    rl_model_rewind(m, 0);
    if (rl_model_eval(m, prompt, 4, lg, 0)) goto err;
    if (timeline) { /* --timeline: one decode sweep drawn (timeline.c) */
        rl_profile_reset(m);
        if (rl_model_eval(m, &prompt[4], 1, lg, 0)) goto err;
        if (rl_timeline_svg(m, timeline)) goto done;
        printf("timeline of one sweep written to %s\n", timeline);
        rl_model_rewind(m, 0);
        if (rl_model_eval(m, prompt, 4, lg, 0)) goto err;
    }
    double tdisk[64], tra[64], tcold[64], xcold[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        evict(m);
        tdisk[i] = read_all(m, buf, &bytes, 0);
        evict(m);
        tra[i] = read_all(m, buf, &bytes, 1);
        if (tdisk[i] < 0 || tra[i] < 0) { fprintf(stderr, "error: read failed\n"); goto done; }
        evict(m);
        if (m->moe) rl_moe_reset_stats(m);
        double t0 = rl_now_s();
        if (rl_model_eval(m, &prompt[4 + i], 1, lg, 0)) goto err;
        tcold[i] = rl_now_s() - t0;
        xcold[i] = (double)expert_bytes(m);
    }
    double plain = median(tdisk, n), ra = median(tra, n), cold = median(tcold, n), disk = plain < ra ? plain : ra;
    printf("(a) cold decode   %8.3f s/token   disk limit (cold sequential read of the same %.1f MB) %8.3f s   ratio %.2f  (%.2f GB/s vs %.2f GB/s; plain read %.3f s, with readahead %.3f s; medians of %d)\n",
           cold, bytes / 1e6, disk, cold / disk, bytes / cold / 1e9, bytes / disk / 1e9, plain, ra, n);
    if (m->moe) { /* the routed experts each sweep read on top of the stages, at the same disk rate */
        double xb = median(xcold, n), lim = disk * (bytes + xb) / bytes;
        printf("(a') with the routed experts it read (%.1f MB per token, %.1f MB in all): limit %.3f s   ratio %.2f  (%.2f GB/s vs %.2f GB/s)\n",
               xb / 1e6, (bytes + xb) / 1e6, lim, cold / lim, (bytes + xb) / cold / 1e9, bytes / disk / 1e9);
    }

    /* (b) warm: everything in the page cache; reads of the same bytes into a buffer (the memory
     * limit) interleaved with decode sweeps, compared by their medians */
    if (read_all(m, buf, &bytes, 0) < 0) { fprintf(stderr, "error: read failed\n"); goto done; }
    rl_model_rewind(m, 0);
    if (rl_model_eval(m, prompt, 4, lg, 0)) goto err;
    double tmem[64], twarm[64];
    for (int i = 0; i < n; i++) {
        tmem[i] = read_all(m, buf, &bytes, 0);
        double t0 = rl_now_s();
        if (rl_model_eval(m, &prompt[4 + i], 1, lg, 0)) goto err;
        twarm[i] = rl_now_s() - t0;
    }
    double mem = median(tmem, n), warm = median(twarm, n);
    printf("(b) warm decode   %8.3f s/token   memory limit (page cache -> buffer, same bytes) %8.3f s   ratio %.2f\n",
           warm, mem, warm / mem);

    /* (c) prefill of a 128-token prompt (warm) */
    rl_model_rewind(m, 0);
    int P = 128 < m->ctx ? 128 : m->ctx;
    double t0 = rl_now_s();
    if (rl_model_eval(m, prompt, P, lg, 0)) goto err;
    double pf = rl_now_s() - t0;
    printf("(c) prefill       %8.1f tokens/s (%d tokens in %.3f s; %.1f x the warm per-token sweep rate)\n",
           P / pf, P, pf, (P / pf) * warm);
    if (rl_bench_first_sweep(m, &o.model, n < 5 ? n : 5, stdout)) goto err; /* (d) bench_budget.c */
    rc = 0;
    goto done;
err:
    rc = rl_cli_fail(NULL);
done:
    free(lg); free(buf); free(prompt);
    rl_model_close(m);
    return rc;
}
