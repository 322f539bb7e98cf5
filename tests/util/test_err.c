/* Tests for util/err (message, prefix, class) and util/fileio. */
#include "test.h"
#include "util/err.h"
#include "util/fileio.h"
#include <errno.h>

static void test_err_message(void) {
    CHECK(rl_err("%s: bad %d", "f.json", 3) == -1, "returns -1");
    CHECK(!strcmp(rl_errmsg(), "f.json: bad 3"), "got %s", rl_errmsg());
    rl_err_prefix("ctx: ");
    CHECK(!strcmp(rl_errmsg(), "ctx: f.json: bad 3"), "got %s", rl_errmsg());
}

/* the class: inferred from a quoted strerror(errno) or "out of memory", else bad input; given
 * with rl_err_c; kept by rl_err_prefix */
static void test_err_class(void) {
    errno = ENOENT;
    rl_err("x.json: %s", strerror(errno));
    CHECK(rl_errclass_get() == RL_EC_IO, "ENOENT quoted: %d", rl_errclass_get());
    rl_err_prefix("model: ");
    CHECK(rl_errclass_get() == RL_EC_IO, "prefix keeps the class: %d", rl_errclass_get());
    errno = ENOENT;   /* a stale errno the message does not quote: not an I/O error */
    rl_err("x.json: bad token");
    CHECK(rl_errclass_get() == RL_EC_INPUT, "stale errno: %d", rl_errclass_get());
    errno = ENOMEM;
    rl_err("buffer: %s", strerror(errno));
    CHECK(rl_errclass_get() == RL_EC_NOMEM, "ENOMEM: %d", rl_errclass_get());
    errno = ECONNREFUSED;
    rl_err("hub: %s", strerror(errno));
    CHECK(rl_errclass_get() == RL_EC_NET, "ECONNREFUSED: %d", rl_errclass_get());
    errno = 0;
    rl_err("out of memory");
    CHECK(rl_errclass_get() == RL_EC_NOMEM, "out of memory: %d", rl_errclass_get());
    rl_err("tensor w: out of memory");
    CHECK(rl_errclass_get() == RL_EC_NOMEM, "...: out of memory: %d", rl_errclass_get());
    rl_err("'out of memory' is not a tensor name");
    CHECK(rl_errclass_get() == RL_EC_INPUT, "mention: %d", rl_errclass_get());
    CHECK(rl_err_c(RL_EC_DEVICE, "no %s", "device") == -1 && rl_errclass_get() == RL_EC_DEVICE, "given class");
    CHECK(!strcmp(rl_errmsg(), "no device"), "got %s", rl_errmsg());
    rl_errclass_set(RL_EC_NET);
    CHECK(rl_errclass_get() == RL_EC_NET && !strcmp(rl_errmsg(), "no device"), "set keeps the message");
    errno = EACCES;
    rl_err("x: %s", strerror(errno));
    CHECK(errno == EACCES, "rl_err leaves errno as it was");
}

static void test_read_missing(void) {
    CHECK(rl_read_file("/nonexistent/x.json", NULL) == NULL, "NULL");
    CHECK(strstr(rl_errmsg(), "/nonexistent/x.json") != NULL, "names file: %s", rl_errmsg());
    CHECK(rl_errclass_get() == RL_EC_IO, "a missing file is I/O: %d", rl_errclass_get());
}

int main(void) {
    RUN(test_err_message);
    RUN(test_err_class);
    RUN(test_read_missing);
    TEST_END();
}
