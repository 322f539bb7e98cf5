/* The HTTP side of `rabbitllm serve`: an OpenAI-compatible server (libmicrohttpd, one thread per
 * connection, a connection cap and idle timeout) over one opened model. Requests are validated
 * and tokenized in their connection's thread, then wait in a bounded queue for the worker
 * thread, which runs up to `parallel` of them together (continuous batching, sched.h); streamed
 * answers go out as server-sent events with keep-alive comments while queued. Endpoints: GET /
 * (the chat page), /health, /metrics, /v1/models[/ID]; POST /v1/chat/completions,
 * /v1/completions, /tokenize, /detokenize. See docs/SERVER.md. */
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
    int ignore_eos, draft;     /* for every request (draft, prompt lookup: unused by the batched worker) */
    int draft_tokens;          /* with the session's draft model: the largest tree per slot (0 = 64) */
    int draft_fixed;           /* 1: always trees of draft_tokens (no cost model) */
    const char *draft_model;   /* the draft's directory, shown when it starts (the session opened it) */
    const char *chat_template; /* a built-in name (chatml, llama3, ...) or a Jinja file; NULL: the
                                  model's own, ChatML (with a warning) if it has none */
    int parallel;              /* slots (sequences decoded together); the model has n_seq >= this */
    const char *parallel_why;  /* how parallel was chosen, shown at start (e.g. " from the memory plan"), or NULL */
    int batch_tokens;          /* most tokens per step (prefill chunks + decode rows); 0: 256 */
    int queue;                 /* most requests waiting for a slot (503 + Retry-After beyond); 0: 64 */
    const char *api_key;       /* required as "Authorization: Bearer KEY" (NULL: none) */
    const char *cors;          /* Access-Control-Allow-Origin value (NULL: no CORS headers) */
    int timeout_s;             /* idle connection timeout; 0: 120 */
    int max_connections;       /* connection cap; 0: 256 */
    int keepalive_s;           /* SSE keep-alive comment interval; 0: 15 */
    const char *family;        /* model family for /v1/models (may be NULL) */
} rl_server_opts;

/* Serves session g (the public text API; only the worker thread uses it) until one of the signals in *stop arrives; the caller must have blocked them in
 * every thread (they are awaited with sigwait). Prints "listening on http://HOST:PORT" to
 * stderr once ready. Returns 0 after a clean shutdown, -2 (message on stderr) if it cannot
 * resolve or listen on the address, -1 if it cannot start otherwise. */
int rl_server_run(rl_session *g, const rl_server_opts *so, const sigset_t *stop);

#endif
