/* serve's early check of --host / --port: resolves the host and binds the port once, before the
 * model is loaded (which can take minutes), so a busy port or a bad host fails at once. */
#ifndef RL_CLI_LISTEN_CHECK_H
#define RL_CLI_LISTEN_CHECK_H

/* 0 if host:port can be listened on now; -1 + rl_err (class RL_EC_NET) naming the address and
 * the reason. The port is released again (the server binds it later). */
int rl_cli_check_listen(const char *host, int port);

#endif
