/* Thread-local last-error message for the library (see err.h). */
#include "util/err.h"
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[1024];

int rl_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return -1;
}

int rl_err_prefix(const char *fmt, ...) {
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof g_msg) {
        size_t room = sizeof g_msg - (size_t)n - 1, k = strlen(old);
        memcpy(g_msg + n, old, k < room ? k : room);
        g_msg[n + (k < room ? k : room)] = 0;
    }
    return -1;
}

const char *rl_errmsg(void) { return g_msg; }
