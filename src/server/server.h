/* The HTTP side of `rabbitllm serve`: an OpenAI-compatible server (libmicrohttpd, one thread per
 * connection) over one opened model. Requests queue for a single worker thread that owns the
 * model (one generation at a time, the KV-cache prefix reused between requests); streamed
 * answers go out as server-sent events. Endpoints: GET /health, GET /v1/models[/ID],
 * POST /v1/chat/completions, POST /v1/completions. */
#ifndef RL_SERVER_SERVER_H
#define RL_SERVER_SERVER_H
#include "rabbitllm.h"
#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *host;          /* address to bind (numeric or a name), e.g. 127.0.0.1 */
    int port;                  /* 0: any free port (the one chosen is printed) */
    const char *model_name;    /* the id /v1/models reports */
    int default_max_tokens;    /* for requests without max_tokens; 0: up to the context */
    int seed_given;            /* requests without a seed use sampling.seed, else a fresh one */
    size_t max_body;           /* request body cap in bytes (413 above) */
    const char *model_dir;     /* shown when it starts */
    rl_sampling sampling;      /* request defaults */
    int ignore_eos, draft;     /* for every request */
} rl_server_opts;

/* Serves session g (the public text API; only the worker thread uses it) until one of the signals in *stop arrives; the caller must have blocked them in
 * every thread (they are awaited with sigwait). Prints "listening on http://HOST:PORT" to
 * stderr once ready. Returns 0 after a clean shutdown, -1 (message on stderr) if it cannot
 * start. */
int rl_server_run(rl_session *g, const rl_server_opts *so, const sigset_t *stop);

#endif
