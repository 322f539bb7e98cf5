/* A progress line on stderr for long work: "label: done / total MB  rate MB/s  ETA m:ss",
 * redrawn in place at most 5 times a second and erased at the end, so what follows starts on a
 * clean line. Only on a terminal: when stderr is not a TTY it prints nothing. */
#ifndef RL_CLI_PROGRESS_H
#define RL_CLI_PROGRESS_H
#include <stddef.h>
#include <stdint.h>

typedef struct { int tty; double t0, last; uint64_t base; char label[160]; } rl_progress;

/* Starts a line for label; base: bytes already there (a resumed download: not in the rate). */
void rl_progress_begin(rl_progress *p, const char *label, uint64_t base);
void rl_progress_update(rl_progress *p, uint64_t done, uint64_t total);
/* Erases the line (nothing when not a TTY). */
void rl_progress_end(rl_progress *p);
/* Formats the line into buf (used by update; exposed for tests). */
void rl_progress_format(char *buf, size_t cap, const char *label, uint64_t done, uint64_t total, double rate);
/* A rl_qcache_progress_fn-shaped callback: ud is an rl_progress. */
void rl_progress_cb(void *ud, uint64_t done, uint64_t total);
/* Same, for work that reports done = 0 first and done = total last (the loader's resident read):
 * begins the line (label "loading") at 0 and erases it at total. */
void rl_progress_load_cb(void *ud, uint64_t done, uint64_t total);
/* Erases whatever line is drawn now (before an error message; nothing if none). */
void rl_progress_clear(void);
#endif
