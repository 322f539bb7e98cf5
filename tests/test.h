/* Minimal test harness: each test file is one binary; TEST functions run via RUN(), or via
 * RUN_SHARED() when they read ../shared (the fixtures and goldens beside the repo): those are
 * counted as skipped when that directory is absent (a fresh clone), and run (a missing file in
 * it fails) when it is present. The binary prints "RESULT <passed> <failed> <skipped>", which
 * tests/run.sh sums up. */
#ifndef RL_TEST_H
#define RL_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int t_case_failed, t_passed, t_failed, t_skipped;

#define CHECK(cond, ...) do { if (!(cond)) { t_case_failed = 1; \
    fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define RUN(fn) do { t_case_failed = 0; fn(); if (t_case_failed) { t_failed++; \
    fprintf(stderr, "not ok %s\n", #fn); } else { t_passed++; fprintf(stderr, "ok %s\n", #fn); } } while (0)

#define TEST_END() do { printf("RESULT %d %d %d\n", t_passed, t_failed, t_skipped); return t_failed ? 1 : 0; } while (0)

/* Path of the shared fixtures (tests may read ../shared; the product never does). */
static inline const char *t_shared(void) {
    const char *s = getenv("RL_SHARED");
    return s ? s : "../shared";
}

/* 1 if the shared directory exists (its contents are then required, never skipped). */
static inline int t_have_shared(void) {
    struct stat st;
    return stat(t_shared(), &st) == 0 && S_ISDIR(st.st_mode);
}

#define RUN_SHARED(fn) do { if (t_have_shared()) RUN(fn); else { t_skipped++; \
    fprintf(stderr, "skip %s (no %s)\n", #fn, t_shared()); } } while (0)
#endif
