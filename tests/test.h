/* Minimal test harness: each test file is one binary; TEST functions run via RUN();
 * the binary prints "RESULT <passed> <failed>" which tests/run.sh sums up. */
#ifndef RL_TEST_H
#define RL_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_case_failed, t_passed, t_failed;

#define CHECK(cond, ...) do { if (!(cond)) { t_case_failed = 1; \
    fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

#define RUN(fn) do { t_case_failed = 0; fn(); if (t_case_failed) { t_failed++; \
    fprintf(stderr, "not ok %s\n", #fn); } else { t_passed++; fprintf(stderr, "ok %s\n", #fn); } } while (0)

#define TEST_END() do { printf("RESULT %d %d\n", t_passed, t_failed); return t_failed ? 1 : 0; } while (0)

/* Path of the shared fixtures (tests may read ../shared; the product never does). */
static inline const char *t_shared(void) {
    const char *s = getenv("RL_SHARED");
    return s ? s : "../shared";
}
#endif
