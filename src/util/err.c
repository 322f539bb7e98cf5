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
    char pre[512], old[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    snprintf(g_msg, sizeof g_msg, "%s%s", pre, old);
    return -1;
}

const char *rl_errmsg(void) { return g_msg; }
