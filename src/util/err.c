/* Thread-local last-error message and class for the library (see err.h). */
#include "util/err.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[4096];
static _Thread_local rl_errclass g_class = RL_EC_INPUT;

static rl_errclass errno_class(int e) {
    switch (e) {
    case ENOMEM: return RL_EC_NOMEM;
    case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case ENETDOWN: case ENETUNREACH:
    case EHOSTUNREACH: case EHOSTDOWN: case ETIMEDOUT: case EPIPE: return RL_EC_NET;
    default: return RL_EC_IO;
    }
}

/* The class of the message just written, errno e as it was when rl_err was called. */
static rl_errclass infer(int e) {
    char ebuf[128];
    if (e > 0) {
        const char *es = strerror_r(e, ebuf, sizeof ebuf);   /* GNU strerror_r (_GNU_SOURCE) */
        if (es && *es && strstr(g_msg, es)) return errno_class(e);
    }
    static const char oom[] = "out of memory";
    size_t n = strlen(g_msg), k = sizeof oom - 1;
    if (n >= k && !strcmp(g_msg + n - k, oom)) return RL_EC_NOMEM;
    return RL_EC_INPUT;
}

int rl_err(const char *fmt, ...) {
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    g_class = infer(e);
    errno = e;
    return -1;
}

int rl_err_c(rl_errclass c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    g_class = c;
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
rl_errclass rl_errclass_get(void) { return g_class; }
void rl_errclass_set(rl_errclass c) { g_class = c; }
