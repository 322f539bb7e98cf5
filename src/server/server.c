/* OpenAI-compatible HTTP server over one model (see server.h): libmicrohttpd glue, the request
 * queue and its worker thread, and server-sent-event streaming. */
#include "server/server.h"
#include "server/oai.h"
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEEPALIVE_S 15   /* an SSE comment goes out after this long without data */

typedef struct job job;
struct job {
    job *next;
    int refs;                        /* handler / stream response + worker; under srv->lock */
    rl_oai_request req;
    char id[48];
    long created;
    int prepared, done;              /* prompt built (the answer can start) / finished */
    volatile sig_atomic_t stop;      /* client gone or shutdown: stop generating */
    int status;                      /* non-stream reply (or an error before streaming) */
    char *body;
    char *out;                       /* stream: SSE bytes not yet sent */
    size_t out_len, out_off, out_cap;
    pthread_cond_t cond;
};

typedef struct {
    rl_session *g;
    const rl_server_opts *so;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    job *head, *tail, *current;
    int shutdown;
    int inflight;                    /* requests whose handler ran and that are not completed */
    pthread_cond_t idle;             /* inflight reached 0 */
    uint64_t rng;
    long started;
} server;

typedef struct {                     /* one request being received */
    int route;
    char *body;
    size_t len, cap;
    int too_large;
} conn;

enum { R_HEALTH = 1, R_MODELS, R_MODEL, R_CHAT, R_COMPLETIONS };

static uint64_t next_rand(server *s) {   /* under s->lock */
    uint64_t x = s->rng += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void job_unref(job *j) {          /* under srv->lock */
    if (--j->refs > 0) return;
    rl_oai_request_free(&j->req);
    free(j->body); free(j->out);
    pthread_cond_destroy(&j->cond);
    free(j);
}

/* ---- replies ---- */

static enum MHD_Result reply_json_h(struct MHD_Connection *c, unsigned status, char *json, const char *allow) {
    static const char OOM[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
    struct MHD_Response *r = json ? MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
    if (!r) { free(json); return MHD_NO; }
    if (!json) status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, char *json) {
    return reply_json_h(c, status, json, NULL);
}

static const char *error_type(unsigned status) {
    return status >= 500 ? "server_error" : "invalid_request_error";
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *param, const char *code) {
    return reply_json(c, status, rl_oai_error_json(msg, error_type(status), param, code));
}

/* ---- the worker ---- */

/* Appends an SSE event "data: TEXT\n\n" to the job's stream buffer (takes text). */
static void sse_push(server *s, job *j, char *text) {
    if (!text) return;
    size_t tl = strlen(text), need = tl + 8;
    pthread_mutex_lock(&s->lock);
    if (j->out_len + need > j->out_cap) {
        size_t cap = (j->out_len + need) * 2;
        char *n = realloc(j->out, cap);
        if (!n) { pthread_mutex_unlock(&s->lock); free(text); j->stop = 1; return; }
        j->out = n; j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, "data: ", 6);
    memcpy(j->out + j->out_len + 6, text, tl);
    memcpy(j->out + j->out_len + 6 + tl, "\n\n", 2);
    j->out_len += need;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&s->lock);
    free(text);
}

typedef struct { server *s; job *j; } piece_ctx;

static int on_piece(void *arg, const char *piece, size_t len) {
    piece_ctx *p = arg;
    job *j = p->j;
    sse_push(p->s, j, rl_oai_chunk_json(j->req.kind, j->id, p->s->so->model_name, j->created, NULL, piece, len, NULL, 0, 0, 0));
    return j->stop;
}

/* Sets a reply before the answer starts (an error with its status). */
static void job_fail(job *j, unsigned status, const char *msg, const char *param, const char *code) {
    j->status = status;
    free(j->body);
    j->body = rl_oai_error_json(msg, error_type(status), param, code);
}

static void set_prepared(server *s, job *j) {
    pthread_mutex_lock(&s->lock);
    j->prepared = 1;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&s->lock);
}

/* The prompt ids of a request (chat: messages through the template; completion: raw text).
 * 0, -1 (the library's message in rl_last_error) or -2 (out of memory). */
static int request_ids(rl_session *g, const rl_oai_request *q, int32_t **ids, int *n) {
    *ids = NULL; *n = 0;
    if (q->kind != RL_OAI_CHAT) return rl_session_prompt(g, NULL, NULL, q->prompt, ids, n);
    char *mj = cJSON_PrintUnformatted(q->messages), *ej = q->extra ? cJSON_PrintUnformatted(q->extra) : NULL;
    int rc = !mj || (q->extra && !ej) ? -2 : rl_session_prompt(g, mj, ej, NULL, ids, n);
    free(mj); free(ej);
    return rc;
}

static void process(server *s, job *j) {
    rl_session *g = s->g;
    rl_oai_request *q = &j->req;
    const char *model = s->so->model_name;
    int32_t *ids = NULL;
    int n = 0, ctx = rl_model_ctx(rl_session_model(g));
    char msg[512];
    if (q->kind == RL_OAI_CHAT && !rl_session_template(g)) {
        job_fail(j, 400, "this model has no chat template; use /v1/completions with raw text", "messages", NULL);
        return;
    }
    int prc = request_ids(g, q, &ids, &n);
    if (prc) {
        if (prc == -2) job_fail(j, 500, "out of memory", NULL, NULL);
        else job_fail(j, 400, rl_last_error(), q->kind == RL_OAI_CHAT ? "messages" : "prompt", NULL);
        free(ids);
        return;
    }
    if (n <= 0) { free(ids); job_fail(j, 400, "the prompt is empty", q->kind == RL_OAI_CHAT ? "messages" : "prompt", NULL); return; }
    if (n >= ctx) {
        snprintf(msg, sizeof msg, "the prompt has %d tokens but the context holds %d (and at least one must be generated)", n, ctx);
        free(ids);
        job_fail(j, 400, msg, q->kind == RL_OAI_CHAT ? "messages" : "prompt", "context_length_exceeded");
        return;
    }
    rl_gen_params p = rl_gen_params_default();
    p.sampling = q->sampling;
    p.ignore_eos = s->so->ignore_eos;
    p.draft = s->so->draft;
    p.stop = q->stop;
    p.n_stop = q->n_stop;
    p.cancel = &j->stop;
    p.max_tokens = q->max_tokens > 0 ? q->max_tokens : s->so->default_max_tokens > 0 ? s->so->default_max_tokens : ctx - n;
    if (p.max_tokens > ctx - n) p.max_tokens = ctx - n;
    if (!q->has_seed && !s->so->seed_given) {
        pthread_mutex_lock(&s->lock);
        p.sampling.seed = next_rand(s);
        pthread_mutex_unlock(&s->lock);
    }
    piece_ctx pc = {s, j};
    if (q->stream) { p.on_text = on_piece; p.user = &pc; }
    set_prepared(s, j);
    if (q->stream && q->kind == RL_OAI_CHAT)
        sse_push(s, j, rl_oai_chunk_json(q->kind, j->id, model, j->created, "assistant", "", 0, NULL, 0, 0, 0));

    char *text = NULL;
    rl_gen_info r;
    if (rl_session_generate_ids(g, ids, n, &p, &text, &r)) {
        fprintf(stderr, "serve: generation failed: %s\n", rl_last_error());
        if (q->stream) {
            sse_push(s, j, rl_oai_error_json(rl_last_error(), "server_error", NULL, NULL));
            sse_push(s, j, strdup("[DONE]"));
        } else {
            job_fail(j, 500, rl_last_error(), NULL, NULL);
        }
        free(ids);
        return;
    }
    const char *finish = r.finish == RL_FINISH_LENGTH ? "length" : "stop";
    if (q->stream) {
        sse_push(s, j, rl_oai_chunk_json(q->kind, j->id, model, j->created, NULL, NULL, 0, finish, 0, 0, 0));
        if (q->include_usage) sse_push(s, j, rl_oai_chunk_json(q->kind, j->id, model, j->created, NULL, NULL, 0, NULL, n, r.n_gen, 1));
        sse_push(s, j, strdup("[DONE]"));
    } else {
        j->status = 200;
        j->body = rl_oai_response_json(q->kind, j->id, model, j->created, text ? text : "", finish, n, r.n_gen);
    }
    int evaluated = n - r.n_reused;
    fprintf(stderr, "serve: %s%s: %d prompt tokens (%d reused), %.1f tok/s prefill; %d generated, %.2f tok/s; finish %s%s\n",
            q->kind == RL_OAI_CHAT ? "chat" : "completion", q->stream ? " (stream)" : "", n, r.n_reused,
            r.prefill_s > 0 ? evaluated / r.prefill_s : 0.0, r.n_gen,
            r.decode_s > 0 && r.n_gen > 1 ? (r.n_gen - 1) / r.decode_s : 0.0, finish,
            r.finish == RL_FINISH_CANCELLED ? " (cancelled)" : "");
    rl_release(text);
    free(ids);
}

static void *worker(void *arg) {
    server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->shutdown) pthread_cond_wait(&s->wake, &s->lock);
        if (s->shutdown) break;
        job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        s->current = j;
        pthread_mutex_unlock(&s->lock);
        if (!j->stop) process(s, j);
        pthread_mutex_lock(&s->lock);
        s->current = NULL;
        j->done = 1;
        pthread_cond_broadcast(&j->cond);
        job_unref(j);
    }
    while (s->head) {                    /* shutting down: the queued requests get a 503 */
        job *j = s->head;
        s->head = j->next;
        job_fail(j, 503, "the server is shutting down", NULL, NULL);
        j->done = 1;
        pthread_cond_broadcast(&j->cond);
        job_unref(j);
    }
    s->tail = NULL;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- streaming ---- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    job *j = ((job **)cls)[0];
    server *s = ((server **)cls)[1];
    static const char KEEP[] = ": keep-alive\n\n";
    pthread_mutex_lock(&s->lock);
    while (j->out_off == j->out_len && !j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += KEEPALIVE_S;
        if (pthread_cond_timedwait(&j->cond, &s->lock, &ts) == ETIMEDOUT && j->out_off == j->out_len && !j->done &&
            max >= sizeof KEEP - 1) {
            pthread_mutex_unlock(&s->lock);
            memcpy(buf, KEEP, sizeof KEEP - 1);
            return (ssize_t)(sizeof KEEP - 1);
        }
    }
    ssize_t ret = MHD_CONTENT_READER_END_OF_STREAM;
    if (j->out_off < j->out_len) {
        size_t k = j->out_len - j->out_off < max ? j->out_len - j->out_off : max;
        memcpy(buf, j->out + j->out_off, k);
        j->out_off += k;
        if (j->out_off == j->out_len) j->out_off = j->out_len = 0;
        ret = (ssize_t)k;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static void stream_free(void *cls) {
    job *j = ((job **)cls)[0];
    server *s = ((server **)cls)[1];
    pthread_mutex_lock(&s->lock);
    j->stop = 1;                         /* the client is gone (or the answer is complete) */
    job_unref(j);
    pthread_mutex_unlock(&s->lock);
    free(cls);
}

/* ---- requests ---- */

static enum MHD_Result handle_generation(server *s, struct MHD_Connection *c, conn *k) {
    rl_oai_kind kind = k->route == R_CHAT ? RL_OAI_CHAT : RL_OAI_COMPLETION;
    char err[512];
    const char *param = NULL;
    job *j = calloc(1, sizeof *j);
    if (!j) return reply_error(c, 500, "out of memory", NULL, NULL);
    if (rl_oai_parse(kind, k->body ? k->body : "", k->len, &s->so->sampling, &j->req, err, sizeof err, &param)) {
        enum MHD_Result ret = reply_error(c, 400, err, param, NULL);
        rl_oai_request_free(&j->req);
        free(j);
        return ret;
    }
    pthread_cond_init(&j->cond, NULL);
    j->refs = 2;
    j->created = (long)time(NULL);

    pthread_mutex_lock(&s->lock);
    if (s->shutdown) {
        j->refs = 1;
        job_unref(j);
        pthread_mutex_unlock(&s->lock);
        return reply_error(c, 503, "the server is shutting down", NULL, NULL);
    }
    snprintf(j->id, sizeof j->id, "%s-%016llx", kind == RL_OAI_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)next_rand(s));
    if (s->tail) s->tail->next = j; else s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->wake);
    while (!j->done && !(j->req.stream && j->prepared)) pthread_cond_wait(&j->cond, &s->lock);
    int streaming = j->req.stream && j->prepared;
    pthread_mutex_unlock(&s->lock);

    if (streaming) {
        void **cls = malloc(2 * sizeof *cls);
        struct MHD_Response *r = cls ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, cls, stream_free) : NULL;
        if (!r) {
            free(cls);
            pthread_mutex_lock(&s->lock);
            j->stop = 1;
            job_unref(j);
            pthread_mutex_unlock(&s->lock);
            return reply_error(c, 500, "out of memory", NULL, NULL);
        }
        cls[0] = j; cls[1] = s;          /* the response now holds the handler's reference */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    unsigned status = j->status ? (unsigned)j->status : 500;
    char *body = j->body;
    j->body = NULL;
    pthread_mutex_lock(&s->lock);
    job_unref(j);
    pthread_mutex_unlock(&s->lock);
    if (!body) return reply_error(c, 500, "the request was not answered", NULL, NULL);
    return reply_json(c, status, body);
}

/* Route of (method, url): R_*, or -404 / -405. */
static int route(const server *s, const char *method, const char *url) {
    int get = !strcmp(method, MHD_HTTP_METHOD_GET), post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!strcmp(url, "/health")) return get ? R_HEALTH : -405;
    if (!strcmp(url, "/v1/models")) return get ? R_MODELS : -405;
    if (!strncmp(url, "/v1/models/", 11) && !strcmp(url + 11, s->so->model_name)) return get ? R_MODEL : -405;
    if (!strcmp(url, "/v1/chat/completions")) return post ? R_CHAT : -405;
    if (!strcmp(url, "/v1/completions")) return post ? R_COMPLETIONS : -405;
    return -404;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    conn *k = *con_cls;
    char msg[600];
    if (!k) {                            /* headers are in: route, check the announced size */
        pthread_mutex_lock(&s->lock);
        s->inflight++;                   /* on_completed counts it out */
        pthread_mutex_unlock(&s->lock);
        int r = route(s, method, url);
        if (r == -404) {
            snprintf(msg, sizeof msg, "unknown request URL: %.20s %.500s", method, url);
            return reply_error(c, MHD_HTTP_NOT_FOUND, msg, NULL, "unknown_url");
        }
        if (r == -405) {
            snprintf(msg, sizeof msg, "method %.20s is not allowed on %.500s", method, url);
            int post = !strcmp(url, "/v1/chat/completions") || !strcmp(url, "/v1/completions");
            return reply_json_h(c, MHD_HTTP_METHOD_NOT_ALLOWED, rl_oai_error_json(msg, "invalid_request_error", NULL, "method_not_allowed"),
                                post ? "POST" : "GET");
        }
        if (r == R_HEALTH) return reply_json(c, 200, strdup("{\"status\":\"ok\"}"));
        if (r == R_MODELS || r == R_MODEL) return reply_json(c, 200, rl_oai_models_json(s->so->model_name, s->started, r == R_MODEL));
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->so->max_body) {
            snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->so->max_body);
            return reply_error(c, 413, msg, NULL, "request_too_large");
        }
        if (!(k = calloc(1, sizeof *k))) return MHD_NO;
        k->route = r;
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_size) {                  /* a piece of the body */
        size_t n = *upload_size;
        *upload_size = 0;
        if (k->too_large) return MHD_YES;
        if (k->len + n > s->so->max_body) { k->too_large = 1; free(k->body); k->body = NULL; k->len = k->cap = 0; return MHD_YES; }
        if (k->len + n + 1 > k->cap) {
            size_t cap = (k->len + n + 1) * 2;
            char *nb = realloc(k->body, cap);
            if (!nb) return MHD_NO;
            k->body = nb; k->cap = cap;
        }
        memcpy(k->body + k->len, upload, n);
        k->len += n;
        k->body[k->len] = 0;
        return MHD_YES;
    }
    if (k->too_large) {
        snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->so->max_body);
        return reply_error(c, 413, msg, NULL, "request_too_large");
    }
    return handle_generation(s, c, k);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c; (void)toe;
    server *s = cls;
    conn *k = *con_cls;
    if (k) { free(k->body); free(k); *con_cls = NULL; }
    pthread_mutex_lock(&s->lock);
    if (s->inflight > 0 && --s->inflight == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

/* ---- start / stop ---- */

int rl_server_run(rl_session *g, const rl_server_opts *so, const sigset_t *stop) {
    server s = {.g = g, .so = so, .started = (long)time(NULL)};
    s.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&s;
    char port[16];
    snprintf(port, sizeof port, "%d", so->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    int gr = getaddrinfo(so->host, port, &hints, &ai);
    if (gr) { fprintf(stderr, "error: cannot resolve host '%s': %s\n", so->host, gai_strerror(gr)); return -1; }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.wake, NULL);
    pthread_cond_init(&s.idle, NULL);
    pthread_t wt;
    if (pthread_create(&wt, NULL, worker, &s)) {
        freeaddrinfo(ai);
        fprintf(stderr, "error: cannot start the worker thread\n");
        return -1;
    }
    errno = 0;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)so->port, NULL, NULL, on_request, &s,
                                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)128,
                                            MHD_OPTION_END);
    int err = errno;
    freeaddrinfo(ai);
    int rc = 0;
    if (!d) {
        fprintf(stderr, "error: cannot listen on %s:%d%s%s\n", so->host, so->port, err ? ": " : "", err ? strerror(err) : "");
        rc = -1;
    } else {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        int bound = info ? info->port : so->port;
        int v6 = strchr(so->host, ':') != NULL;
        fprintf(stderr, "serving %s as '%s', listening on http://%s%s%s:%d (OpenAI API under /v1; Ctrl-C stops)\n",
                so->model_dir, so->model_name, v6 ? "[" : "", so->host, v6 ? "]" : "", bound);
        int sig = 0;
        while (sigwait(stop, &sig)) {}
        fprintf(stderr, "serve: signal %d, shutting down\n", sig);
    }
    pthread_mutex_lock(&s.lock);
    s.shutdown = 1;
    if (s.current) s.current->stop = 1;
    pthread_cond_broadcast(&s.wake);
    pthread_mutex_unlock(&s.lock);
    pthread_join(wt, NULL);
    if (d) {
        /* stop accepting, let the answers in progress (and the 503s) go out, at most 5 s */
        MHD_socket ls = MHD_quiesce_daemon(d);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_mutex_lock(&s.lock);
        while (s.inflight > 0 && pthread_cond_timedwait(&s.idle, &s.lock, &ts) != ETIMEDOUT) {}
        pthread_mutex_unlock(&s.lock);
        MHD_stop_daemon(d);
        if (ls != MHD_INVALID_SOCKET) close(ls);
    }
    pthread_cond_destroy(&s.idle);
    pthread_cond_destroy(&s.wake);
    pthread_mutex_destroy(&s.lock);
    return rc;
}
