/* `bench MODEL_DIR --resident`: every weight loaded before timing (budget above the model size),
 * then decode tokens/s between passes of a memory read-bandwidth microbenchmark (the limit of a
 * decode sweep), prefill tokens/s at 128 and 2,048 tokens, and the derived GB/s (weight
 * bytes a sweep reads / time) and GFLOP/s (2 x weight elements x tokens / time; attention not
 * counted). Medians of the repeated runs. */
#include "cli/bench_resident.h"
#include "cli/exitcode.h"
#include "backend/cpu/membw.h"
#include "engine/model.h"
#include "util/timer.h"
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Weight bytes read and weight elements multiplied by one sweep over every stage. */
static void sweep_size(const rl_model *m, double *bytes, double *elems) {
    *bytes = *elems = 0;
    for (int s = 0; s < m->n_stages; s++) {
        const rl_stage *st = &m->stages[s];
        for (int r = 0; r < st->n_ranges; r++) *bytes += (double)st->ranges[r].len;
        for (int k = 0; k < W_COUNT; k++) {
            const rl_tensor_info *t = st->t[k];
            if (!t || t->ndim < 2) continue;
            double e = 1;
            for (int d = 1; d < t->ndim; d++) e *= (double)t->shape[d];
            e *= st->kind == RL_STAGE_HEAD ? (double)(st->row1 - st->row0) : (double)t->shape[0];
            *elems += e;
        }
    }
}

/* Seconds for a prefill of P tokens from an empty cache, median of reps. */
static int time_prefill(rl_model *m, const int32_t *prompt, int P, int reps, float *lg, double *out) {
    double t[8];
    for (int r = 0; r < reps; r++) {
        rl_model_rewind(m, 0);
        double t0 = rl_now_s();
        if (rl_model_eval(m, prompt, P, lg, 0)) return -1;
        t[r] = rl_now_s() - t0;
    }
    *out = median(t, reps);
    return 0;
}

int rl_bench_resident(rl_cli_opts *o, int n, const char *pp) {
    int PS[8], n_pp = 0, P_LONG = 128; /* the prompt also feeds the decode tokens */
    for (const char *s = pp; *s && n_pp < 8;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1 << 20) { fprintf(stderr, "error: --pp: bad list '%s'\n", pp); return RL_EXIT_USAGE; }
        PS[n_pp++] = (int)v;
        if ((int)v > P_LONG) P_LONG = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') { fprintf(stderr, "error: --pp: bad list '%s'\n", pp); return RL_EXIT_USAGE; }
    }
    if (n > 64) n = 64;
    int need = P_LONG + 8;
    if (o->model.ctx < need) o->model.ctx = need;
    o->model.mem_budget = (size_t)1 << 50; /* everything resident */
    rl_model *m = rl_model_open(o->model_dir, &o->model);
    if (!m) return rl_cli_fail(NULL);
    int V = rl_model_vocab(m), rc = RL_EXIT_NOMEM;
    rl_pool *pool = rl_pool_new(o->model.n_threads); /* the bandwidth probe's threads, as many as the backend's */
    float *lg = malloc((size_t)V * sizeof(float));
    int32_t *prompt = malloc(P_LONG * sizeof(int32_t));
    if (!lg || !prompt || !pool) { fprintf(stderr, "error: out of memory\n"); goto done; }
    for (int i = 0; i < P_LONG; i++) prompt[i] = (int32_t)((i * 7919 + 13) % V);
    double bytes, elems;
    sweep_size(m, &bytes, &elems);
    printf("model %s (resident): %d layers, %.1f MB of weights read per sweep, %.0f M weight elements, %d threads\n",
           o->model_dir, m->d.n_layers, bytes / 1e6, elems / 1e6, rl_pool_size(pool));
    fflush(stdout);

    /* load everything (first sweeps read the weights); the memory read bandwidth over a buffer
     * well above the last-level cache just before and just after the decode tokens (run back to
     * back, as a generation does: a bandwidth pass between tokens would also flush the TLB and the
     * page-table caches the decode relies on) */
    rl_model_rewind(m, 0);
    if (rl_model_eval(m, prompt, 4, lg, 0) || rl_model_eval(m, prompt + 4, 1, lg, 0)) goto err;
    double td[64], bw[2];
    bw[0] = rl_membw_read(pool, (size_t)256 << 20, 0.5);
    for (int i = 0; i < n; i++) {
        double t0 = rl_now_s();
        if (rl_model_eval(m, &prompt[5 + i], 1, lg, 0)) goto err;
        td[i] = rl_now_s() - t0;
    }
    bw[1] = rl_membw_read(pool, (size_t)256 << 20, 0.5);
    if (bw[0] <= 0 || bw[1] <= 0) { rc = rl_cli_fail(NULL); goto done; }
    double dec = median(td, n), mbw = bw[0] > bw[1] ? bw[0] : bw[1];
    printf("decode          %8.2f tokens/s  %6.1f GB/s of weights (%.2f of the memory read bandwidth %.1f GB/s)  %6.1f GFLOP/s  (median of %d)\n",
           1 / dec, bytes / dec / 1e9, bytes / dec / mbw, mbw / 1e9, 2 * elems / dec / 1e9, n);
    fflush(stdout);

    for (int k = 0; k < n_pp; k++) {
        double tp;
        int reps = PS[k] <= 512 ? 3 : 1;
        if (time_prefill(m, prompt, PS[k], reps, lg, &tp)) goto err;
        printf("prefill %4d    %8.1f tokens/s  %6.1f GFLOP/s (weights only)  (%.3f s%s)\n", PS[k], PS[k] / tp,
               2 * elems * PS[k] / tp / 1e9, tp, reps > 1 ? ", median of 3" : "");
        fflush(stdout);
    }
    rc = 0;
    goto done;
err:
    rc = rl_cli_fail(NULL);
done:
    free(lg);
    free(prompt);
    rl_pool_free(pool);
    rl_model_close(m);
    return rc;
}
