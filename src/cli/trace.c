/* The --trace writer (see trace.h). */
#include "cli/trace.h"
#include "cli/exitcode.h"
#include <errno.h>
#include <math.h>
#include <string.h>

static void on_trace(void *u, int layer, const char *name, const float *x, int rows, int cols) {
    FILE *f = u;
    static int sweep = 0;
    if (!strcmp(name, "embed")) sweep++;
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

FILE *rl_cli_trace_open(rl_model *m, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) { rl_err("%s: cannot create the trace file: %s", path, strerror(errno)); rl_cli_fail(NULL); return NULL; }
    if (rl_model_set_trace(m, on_trace, f)) { rl_cli_fail(NULL); fclose(f); return NULL; }
    return f;
}

int rl_cli_trace_close(rl_model *m, FILE *f) {
    if (!f) return 0;
    rl_model_set_trace(m, NULL, NULL);
    return fclose(f) ? -1 : 0;
}
