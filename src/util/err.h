/* Error reporting for library code: functions return a status and leave a message here
 * (thread-local), naming the file and the problem. Library code never exits or aborts. */
#ifndef RL_ERR_H
#define RL_ERR_H
#include <stdarg.h>

/* Sets the thread's last error message (printf-style). Always returns -1 for `return rl_err(...)`. */
int rl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends context ("file: ") to the current message. Returns -1. */
int rl_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The thread's last error message ("" if none). Owned by the library. */
const char *rl_errmsg(void);

#endif
