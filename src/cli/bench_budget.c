/* First sweep with a budget vs a streaming first sweep, cold (see bench_budget.h). */
#include "cli/bench_budget.h"
#include "util/err.h"
#include "util/timer.h"
#include <fcntl.h>
#include <stdlib.h>

/* Drops every file of the checkpoint from the page cache (page cache is per file, so m's
 * descriptors reach the pages a new model reads too). */
static void drop_files(const rl_model *m) {
    for (int i = 0; i < rl_ckpt_n_files(m->ck); i++) posix_fadvise(rl_ckpt_fd(m->ck, i), 0, 0, POSIX_FADV_DONTNEED);
}

/* Opens the model with budget b, evaluates one token; seconds from before the open to the
 * logits (the open reads the resident stages). -1 on error. */
static double first_sweep(const rl_model *m, rl_model_opts o, size_t b, double *frac) {
    o.mem_budget = b;
    drop_files(m);
    double t0 = rl_now_s();
    rl_model *x = rl_model_open(m->dir, &o);
    if (!x) return -1;
    float *lg = malloc((size_t)rl_model_vocab(x) * sizeof(float));
    int32_t tok = 1;
    int rc = lg ? rl_model_eval(x, &tok, 1, lg, 0) : rl_err("out of memory");
    double t = rl_now_s() - t0;
    uint64_t w = 0;
    for (int s = 0; s < x->n_stages; s++) w += x->stages[s].bytes;
    *frac = w ? (double)rl_loader_resident_bytes(x->ld, NULL) / (double)w : 0;
    free(lg);
    rl_model_close(x);
    return rc ? -1 : t;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rl_bench_first_sweep(const rl_model *m, const rl_model_opts *opts, int rounds, FILE *f) {
    uint64_t w = 0;
    for (int s = 0; s < m->n_stages; s++) w += m->stages[s].bytes;
    double ts[16], tb[16], frac = 0, f0;
    if (rounds > 16) rounds = 16;
    if (rounds < 1) rounds = 1;
    for (int i = 0; i < rounds; i++) {
        ts[i] = first_sweep(m, *opts, 0, &f0);
        tb[i] = first_sweep(m, *opts, (size_t)(w / 2), &frac);
        if (ts[i] < 0 || tb[i] < 0) return -1;
    }
    qsort(ts, (size_t)rounds, sizeof *ts, cmp);
    qsort(tb, (size_t)rounds, sizeof *tb, cmp);
    double s = ts[rounds / 2], b = tb[rounds / 2];
    fprintf(f, "(d) first sweep   %8.3f s with %.0f%% resident (read at open) vs %8.3f s streaming, both cold   ratio %.2f  (medians of %d)\n",
            b, frac * 100, s, b / s, rounds);
    return 0;
}
