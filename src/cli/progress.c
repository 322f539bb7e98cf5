/* Progress line on a terminal (see progress.h). */
#include "cli/progress.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static rl_progress *drawn;   /* the line on the terminal now, if any (the CLI's main thread) */

void rl_progress_begin(rl_progress *p, const char *label, uint64_t base) {
    p->tty = isatty(STDERR_FILENO);
    p->t0 = now();
    p->last = 0;
    p->base = base;
    snprintf(p->label, sizeof p->label, "%s", label);
}

void rl_progress_format(char *buf, size_t cap, const char *label, uint64_t done, uint64_t total, double rate) {
    int n = snprintf(buf, cap, "%s: %.1f", label, (double)done / 1e6);
    if (n < 0 || (size_t)n >= cap) return;
    if (total) n += snprintf(buf + n, cap - (size_t)n, " / %.1f MB (%d%%)", (double)total / 1e6, (int)(100.0 * (double)done / (double)total));
    else n += snprintf(buf + n, cap - (size_t)n, " MB");
    if ((size_t)n >= cap || rate <= 0) return;
    n += snprintf(buf + n, cap - (size_t)n, "  %.1f MB/s", rate / 1e6);
    if ((size_t)n >= cap || !total || done >= total) return;
    double eta = (double)(total - done) / rate;
    if (eta < 360000) snprintf(buf + n, cap - (size_t)n, "  ETA %d:%02d", (int)eta / 60, (int)eta % 60);
}

void rl_progress_update(rl_progress *p, uint64_t done, uint64_t total) {
    if (!p->tty) return;
    double t = now();
    if (t - p->last < 0.2) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0.1 && done > p->base ? (double)(done - p->base) / el : 0;
    char line[400];
    rl_progress_format(line, sizeof line, p->label, done, total, rate);
    fprintf(stderr, "\r\033[K%s", line);   /* \033[K: clear the rest, no residue of a longer line */
    fflush(stderr);
    drawn = p;
}

void rl_progress_end(rl_progress *p) {
    if (p->tty && p->last > 0) { fprintf(stderr, "\r\033[K"); fflush(stderr); }
    p->last = 0;
    if (drawn == p) drawn = NULL;
}

void rl_progress_clear(void) {
    if (drawn) rl_progress_end(drawn);
}

void rl_progress_load_cb(void *ud, uint64_t done, uint64_t total) {
    rl_progress *p = ud;
    if (done == 0) rl_progress_begin(p, "loading", 0);
    rl_progress_update(p, done, total);
    if (done >= total) rl_progress_end(p);
}

void rl_progress_cb(void *ud, uint64_t done, uint64_t total) { rl_progress_update(ud, done, total); }
