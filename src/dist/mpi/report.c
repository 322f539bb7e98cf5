/* --profile and --trace through the pipeline (MPI build): the command layer's hooks (how a rank
 * prints its part of the profile, how a traced intermediate becomes a line), rank 0's requests
 * and the workers' answers: each rank writes its part into memory and sends it to rank 0, which
 * writes the parts in rank order (trace lines are merged by sweep in src/cli/trace.c). */
#include "dist/mpi/proto.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>

static void answer_text(const char *txt, size_t n);
static int collect_text(struct rl_dist_model *dm, FILE *f, const char *what);

static rl_dist_profile_print_fn g_prof_print;
static rl_dist_profile_reset_fn g_prof_reset;

void rl_dist_set_profile_hooks(rl_dist_profile_print_fn print, rl_dist_profile_reset_fn reset) {
    g_prof_print = print;
    g_prof_reset = reset;
}

int rl_dist_profile(rl_model *m, int reset, FILE *f) {
    struct rl_dist_model *dm = m->dist;
    if (!dm || dm->rank != 0) return 0;
    dist_cmd h = {.kind = CMD_PROFILE, .id = dm->id, .a = reset};
    if (dist_send_cmd(dm, &h, NULL, 0)) return -1;
    return collect_text(dm, f, "profile");
}

void dist_worker_profile(rl_model *m, int reset, int rank) {
    char *txt = NULL;
    size_t n = 0;
    if (reset) {
        if (m && g_prof_reset) g_prof_reset(m);
    } else {
        FILE *f = open_memstream(&txt, &n);
        if (f) {
            if (!m) fprintf(f, "pipeline rank %d: no model (its open failed)\n", rank);
            else if (g_prof_print) {
                fprintf(f, "pipeline rank %d (layers %d..%d):\n", rank, m->l0, m->l1 - 1);
                g_prof_print(m, f);
            }
            fclose(f);
        }
    }
    answer_text(txt, n); /* an answer in every case */
    free(txt);
}

static rl_dist_trace_line_fn g_trace_line;
void rl_dist_set_trace_hook(rl_dist_trace_line_fn line) { g_trace_line = line; }

/* Sends (to rank 0, tag TAG_PROFILED) len bytes of text, or an empty answer. */
static void answer_text(const char *txt, size_t n) { MPI_Send(txt ? txt : "", txt ? (int)n : 0, MPI_BYTE, 0, TAG_PROFILED, MPI_COMM_WORLD); }

/* Rank 0: one text answer from each other rank, written to f in rank order. */
static int collect_text(struct rl_dist_model *dm, FILE *f, const char *what) {
    int rc = 0;
    for (int r = 1; r < dm->size; r++) {
        MPI_Status st;
        int cnt = 0;
        if (MPI_Probe(r, TAG_PROFILED, MPI_COMM_WORLD, &st) != MPI_SUCCESS) return rl_err("pipeline: no %s from rank %d", what, r);
        MPI_Get_count(&st, MPI_BYTE, &cnt);
        char *txt = malloc((size_t)cnt + 1);
        if (!txt) return rl_err("out of memory");
        rc |= MPI_Recv(txt, cnt, MPI_BYTE, r, TAG_PROFILED, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS;
        if (f && cnt) fwrite(txt, 1, (size_t)cnt, f);
        free(txt);
    }
    return rc ? rl_err("pipeline: receiving the ranks' %s failed", what) : 0;
}

static void worker_on_trace(void *u, int layer, const char *name, const float *x, int rows, int cols) {
    rl_model *m = u;
    if (m->dist->trace && g_trace_line) g_trace_line(m->dist->trace, (int)m->dist->sweeps, layer, name, x, rows, cols);
}

int rl_dist_trace(rl_model *m, int on, FILE *f) {
    struct rl_dist_model *dm = m->dist;
    if (!dm || dm->rank != 0) return 0;
    dist_cmd h = {.kind = CMD_TRACE, .id = dm->id, .a = on};
    if (dist_send_cmd(dm, &h, NULL, 0)) return -1;
    return on ? 0 : collect_text(dm, f, "trace");
}

void dist_worker_trace(rl_model *m, int on) {
    struct rl_dist_model *dm = m ? m->dist : NULL;
    if (on) {
        if (!dm || dm->trace) return;
        dm->trace = open_memstream(&dm->trace_txt, &dm->trace_n);
        if (dm->trace && rl_model_set_trace(m, worker_on_trace, m)) { fclose(dm->trace); dm->trace = NULL; }
        return;
    }
    if (dm && dm->trace) {
        rl_model_set_trace(m, NULL, NULL);
        fclose(dm->trace);
        dm->trace = NULL;
        answer_text(dm->trace_txt, dm->trace_n);
        free(dm->trace_txt);
        dm->trace_txt = NULL;
        dm->trace_n = 0;
        return;
    }
    answer_text(NULL, 0);
}
