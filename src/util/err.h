/* Error reporting for library code: functions return a status and leave a message here
 * (thread-local), naming the file and the problem. Library code never exits or aborts.
 * Each message also carries a class (what kind of failure it was), which the CLI turns into
 * its exit status (src/cli/exitcode.h). */
#ifndef RL_ERR_H
#define RL_ERR_H
#include <stdarg.h>

/* The kind of the last failure. The values are the CLI's exit statuses. */
typedef enum {
    RL_EC_INPUT = 2,   /* bad input: a malformed, inconsistent or unsupported file, request or value */
    RL_EC_IO = 3,      /* the system refused: a missing, unreadable or unwritable file, a full disk */
    RL_EC_NOMEM = 4,   /* out of memory, or the memory plan does not fit the budget */
    RL_EC_NET = 5,     /* network or hub: no connection, an HTTP error, a model not in the offline cache */
    RL_EC_DEVICE = 6,  /* a backend not built in, or no usable device */
} rl_errclass;

/* Sets the thread's last error message (printf-style). Always returns -1 for `return rl_err(...)`.
 * The class is inferred: when the message quotes strerror(errno) (errno as it was on entry), the
 * OS error decides (ENOMEM: RL_EC_NOMEM, a network errno: RL_EC_NET, else RL_EC_IO); a message
 * that is or ends in "out of memory" is RL_EC_NOMEM; anything else RL_EC_INPUT. */
int rl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same with the class given. Returns -1. */
int rl_err_c(rl_errclass c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context ("file: ") to the current message; the class is kept. Returns -1. */
int rl_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The thread's last error message ("" if none). Owned by the library. */
const char *rl_errmsg(void);
/* The class of the thread's last error (RL_EC_INPUT if none was set). */
rl_errclass rl_errclass_get(void);
/* Overrides the class of the current message (a caller that knows better, e.g. a message copied
 * from another thread). */
void rl_errclass_set(rl_errclass c);

#endif
