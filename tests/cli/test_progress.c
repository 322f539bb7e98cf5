/* The progress line's text (src/cli/progress.c, compiled in here: CLI code is not in the
 * library): bytes of the total with the percentage, the rate once known, the ETA only while
 * work remains, a short buffer cut cleanly; and nothing is drawn when stderr is not a TTY. */
#include "test.h"
#include "cli/progress.c"

static void test_format(void) {
    char b[200];
    rl_progress_format(b, sizeof b, "writing", 1000000, 2000000, 0);
    CHECK(!strcmp(b, "writing: 1.0 / 2.0 MB (50%)"), "no rate yet: '%s'", b);
    rl_progress_format(b, sizeof b, "writing", 1000000, 2000000, 500000);
    CHECK(!strcmp(b, "writing: 1.0 / 2.0 MB (50%)  0.5 MB/s  ETA 0:02"), "rate and ETA: '%s'", b);
    rl_progress_format(b, sizeof b, "loading", 3000000000ull, 3000000000ull, 1e9);
    CHECK(!strcmp(b, "loading: 3000.0 / 3000.0 MB (100%)  1000.0 MB/s"), "done: no ETA: '%s'", b);
    rl_progress_format(b, sizeof b, "x", 0, 3600000000ull, 1e6);
    CHECK(strstr(b, "ETA 60:00") != NULL, "an hour: '%s'", b);
    rl_progress_format(b, sizeof b, "  f.bin", 2500000, 0, 1e6);
    CHECK(!strcmp(b, "  f.bin: 2.5 MB  1.0 MB/s"), "unknown total: '%s'", b);
    char s[12];
    rl_progress_format(s, sizeof s, "a-long-label", 1, 2, 1);
    CHECK(strlen(s) < sizeof s, "cut to the buffer: '%s'", s);
}

static void test_not_a_tty(void) {
    /* the test runner's stderr is a file or a pipe: begin / update / end draw nothing */
    if (isatty(STDERR_FILENO)) return;
    rl_progress p;
    rl_progress_begin(&p, "x", 0);
    CHECK(p.tty == 0, "tty flag");
    rl_progress_update(&p, 1, 2);
    CHECK(p.last == 0 && drawn == NULL, "nothing drawn");
    rl_progress_end(&p);
    rl_progress_clear();
}

int main(void) {
    RUN(test_format);
    RUN(test_not_a_tty);
    TEST_END();
}
