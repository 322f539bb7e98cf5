/* Tests for util/err and util/fileio. */
#include "test.h"
#include "util/err.h"
#include "util/fileio.h"

static void test_err_message(void) {
    CHECK(rl_err("%s: bad %d", "f.json", 3) == -1, "returns -1");
    CHECK(!strcmp(rl_errmsg(), "f.json: bad 3"), "got %s", rl_errmsg());
    rl_err_prefix("ctx: ");
    CHECK(!strcmp(rl_errmsg(), "ctx: f.json: bad 3"), "got %s", rl_errmsg());
}

static void test_read_missing(void) {
    CHECK(rl_read_file("/nonexistent/x.json", NULL) == NULL, "NULL");
    CHECK(strstr(rl_errmsg(), "/nonexistent/x.json") != NULL, "names file: %s", rl_errmsg());
}

int main(void) {
    RUN(test_err_message);
    RUN(test_read_missing);
    TEST_END();
}
