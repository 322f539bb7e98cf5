/* serve's early --host / --port check (see listen_check.h). */
#include "cli/listen_check.h"
#include "util/err.h"
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int rl_cli_check_listen(const char *host, int port) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    int gr = getaddrinfo(host, ps, &hints, &ai);
    if (gr) return rl_err_c(RL_EC_NET, "cannot resolve host '%s': %s (--host takes an address or a name of this machine)", host, gai_strerror(gr));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
    if (fd < 0) rc = rl_err_c(RL_EC_NET, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);   /* as the server does */
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1)) {
            int e = errno;
            rc = rl_err_c(RL_EC_NET, "cannot listen on %s:%d: %s%s", host, port, strerror(e),
                          e == EADDRINUSE ? " (another process has the port: choose one with --port)"
                          : e == EACCES ? " (ports below 1024 need privileges: choose one with --port)" : "");
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}
