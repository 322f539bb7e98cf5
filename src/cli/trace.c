/* The --trace writer (see trace.h). */
#include "cli/trace.h"
#include "cli/exitcode.h"
#include "dist/dist.h"
#include "engine/model.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One line of the trace (rl_dist_trace_line_fn: the pipeline's other ranks write theirs too). */
static void trace_line(FILE *f, int sweep, int layer, const char *name, const float *x, int rows, int cols) {
    double s = 0, sa = 0, mx = 0;
    size_t n = (size_t)rows * cols;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        sa += fabs(x[i]);
        if (fabs(x[i]) > mx) mx = fabs(x[i]);
    }
    fprintf(f, "%d %d %s %d %d %.9g %.9g %.9g", sweep, layer, name, rows, cols, s, sa, mx);
    for (size_t i = 0; i < 4 && i < n; i++) fprintf(f, " %.9g", x[i]);
    fputc('\n', f);
}

static void on_trace(void *u, int layer, const char *name, const float *x, int rows, int cols) {
    static int sweep = 0;
    if (!strcmp(name, "embed")) sweep++;
    trace_line(u, sweep, layer, name, x, rows, cols);
}

void rl_cli_trace_install_hook(void) { rl_dist_set_trace_hook(trace_line); }

/* Through an MPI pipeline rank 0's lines are kept in memory (mem) until the other ranks' come
 * back at the close, then all of them are written sweep by sweep in layer (rank) order. */
static FILE *mem;
static char *mem_txt;
static size_t mem_n;

FILE *rl_cli_trace_open(rl_model *m, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) { rl_err("%s: cannot create the trace file: %s", path, strerror(errno)); rl_cli_fail(NULL); return NULL; }
    int dist = m->dist != NULL; /* a pipeline over MPI ranks */
    if (dist && !(mem = open_memstream(&mem_txt, &mem_n))) { rl_err("out of memory"); rl_cli_fail(NULL); fclose(f); return NULL; }
    if (rl_model_set_trace(m, on_trace, dist ? mem : f) || rl_dist_trace(m, 1, NULL)) {
        rl_cli_fail(NULL);
        fclose(f);
        if (mem) { fclose(mem); free(mem_txt); mem = NULL; mem_txt = NULL; }
        return NULL;
    }
    return f;
}

typedef struct { const char *s; size_t n; long sweep; size_t idx; } tline;
static int by_sweep(const void *a, const void *b) {
    const tline *x = a, *y = b;
    return x->sweep != y->sweep ? (x->sweep < y->sweep ? -1 : 1) : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* txt's lines (rank 0's, then the other ranks' in rank order) to f, stably sorted by sweep. */
static int write_merged(FILE *f, const char *txt, size_t n) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) cnt += txt[i] == '\n';
    tline *l = malloc((cnt + 1) * sizeof *l);
    if (!l) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n && k < cnt;) {
        size_t j = i;
        while (j < n && txt[j] != '\n') j++;
        l[k] = (tline){txt + i, j + 1 - i, strtol(txt + i, NULL, 10), k};
        k++;
        i = j + 1;
    }
    qsort(l, k, sizeof *l, by_sweep);
    for (size_t i = 0; i < k; i++) fwrite(l[i].s, 1, l[i].n, f);
    free(l);
    return 0;
}

int rl_cli_trace_close(rl_model *m, FILE *f) {
    if (!f) return 0;
    rl_model_set_trace(m, NULL, NULL);
    int rc = 0;
    if (mem) { /* the other ranks' lines after rank 0's, then all of them sorted by sweep */
        rc = rl_dist_trace(m, 0, mem);
        rc |= fclose(mem) ? -1 : 0;
        rc |= write_merged(f, mem_txt, mem_n);
        free(mem_txt);
        mem = NULL;
        mem_txt = NULL;
        mem_n = 0;
    }
    return fclose(f) || rc ? -1 : 0;
}
