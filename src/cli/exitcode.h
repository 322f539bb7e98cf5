/* The CLI's exit statuses (documented in the man page and README): 0 ok, 1 usage, and for a
 * failure of the work itself the class of the library's error (util/err.h): 2 bad input,
 * 3 I/O, 4 out of memory or budget, 5 network/hub, 6 backend or device unavailable. */
#ifndef RL_CLI_EXITCODE_H
#define RL_CLI_EXITCODE_H
#include "util/err.h"

enum {
    RL_EXIT_OK = 0,
    RL_EXIT_USAGE = 1,             /* unknown command or flag, missing argument, value out of range */
    RL_EXIT_INPUT = RL_EC_INPUT,   /* 2 */
    RL_EXIT_IO = RL_EC_IO,         /* 3 */
    RL_EXIT_NOMEM = RL_EC_NOMEM,   /* 4 */
    RL_EXIT_NET = RL_EC_NET,       /* 5 */
    RL_EXIT_DEVICE = RL_EC_DEVICE, /* 6 */
};

/* The exit status for the thread's last library error (its class). */
int rl_cli_exit_code(void);
/* Prints "error: [WHAT: ]MESSAGE" (the last library error) to stderr; returns rl_cli_exit_code(). */
int rl_cli_fail(const char *what);

#endif
