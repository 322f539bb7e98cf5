/* OpenAI-compatible HTTP server over one model (see server.h): request handling in the
 * connection threads, the bounded queue, the worker running the batch scheduler, and
 * server-sent-event streaming. */
#include "server/server.h"
#include "server/job.h"
#include "server/page.h"
#include "server/toolforce.h"
#include "server/tools.h"
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

typedef struct {
    rl_session *g;
    const rl_server_opts *so;
    int parallel, queue_cap, keepalive_s, ctx;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    job *head, *tail;
    int queued;
    int shutdown;
    int inflight;                    /* requests whose handler ran and that are not completed */
    pthread_cond_t idle;             /* inflight reached 0 */
    uint64_t rng;
    long started;
    rl_chat_template *tmpl;          /* --chat-template or the ChatML fallback; NULL: the model's own */
    rl_vocab_text *vt;               /* token texts for constrained JSON (made on first use) */
    pthread_mutex_t vt_lock;
    char family[64];
    rl_tools_style tool_style;       /* the template's tool-call convention (forced calls) */
    rl_sched *sched;
    /* metrics (under lock) */
    long n_req[16], n_rejected, n_cancelled, n_errors;
    rl_sched_stats st;
    int busy;
    long step_delay_us;              /* RABBITLLM_TEST_STEP_DELAY_MS: slows each step (tests of queueing) */
} server;

typedef struct {                     /* one request being received */
    int route;
    char *body;
    size_t len, cap;
    int too_large;
} conn;

enum { R_HEALTH = 1, R_MODELS, R_MODEL, R_CHAT, R_COMPLETIONS, R_TOKENIZE, R_DETOKENIZE, R_METRICS, R_PAGE, R_OPTIONS };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t next_rand(server *s) {   /* under s->lock */
    uint64_t x = s->rng += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void job_unref(job *j) {          /* under srv->lock */
    if (--j->refs > 0) return;
    rl_oai_request_free(&j->req);
    for (int i = 0; i < RL_OAI_MAX_N; i++) {
        free(j->ch[i].text); free(j->ch[i].error); free(j->ch[i].reasoning); cJSON_Delete(j->ch[i].hcalls);
        cJSON_Delete(j->ch[i].lp);
        rl_jsonc_free(j->ch[i].jc);
    }
    free(j->ids); free(j->body); free(j->out);
    pthread_cond_destroy(&j->cond);
    free(j);
}

/* ---- replies ---- */

static void add_common_headers(server *s, struct MHD_Response *r) {
    if (s->so->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", s->so->cors);
        MHD_add_response_header(r, "Vary", "Origin");
    }
}

static enum MHD_Result reply_raw(server *s, struct MHD_Connection *c, unsigned status, char *text, const char *type,
                                 const char *hname, const char *hval) {
    static const char OOM[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(sizeof OOM - 1, (void *)OOM, MHD_RESPMEM_PERSISTENT);
    if (!r) { free(text); return MHD_NO; }
    if (!text) { status = MHD_HTTP_INTERNAL_SERVER_ERROR; type = "application/json"; }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (hname) MHD_add_response_header(r, hname, hval);
    add_common_headers(s, r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(server *s, struct MHD_Connection *c, unsigned status, char *json) {
    return reply_raw(s, c, status, json, "application/json", NULL, NULL);
}

static const char *error_type(unsigned status) {
    return status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error";
}

static enum MHD_Result reply_error_h(server *s, struct MHD_Connection *c, unsigned status, const char *msg, const char *param,
                                     const char *code, const char *hname, const char *hval) {
    return reply_raw(s, c, status, rl_oai_error_json(msg, error_type(status), param, code), "application/json", hname, hval);
}

static enum MHD_Result reply_error(server *s, struct MHD_Connection *c, unsigned status, const char *msg, const char *param, const char *code) {
    return reply_error_h(s, c, status, msg, param, code, NULL, NULL);
}

/* ---- the worker side: events of the scheduler ---- */

/* Appends an SSE event "data: TEXT\n\n" to the job's stream buffer (takes text). Under lock. */
static void sse_push_locked(job *j, char *text) {
    if (!text) return;
    size_t tl = strlen(text), need = tl + 8;
    if (j->out_len + need > j->out_cap) {
        size_t cap = (j->out_len + need) * 2;
        char *n = realloc(j->out, cap);
        if (!n) { free(text); j->stop = 1; return; }
        j->out = n; j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, "data: ", 6);
    memcpy(j->out + j->out_len + 6, text, tl);
    memcpy(j->out + j->out_len + 6 + tl, "\n\n", 2);
    j->out_len += need;
    pthread_cond_broadcast(&j->cond);
    free(text);
}

/* Chat logprobs entries (or the completion logprobs object) for the tokens of an event. */
static cJSON *lp_json(server *s, rl_oai_kind kind, const rl_sched_lp *lp, int n, size_t offset) {
    const rl_tokenizer *tok = rl_session_tokenizer(s->g);
    if (kind == RL_OAI_CHAT) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateObject(), *top = NULL;
            for (int k = -1; k < lp[i].n_top; k++) {
                int32_t id = k < 0 ? lp[i].id : lp[i].top_id[k];
                char *p = NULL;
                size_t pl = 0;
                if (rl_token_to_piece(tok, id, &p, &pl)) { p = NULL; pl = 0; }
                cJSON *o = k < 0 ? e : cJSON_CreateObject(), *b = cJSON_CreateArray();
                cJSON_AddStringToObject(o, "token", p ? p : "");
                cJSON_AddNumberToObject(o, "logprob", k < 0 ? lp[i].logprob : lp[i].top_lp[k]);
                for (size_t q = 0; q < pl; q++) cJSON_AddItemToArray(b, cJSON_CreateNumber((unsigned char)p[q]));
                cJSON_AddItemToObject(o, "bytes", b);
                rl_release(p);
                if (k < 0) top = cJSON_AddArrayToObject(e, "top_logprobs");
                else cJSON_AddItemToArray(top, o);
            }
            cJSON_AddItemToArray(a, e);
        }
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens"), *tlp = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(o, "top_logprobs"), *off = cJSON_AddArrayToObject(o, "text_offset");
    for (int i = 0; i < n; i++) {
        char *p = NULL;
        size_t pl = 0;
        if (rl_token_to_piece(tok, lp[i].id, &p, &pl)) p = NULL;
        cJSON_AddItemToArray(toks, cJSON_CreateString(p ? p : ""));
        rl_release(p);
        cJSON_AddItemToArray(tlp, cJSON_CreateNumber(lp[i].logprob));
        cJSON *t = cJSON_CreateObject();
        for (int k = 0; k < lp[i].n_top; k++) {
            if (rl_token_to_piece(tok, lp[i].top_id[k], &p, &pl)) continue;
            if (!cJSON_GetObjectItemCaseSensitive(t, p)) cJSON_AddNumberToObject(t, p, lp[i].top_lp[k]);
            rl_release(p);
        }
        cJSON_AddItemToArray(top, t);
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)offset));
    }
    return o;
}

/* Appends the completion logprobs object b's arrays to a's. */
static void lp_merge(cJSON *a, cJSON *b) {
    static const char *const K[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
    for (int k = 0; k < 4; k++) {
        cJSON *src = cJSON_GetObjectItemCaseSensitive(b, K[k]), *dst = cJSON_GetObjectItemCaseSensitive(a, K[k]);
        while (cJSON_GetArraySize(src) > 0) cJSON_AddItemToArray(dst, cJSON_DetachItemFromArray(src, 0));
    }
    cJSON_Delete(b);
}

static const char *finish_name(int f) { return f == RL_FINISH_LENGTH ? "length" : "stop"; }

/* The reply once every choice is done (under lock). */
static void job_complete(server *s, job *j) {
    rl_oai_request *q = &j->req;
    const char *model = s->so->model_name;
    int n_gen = 0;
    for (int i = 0; i < q->n; i++) n_gen += j->ch[i].n_gen;
    if (q->stream) {
        if (q->include_usage)
            sse_push_locked(j, rl_oai_chunk_json(q->kind, j->id, model, j->created, 0, NULL, NULL, 0, NULL, NULL, NULL, j->n_ids, n_gen, 1));
        sse_push_locked(j, strdup("[DONE]"));
    } else {
        for (int i = 0; i < q->n; i++) if (j->ch[i].error) {
            j->status = 500;
            j->body = rl_oai_error_json(j->ch[i].error, "server_error", NULL, NULL);
            goto done;
        }
        rl_oai_choice c[RL_OAI_MAX_N];
        char *texts[RL_OAI_MAX_N];
        for (int i = 0; i < q->n; i++) {
            job_choice *h = &j->ch[i];
            size_t keep = h->len;
            cJSON *calls = !q->has_tools ? NULL : h->hcalls ? h->hcalls : rl_tools_parse(h->text ? h->text : "", h->len, &keep, next_rand(s));
            h->hcalls = calls == h->hcalls ? NULL : h->hcalls; /* (taken: harmony's calls, the answer kept whole) */
            texts[i] = strndup(h->text ? h->text : "", keep);
            c[i] = (rl_oai_choice){.text = calls && !keep ? NULL : texts[i], .finish = calls ? "tool_calls" : finish_name(h->finish),
                                   .logprobs = h->lp, .tool_calls = calls, .reasoning = h->reasoning};
            h->lp = NULL;
        }
        j->status = 200;
        j->body = rl_oai_response_json(q->kind, j->id, model, j->created, c, q->n, j->n_ids, n_gen);
        for (int i = 0; i < q->n; i++) free(texts[i]);
    }
done:
    j->done = 1;
    pthread_cond_broadcast(&j->cond);
}

static void on_event(void *user, const rl_sched_event *e) {
    job_choice *h = user;
    job *j = h->j;
    server *s = j->srv;
    rl_oai_request *q = &j->req;
    const char *model = s->so->model_name;
    cJSON *lp = e->n_lp && q->logprobs ? lp_json(s, q->kind, e->lp, e->n_lp, h->len) : NULL;
    pthread_mutex_lock(&s->lock);
    if (e->len) {
        if (h->len + e->len + 1 > h->cap) {
            size_t cap = (h->len + e->len + 1) * 2;
            char *n = realloc(h->text, cap);
            if (!n) { j->stop = 1; pthread_mutex_unlock(&s->lock); cJSON_Delete(lp); return; }
            h->text = n; h->cap = cap;
        }
        memcpy(h->text + h->len, e->text, e->len);
        h->len += e->len;
        h->text[h->len] = 0;
    }
    if (q->stream && e->reasoning_len && q->kind == RL_OAI_CHAT)
        sse_push_locked(j, rl_oai_reasoning_chunk_json(j->id, model, j->created, h->index, e->reasoning_delta, e->reasoning_len));
    if (q->stream) {
        size_t safe = q->has_tools ? rl_tools_safe_prefix(h->text ? h->text : "", h->len) : h->len;
        if (e->done && !q->has_tools) safe = h->len;
        if (safe > h->sent || lp) {
            size_t from = h->sent < safe ? h->sent : safe;
            sse_push_locked(j, rl_oai_chunk_json(q->kind, j->id, model, j->created, h->index, NULL, h->text ? h->text + from : "",
                                                 safe - from, lp, NULL, NULL, 0, 0, 0));
            lp = NULL;
            if (safe > h->sent) h->sent = safe;
        }
    } else if (lp) {
        if (!h->lp) h->lp = lp;
        else if (q->kind == RL_OAI_CHAT) { while (cJSON_GetArraySize(lp)) cJSON_AddItemToArray(h->lp, cJSON_DetachItemFromArray(lp, 0)); cJSON_Delete(lp); }
        else lp_merge(h->lp, lp);
        lp = NULL;
    }
    cJSON_Delete(lp);
    if (e->done) {
        h->done = 1;
        h->finish = e->finish;
        h->n_gen = e->n_gen;
        h->n_reused = e->n_reused;
        h->ttft_s = e->ttft_s;
        if (e->error) { h->error = strdup(e->error); s->n_errors++; }
        if (e->reasoning) h->reasoning = strdup(e->reasoning);
        if (e->calls) h->hcalls = cJSON_Duplicate(e->calls, 1);
        if (e->finish == RL_FINISH_CANCELLED) s->n_cancelled++;
        if (q->stream) {
            const char *fin = finish_name(e->finish);
            if (e->error) sse_push_locked(j, rl_oai_error_json(e->error, "server_error", NULL, NULL));
            else if (q->has_tools) {          /* the held-back text: content, or tool calls */
                size_t keep = h->len;
                cJSON *calls = h->hcalls ? h->hcalls : rl_tools_parse(h->text ? h->text : "", h->len, &keep, next_rand(s));
                h->hcalls = NULL;
                if (keep > h->sent)
                    sse_push_locked(j, rl_oai_chunk_json(q->kind, j->id, model, j->created, h->index, NULL, h->text + h->sent,
                                                         keep - h->sent, NULL, NULL, NULL, 0, 0, 0));
                if (calls) {
                    int k = 0;
                    cJSON *c;
                    cJSON_ArrayForEach(c, calls) cJSON_AddNumberToObject(c, "index", k++);
                    sse_push_locked(j, rl_oai_chunk_json(q->kind, j->id, model, j->created, h->index, NULL, NULL, 0, NULL, calls,
                                                         NULL, 0, 0, 0));
                    fin = "tool_calls";
                }
            }
            sse_push_locked(j, rl_oai_chunk_json(q->kind, j->id, model, j->created, h->index, NULL, NULL, 0, NULL, NULL, fin, 0, 0, 0));
        }
        fprintf(stderr, "serve: %s %s[%d]: %d prompt tokens (%d reused), %d generated, TTFT %.3f s, finish %s%s%s\n",
                q->kind == RL_OAI_CHAT ? "chat" : "completion", j->id, h->index, j->n_ids, e->n_reused, e->n_gen, e->ttft_s,
                finish_name(e->finish), e->finish == RL_FINISH_CANCELLED ? " (cancelled)" : "", e->error ? " (error)" : "");
        if (++j->n_done == q->n) {
            job_complete(s, j);
            job_unref(j);                /* the worker's reference */
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Starts every choice of j in the scheduler (worker thread, lock not held). */
static void admit(server *s, job *j) {
    rl_oai_request *q = &j->req;
    for (int i = 0; i < q->n; i++) {
        job_choice *h = &j->ch[i];
        rl_sched_task t = {.prompt = j->ids, .n_prompt = j->n_ids, .max_tokens = j->max_tokens, .sampling = q->sampling,
                           .ignore_eos = s->so->ignore_eos, .stop = q->stop, .n_stop = q->n_stop, .presence = q->presence,
                           .frequency = q->frequency, .bias_id = q->bias_id, .bias = q->bias, .n_bias = q->n_bias,
                           .logprobs = q->logprobs, .top_logprobs = q->top_logprobs, .filter = h->jc ? &h->filt : NULL,
                           .cancel = &j->stop, .on_event = on_event, .user = h};
        t.sampling.seed = j->seed + (uint64_t)i;
        if (rl_sched_add(s->sched, &t)) {
            rl_sched_event e = {.done = 1, .finish = RL_FINISH_STOP, .error = rl_sched_last_error(), .n_prompt = j->n_ids};
            on_event(h, &e);
        }
    }
}

static void *worker(void *arg) {
    server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->head && !s->shutdown) {
            job *j = s->head;
            if (!j->stop && rl_sched_n_free(s->sched) < j->req.n) break;
            s->head = j->next;
            if (!s->head) s->tail = NULL;
            s->queued--;
            if (j->stop) {               /* gone while queued */
                s->n_cancelled++;
                j->n_done = j->req.n;
                job_complete(s, j);
                job_unref(j);
                continue;
            }
            j->started = 1;
            pthread_mutex_unlock(&s->lock);
            admit(s, j);
            pthread_mutex_lock(&s->lock);
            s->busy = rl_sched_n_busy(s->sched);
        }
        if (s->shutdown) break;
        if (!rl_sched_n_busy(s->sched)) { pthread_cond_wait(&s->wake, &s->lock); continue; }
        pthread_mutex_unlock(&s->lock);
        if (s->step_delay_us) usleep((useconds_t)s->step_delay_us);
        int busy = rl_sched_step(s->sched);
        pthread_mutex_lock(&s->lock);
        rl_sched_get_stats(s->sched, &s->st);
        s->busy = busy;
    }
    pthread_mutex_unlock(&s->lock);
    /* shutting down: the running answers are cancelled, the queued ones get a 503 */
    rl_sched_cancel_all(s->sched);
    pthread_mutex_lock(&s->lock);
    while (s->head) {
        job *j = s->head;
        s->head = j->next;
        j->status = 503;
        j->body = rl_oai_error_json("the server is shutting down", "server_error", NULL, NULL);
        if (j->req.stream) sse_push_locked(j, strdup("[DONE]"));
        j->done = 1;
        pthread_cond_broadcast(&j->cond);
        job_unref(j);
    }
    s->tail = NULL;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- streaming ---- */

typedef struct { job *j; server *s; } stream_cls;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    job *j = ((stream_cls *)cls)->j;
    server *s = ((stream_cls *)cls)->s;
    static const char KEEP[] = ": keep-alive\n\n";
    pthread_mutex_lock(&s->lock);
    while (j->out_off == j->out_len && !j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->keepalive_s;
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
    job *j = ((stream_cls *)cls)->j;
    server *s = ((stream_cls *)cls)->s;
    pthread_mutex_lock(&s->lock);
    j->stop = 1;                         /* the client is gone (or the answer is complete) */
    pthread_cond_signal(&s->wake);
    job_unref(j);
    pthread_mutex_unlock(&s->lock);
    free(cls);
}

/* 1 if the client closed its end of connection c (a non-streamed request waiting). */
static int client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char b;
    ssize_t r = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- requests ---- */

/* The prompt ids of a request (chat: messages through the template; completion: raw text).
 * 0, -1 (the library's message in rl_last_error) or -2 (out of memory). */
static int request_ids(server *s, const rl_oai_request *q, int32_t **ids, int *n) {
    rl_session *g = s->g;
    *ids = NULL; *n = 0;
    if (q->kind != RL_OAI_CHAT) return rl_session_prompt(g, NULL, NULL, q->prompt, ids, n);
    if (s->tmpl) {                       /* the server's template: render, encode without adding specials */
        char *text = NULL, *mj = cJSON_PrintUnformatted(q->messages), *ej = q->extra ? cJSON_PrintUnformatted(q->extra) : NULL;
        if (!mj || (q->extra && !ej)) { free(mj); free(ej); return -2; }
        int rc = rl_chat_template_apply(s->tmpl, mj, 1, ej, &text);
        free(mj); free(ej);
        if (rc) return -1;
        rc = rl_tokenize(rl_session_tokenizer(g), text, strlen(text), 0, ids, n);
        rl_release(text);
        return rc;
    }
    char *mj = cJSON_PrintUnformatted(q->messages), *ej = q->extra ? cJSON_PrintUnformatted(q->extra) : NULL;
    int rc = !mj || (q->extra && !ej) ? -2 : rl_session_prompt(g, mj, ej, NULL, ids, n);
    free(mj); free(ej);
    return rc;
}

static const rl_vocab_text *vocab_text(server *s) {
    pthread_mutex_lock(&s->vt_lock);
    if (!s->vt) s->vt = rl_vocab_text_new(rl_session_tokenizer(s->g), rl_model_vocab(rl_session_model(s->g)));
    pthread_mutex_unlock(&s->vt_lock);
    return s->vt;
}

/* Validates and tokenizes in the connection's thread; 0, or an HTTP status with the reply sent. */
static enum MHD_Result handle_generation(server *s, struct MHD_Connection *c, conn *k) {
    rl_oai_kind kind = k->route == R_CHAT ? RL_OAI_CHAT : RL_OAI_COMPLETION;
    char err[512], msg[700];
    const char *param = NULL;
    job *j = calloc(1, sizeof *j);
    if (!j) return reply_error(s, c, 500, "out of memory", NULL, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->refs = 1;
#define FAIL(...) do { enum MHD_Result ret_ = reply_error(s, c, __VA_ARGS__); pthread_mutex_lock(&s->lock); job_unref(j); pthread_mutex_unlock(&s->lock); return ret_; } while (0)
    if (rl_oai_parse(kind, k->body ? k->body : "", k->len, &s->so->sampling, &j->req, err, sizeof err, &param))
        FAIL(400, err, param, NULL);
    rl_oai_request *q = &j->req;
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(q->root, "model");
    if (cJSON_IsString(mn) && strcmp(mn->valuestring, s->so->model_name)) {
        snprintf(msg, sizeof msg, "The model '%.200s' does not exist (this server serves '%.200s')", mn->valuestring, s->so->model_name);
        FAIL(404, msg, "model", "model_not_found");
    }
    if (q->n > s->parallel) {
        snprintf(msg, sizeof msg, "'n' is %d but the server runs at most %d sequences together (--parallel)", q->n, s->parallel);
        FAIL(400, msg, "n", NULL);
    }
    int prc = request_ids(s, q, &j->ids, &j->n_ids);
    if (prc == -2) FAIL(500, "out of memory", NULL, NULL);
    if (prc) FAIL(400, rl_last_error(), kind == RL_OAI_CHAT ? "messages" : "prompt", NULL);
    if (j->n_ids <= 0) FAIL(400, "the prompt is empty", kind == RL_OAI_CHAT ? "messages" : "prompt", NULL);
    if (j->n_ids >= s->ctx) {
        snprintf(msg, sizeof msg, "This model's maximum context length is %d tokens, but the prompt has %d tokens (and at least one must be generated)",
                 s->ctx, j->n_ids);
        FAIL(400, msg, kind == RL_OAI_CHAT ? "messages" : "prompt", "context_length_exceeded");
    }
    int room = s->ctx - j->n_ids;
    j->max_tokens = q->max_tokens > 0 ? q->max_tokens : s->so->default_max_tokens > 0 ? s->so->default_max_tokens : room;
    if (j->max_tokens > room) j->max_tokens = room;
    if (q->tool_force) {                 /* the answer is one call in the template's convention */
        const rl_vocab_text *vt = vocab_text(s);
        if (!vt) FAIL(500, rl_last_error()[0] ? rl_last_error() : "out of memory", NULL, NULL);
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(q->root, "tools");
        for (int i = 0; i < q->n; i++) {
            if (!(j->ch[i].jc = rl_toolforce_new(tools, q->tool_name, s->tool_style, vt, err, sizeof err))) FAIL(400, err, "tool_choice", NULL);
            j->ch[i].filt = (rl_sched_filter){rl_jsonc_allowed, rl_jsonc_accept, j->ch[i].jc};
        }
    }
    if (q->format != RL_OAI_FMT_TEXT) {
        const rl_vocab_text *vt = vocab_text(s);
        if (!vt) FAIL(500, rl_last_error()[0] ? rl_last_error() : "out of memory", NULL, NULL);
        for (int i = 0; i < q->n; i++) {
            if (!(j->ch[i].jc = rl_jsonc_new(q->format == RL_OAI_FMT_JSON_SCHEMA ? q->schema : NULL, vt, err, sizeof err)))
                FAIL(400, err, "response_format", NULL);
            j->ch[i].filt = (rl_sched_filter){rl_jsonc_allowed, rl_jsonc_accept, j->ch[i].jc};
        }
    }
    for (int i = 0; i < q->n; i++) { j->ch[i].j = j; j->ch[i].index = i; }
    j->srv = s;
    j->created = (long)time(NULL);
    j->t_queued = now_s();

    pthread_mutex_lock(&s->lock);
    s->n_req[k->route]++;
    if (s->shutdown || s->queued >= s->queue_cap) {
        int down = s->shutdown;
        if (!down) s->n_rejected++;
        job_unref(j);
        pthread_mutex_unlock(&s->lock);
        return reply_error_h(s, c, 503, down ? "the server is shutting down" : "the server is busy: too many requests are waiting (--queue); retry later",
                             NULL, down ? NULL : "server_busy", MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    snprintf(j->id, sizeof j->id, "%s-%016llx", kind == RL_OAI_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)next_rand(s));
    j->seed = q->has_seed || s->so->seed_given ? q->sampling.seed : next_rand(s);
    j->refs = 2;                         /* this handler (or its stream) + the worker */
    if (q->stream && kind == RL_OAI_CHAT)
        for (int i = 0; i < q->n; i++)
            sse_push_locked(j, rl_oai_chunk_json(kind, j->id, s->so->model_name, j->created, i, "assistant", "", 0, NULL, NULL, NULL, 0, 0, 0));
    if (s->tail) s->tail->next = j; else s->head = j;
    s->tail = j;
    s->queued++;
    pthread_cond_signal(&s->wake);
    if (q->stream) {
        pthread_mutex_unlock(&s->lock);
        stream_cls *cls = malloc(sizeof *cls);
        struct MHD_Response *r = cls ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, cls, stream_free) : NULL;
        if (!r) {
            free(cls);
            pthread_mutex_lock(&s->lock);
            j->stop = 1;
            job_unref(j);
            pthread_mutex_unlock(&s->lock);
            return reply_error(s, c, 500, "out of memory", NULL, NULL);
        }
        *cls = (stream_cls){j, s};       /* the response now holds the handler's reference */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        add_common_headers(s, r);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    while (!j->done) {                   /* waiting: notice a client that hangs up */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&j->cond, &s->lock, &ts);
        if (!j->done && !j->stop && client_gone(c)) { j->stop = 1; pthread_cond_signal(&s->wake); }
    }
    unsigned status = j->status ? (unsigned)j->status : 500;
    char *body = j->body;
    j->body = NULL;
    job_unref(j);
    pthread_mutex_unlock(&s->lock);
#undef FAIL
    if (!body) return reply_error(s, c, 500, "the request was not answered", NULL, NULL);
    return reply_json(s, c, status, body);
}

/* POST /tokenize {"content", "add_special"} -> {"tokens"}; /detokenize {"tokens"} -> {"content"}. */
static enum MHD_Result handle_tokens(server *s, struct MHD_Connection *c, conn *k) {
    cJSON *b = k->body ? cJSON_ParseWithLength(k->body, k->len) : NULL;
    const rl_tokenizer *tok = rl_session_tokenizer(s->g);
    if (!cJSON_IsObject(b)) { cJSON_Delete(b); return reply_error(s, c, 400, "the request body must be a JSON object", NULL, NULL); }
    cJSON *o = cJSON_CreateObject();
    if (k->route == R_TOKENIZE) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "content"), *as = cJSON_GetObjectItemCaseSensitive(b, "add_special");
        if (!cJSON_IsString(t)) { cJSON_Delete(b); cJSON_Delete(o); return reply_error(s, c, 400, "'content' must be a string", "content", NULL); }
        int32_t *ids = NULL;
        int n = 0;
        if (rl_tokenize(tok, t->valuestring, strlen(t->valuestring), as ? cJSON_IsTrue(as) : 0, &ids, &n)) {
            cJSON_Delete(b); cJSON_Delete(o);
            return reply_error(s, c, 400, rl_last_error(), "content", NULL);
        }
        cJSON *a = cJSON_AddArrayToObject(o, "tokens");
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
        rl_release(ids);
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "tokens"), *e;
        int n = cJSON_GetArraySize(t), i = 0, bad = !cJSON_IsArray(t);
        int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
        int vocab = rl_model_vocab(rl_session_model(s->g));
        if (!bad) cJSON_ArrayForEach(e, t) {
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= vocab || e->valuedouble != (int)e->valuedouble) bad = 1;
            else if (ids) ids[i++] = (int32_t)e->valuedouble;
        }
        char *text = NULL;
        size_t tl = 0;
        if (bad || !ids || rl_detokenize(tok, ids, i, 0, &text, &tl)) {
            free(ids); cJSON_Delete(b); cJSON_Delete(o);
            return reply_error(s, c, 400, "'tokens' must be an array of token ids of this model", "tokens", NULL);
        }
        cJSON_AddStringToObject(o, "content", text);
        rl_release(text);
        free(ids);
    }
    cJSON_Delete(b);
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return reply_json(s, c, 200, out);
}

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) { if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0; fclose(f); }
    return rss * sysconf(_SC_PAGESIZE);
}

/* /proc/self/io: bytes read through system calls (page cache or disk) and from the disk. */
static void io_bytes(long long *rchar, long long *disk) {
    *rchar = *disk = 0;
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "rchar: ", 7)) *rchar = atoll(line + 7);
        else if (!strncmp(line, "read_bytes: ", 12)) *disk = atoll(line + 12);
    }
    if (f) fclose(f);
}

static enum MHD_Result handle_metrics(server *s, struct MHD_Connection *c) {
    long long rchar, disk;
    io_bytes(&rchar, &disk);
    char *buf = malloc(8192);
    if (!buf) return reply_error(s, c, 500, "out of memory", NULL, NULL);
    pthread_mutex_lock(&s->lock);
    snprintf(buf, 8192,
             "# HELP rabbitllm_requests_total Generation requests accepted or rejected, by endpoint.\n"
             "# TYPE rabbitllm_requests_total counter\n"
             "rabbitllm_requests_total{endpoint=\"chat\"} %ld\n"
             "rabbitllm_requests_total{endpoint=\"completions\"} %ld\n"
             "# HELP rabbitllm_requests_rejected_total Requests answered 503 because the queue was full.\n"
             "# TYPE rabbitllm_requests_rejected_total counter\nrabbitllm_requests_rejected_total %ld\n"
             "# HELP rabbitllm_requests_cancelled_total Choices cancelled (client gone).\n"
             "# TYPE rabbitllm_requests_cancelled_total counter\nrabbitllm_requests_cancelled_total %ld\n"
             "# HELP rabbitllm_errors_total Choices that ended with an error.\n"
             "# TYPE rabbitllm_errors_total counter\nrabbitllm_errors_total %ld\n"
             "# HELP rabbitllm_prompt_tokens_total Prompt tokens of started choices.\n"
             "# TYPE rabbitllm_prompt_tokens_total counter\nrabbitllm_prompt_tokens_total %ld\n"
             "# HELP rabbitllm_prompt_tokens_reused_total Prompt tokens found in a slot's KV cache.\n"
             "# TYPE rabbitllm_prompt_tokens_reused_total counter\nrabbitllm_prompt_tokens_reused_total %ld\n"
             "# HELP rabbitllm_generated_tokens_total Tokens generated.\n"
             "# TYPE rabbitllm_generated_tokens_total counter\nrabbitllm_generated_tokens_total %ld\n"
             "# HELP rabbitllm_steps_total Batched model steps.\n"
             "# TYPE rabbitllm_steps_total counter\nrabbitllm_steps_total %ld\n"
             "# HELP rabbitllm_busy_seconds_total Seconds spent in model steps.\n"
             "# TYPE rabbitllm_busy_seconds_total counter\nrabbitllm_busy_seconds_total %.3f\n"
             "# HELP rabbitllm_slots Slots (--parallel).\n# TYPE rabbitllm_slots gauge\nrabbitllm_slots %d\n"
             "# HELP rabbitllm_slots_busy Slots generating.\n# TYPE rabbitllm_slots_busy gauge\nrabbitllm_slots_busy %d\n"
             "# HELP rabbitllm_queue_depth Requests waiting for a slot.\n# TYPE rabbitllm_queue_depth gauge\nrabbitllm_queue_depth %d\n"
             "# HELP rabbitllm_queue_capacity Most requests that may wait (--queue).\n# TYPE rabbitllm_queue_capacity gauge\nrabbitllm_queue_capacity %d\n"
             "# HELP rabbitllm_resident_memory_bytes Resident set size.\n# TYPE rabbitllm_resident_memory_bytes gauge\nrabbitllm_resident_memory_bytes %ld\n"
             "# HELP rabbitllm_read_bytes_total Bytes the process read (weights streamed from the page cache or disk, requests); per token: divide by rabbitllm_steps_total or generated tokens.\n"
             "# TYPE rabbitllm_read_bytes_total counter\nrabbitllm_read_bytes_total %lld\n"
             "# HELP rabbitllm_disk_read_bytes_total Bytes read from the disk itself (/proc/self/io read_bytes).\n"
             "# TYPE rabbitllm_disk_read_bytes_total counter\nrabbitllm_disk_read_bytes_total %lld\n"
             "# HELP rabbitllm_draft_steps_total Speculative steps (--draft-model): token trees verified in one sweep.\n"
             "# TYPE rabbitllm_draft_steps_total counter\nrabbitllm_draft_steps_total %ld\n"
             "# HELP rabbitllm_draft_nodes_total Draft tokens proposed (tree nodes past the roots).\n"
             "# TYPE rabbitllm_draft_nodes_total counter\nrabbitllm_draft_nodes_total %ld\n"
             "# HELP rabbitllm_draft_accepted_total Draft tokens accepted (on the paths the sampling took).\n"
             "# TYPE rabbitllm_draft_accepted_total counter\nrabbitllm_draft_accepted_total %ld\n",
             s->n_req[R_CHAT], s->n_req[R_COMPLETIONS], s->n_rejected, s->n_cancelled, s->n_errors, s->st.prompt_tokens,
             s->st.reused_tokens, s->st.gen_tokens, s->st.steps, s->st.busy_s, s->parallel, s->busy, s->queued, s->queue_cap,
             rss_bytes(), rchar, disk, s->st.draft_steps, s->st.draft_nodes, s->st.draft_accepted);
    pthread_mutex_unlock(&s->lock);
    return reply_raw(s, c, 200, buf, "text/plain; version=0.0.4", NULL, NULL);
}

/* Route of (method, url): R_*, or -404 / -405. */
static int route(const server *s, const char *method, const char *url) {
    int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    int post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!strcmp(method, MHD_HTTP_METHOD_OPTIONS) && s->so->cors) return R_OPTIONS;
    if (!strcmp(url, "/")) return get ? R_PAGE : -405;
    if (!strcmp(url, "/health")) return get ? R_HEALTH : -405;
    if (!strcmp(url, "/metrics")) return get ? R_METRICS : -405;
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) return get ? R_MODELS : -405;
    if (!strncmp(url, "/v1/models/", 11) && !strcmp(url + 11, s->so->model_name)) return get ? R_MODEL : -405;
    if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions")) return post ? R_CHAT : -405;
    if (!strcmp(url, "/v1/completions") || !strcmp(url, "/completions")) return post ? R_COMPLETIONS : -405;
    if (!strcmp(url, "/tokenize")) return post ? R_TOKENIZE : -405;
    if (!strcmp(url, "/detokenize")) return post ? R_DETOKENIZE : -405;
    return -404;
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static int authorized(server *s, struct MHD_Connection *c) {
    const char *key = s->so->api_key;
    if (!key || !*key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t kl = strlen(key), hl = strlen(h);
    unsigned diff = (unsigned)(kl ^ hl);
    for (size_t i = 0; i < hl; i++) diff |= (unsigned char)h[i] ^ (unsigned char)key[i % (kl ? kl : 1)];
    return diff == 0;
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
        if (r == R_OPTIONS) {            /* CORS preflight */
            struct MHD_Response *rr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!rr) return MHD_NO;
            add_common_headers(s, rr);
            MHD_add_response_header(rr, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(rr, "Access-Control-Allow-Headers", "Authorization, Content-Type");
            MHD_add_response_header(rr, "Access-Control-Max-Age", "86400");
            enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, rr);
            MHD_destroy_response(rr);
            return ret;
        }
        if (r == -404) {
            snprintf(msg, sizeof msg, "unknown request URL: %.20s %.500s", method, url);
            return reply_error(s, c, MHD_HTTP_NOT_FOUND, msg, NULL, "unknown_url");
        }
        if (r == -405) {
            snprintf(msg, sizeof msg, "method %.20s is not allowed on %.500s", method, url);
            int gen = strstr(url, "completions") || strstr(url, "tokenize");
            return reply_error_h(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, msg, NULL, "method_not_allowed", MHD_HTTP_HEADER_ALLOW, gen ? "POST" : "GET");
        }
        if (r == R_PAGE) return reply_raw(s, c, 200, strdup(rl_server_page_html), "text/html; charset=utf-8", NULL, NULL);
        if (r == R_HEALTH) {
            char *b = malloc(160);
            pthread_mutex_lock(&s->lock);
            if (b) snprintf(b, 160, "{\"status\":\"ok\",\"slots_idle\":%d,\"slots_processing\":%d,\"queue\":%d}", s->parallel - s->busy, s->busy, s->queued);
            pthread_mutex_unlock(&s->lock);
            return reply_json(s, c, 200, b);
        }
        if (!authorized(s, c)) return reply_error(s, c, 401, "invalid or missing API key (Authorization: Bearer KEY)", NULL, "invalid_api_key");
        if (r == R_METRICS) return handle_metrics(s, c);
        if (r == R_MODELS || r == R_MODEL)
            return reply_json(s, c, 200, rl_oai_models_json_ex(s->so->model_name, s->started, r == R_MODEL, s->ctx, s->family[0] ? s->family : NULL));
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->so->max_body) {
            snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->so->max_body);
            return reply_error(s, c, 413, msg, NULL, "request_too_large");
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
        return reply_error(s, c, 413, msg, NULL, "request_too_large");
    }
    if (k->route == R_TOKENIZE || k->route == R_DETOKENIZE) return handle_tokens(s, c, k);
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

/* The whole of file path (NUL-terminated, malloc'd), or NULL (errno set). */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, k;
    char chunk[65536];
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); errno = ENOMEM; return NULL; }
            buf = nb;
        }
        memcpy(buf + len, chunk, k);
        len += k;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); errno = EIO; return NULL; }
    if (!buf && !(buf = malloc(1))) return NULL;
    buf[len] = 0;
    return buf;
}

/* The server's own chat template (see rl_server_opts.chat_template); 0, or -1 with a message. */
static int setup_template(server *s) {
    const char *want = s->so->chat_template, *src = NULL;
    char *file = NULL;
    if (!want && rl_session_template(s->g)) return 0;
    if (!want) {
        fprintf(stderr, "warning: %s has no chat template; chat requests use ChatML (--chat-template NAME|FILE chooses one)\n",
                s->so->model_dir ? s->so->model_dir : "the model");
        src = rl_chat_template_builtin("chatml");
    } else if (!(src = rl_chat_template_builtin(want))) {
        if (!(file = read_text(want))) {
            int e = errno;
            fprintf(stderr, "error: --chat-template %s: not a built-in name (", want);
            for (int i = 0; rl_chat_template_builtin_name(i); i++) fprintf(stderr, "%s%s", i ? ", " : "", rl_chat_template_builtin_name(i));
            fprintf(stderr, ") and not a readable file: %s\n", strerror(e));
            return -1;
        }
        src = file;
    }
    s->tmpl = rl_chat_template_from_source(src, s->so->model_dir);   /* the model's special tokens */
    free(file);
    if (!s->tmpl) { fprintf(stderr, "error: --chat-template %s: %s\n", want ? want : "chatml", rl_last_error()); return -1; }
    return 0;
}

/* The tool-call convention of the chat template: rendered probes (the tool instructions, an
 * assistant turn with a call) searched for the markers (toolforce.h). */
static void probe_tool_style(server *s) {
    const rl_chat_template *t = s->tmpl ? s->tmpl : rl_session_template(s->g);
    static const char TOOLS[] = "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"probe\", \"description\": \"a probe\", "
                                "\"parameters\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}}]}";
    static const char *const MSGS[] = {
        "[{\"role\": \"user\", \"content\": \"hi\"}]",
        "[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", "
        "\"type\": \"function\", \"function\": {\"name\": \"probe\", \"arguments\": {\"a\": 1}}}]}, "
        "{\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"1\"}]"};
    s->tool_style = RL_TOOLS_JSON;
    for (int i = 0; t && i < 2 && s->tool_style == RL_TOOLS_JSON; i++) {
        char *out = NULL;
        if (!rl_chat_template_apply(t, MSGS[i], 1, TOOLS, &out)) s->tool_style = rl_tools_style_of(out);
        rl_release(out);                 /* a template that refuses a probe: the next one, else json */
    }
}

/* config.json's model_type, for /v1/models. */
static void read_family(server *s) {
    if (s->so->family) { snprintf(s->family, sizeof s->family, "%s", s->so->family); return; }
    if (!s->so->model_dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", s->so->model_dir);
    char *txt = read_text(path);
    cJSON *cfg = txt ? cJSON_Parse(txt) : NULL;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (cJSON_IsString(mt)) snprintf(s->family, sizeof s->family, "%s", mt->valuestring);
    cJSON_Delete(cfg);
    free(txt);
}

int rl_server_run(rl_session *g, const rl_server_opts *so, const sigset_t *stop) {
    server s = {.g = g, .so = so, .started = (long)time(NULL)};
    s.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&s;
    s.parallel = so->parallel > 0 ? so->parallel : 1;
    s.queue_cap = so->queue > 0 ? so->queue : 64;
    s.keepalive_s = so->keepalive_s > 0 ? so->keepalive_s : 15;
    s.ctx = rl_model_ctx(rl_session_model(g));
    if (so->draft > 0) fprintf(stderr, "note: --draft (prompt lookup) is not used by serve (--draft-model is)\n");
    read_family(&s);
    const char *dl = getenv("RABBITLLM_TEST_STEP_DELAY_MS");
    if (dl && atol(dl) > 0) s.step_delay_us = atol(dl) * 1000;
    if (setup_template(&s)) return -1;
    probe_tool_style(&s);
    if (!(s.sched = rl_sched_new(g, s.parallel, so->batch_tokens))) {
        fprintf(stderr, "error: %s\n", rl_sched_last_error());
        rl_chat_template_close(s.tmpl);
        return -1;
    }
    rl_drafter *drafter = NULL;          /* --draft-model: speculative steps, or a start-up error */
    if (rl_session_draft_model(g)) {
        drafter = rl_drafter_new(rl_session_model(g), rl_session_draft_model(g), so->draft_tokens, so->draft_fixed);
        if (!drafter || rl_sched_set_draft(s.sched, drafter)) {
            fprintf(stderr, "error: %s\n", drafter ? rl_sched_last_error() : rl_last_error());
            rl_drafter_free(drafter);
            rl_sched_free(s.sched);
            rl_chat_template_close(s.tmpl);
            return -1;
        }
    }
    char port[16];
    snprintf(port, sizeof port, "%d", so->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    int gr = getaddrinfo(so->host, port, &hints, &ai);
    if (gr) {
        fprintf(stderr, "error: cannot resolve host '%s': %s\n", so->host, gai_strerror(gr));
        rl_sched_free(s.sched);
        rl_drafter_free(drafter);
        rl_chat_template_close(s.tmpl);
        return -2;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    pthread_mutex_init(&s.lock, NULL);
    pthread_mutex_init(&s.vt_lock, NULL);
    pthread_cond_init(&s.wake, NULL);
    pthread_cond_init(&s.idle, NULL);
    pthread_t wt;
    int rc = 0;
    if (pthread_create(&wt, NULL, worker, &s)) {
        freeaddrinfo(ai);
        fprintf(stderr, "error: cannot start the worker thread\n");
        rc = -1;
        goto out;
    }
    errno = 0;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)so->port, NULL, NULL, on_request, &s,
                                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(so->timeout_s > 0 ? so->timeout_s : 120),
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(so->max_connections > 0 ? so->max_connections : 256),
                                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                                            MHD_OPTION_END);
    int err = errno;
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "error: cannot listen on %s:%d%s%s\n", so->host, so->port, err ? ": " : "", err ? strerror(err) : "");
        rc = -2;
    } else {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        int bound = info ? info->port : so->port;
        int v6 = strchr(so->host, ':') != NULL;
        char dnote[600] = "";
        if (drafter)
            snprintf(dnote, sizeof dnote, ", draft model %s (token trees of up to %d nodes%s)", so->draft_model ? so->draft_model : "",
                     so->draft_tokens > 0 ? so->draft_tokens : 64, so->draft_fixed ? ", fixed" : ", sized by the cost model");
        fprintf(stderr, "serving %s as '%s' (%d slot%s%s, context %d, tool calls: %s%s), listening on http://%s%s%s:%d (chat page at /, OpenAI API under /v1; Ctrl-C stops)\n",
                so->model_dir, so->model_name, s.parallel, s.parallel == 1 ? "" : "s", so->parallel_why ? so->parallel_why : "", s.ctx,
                rl_tools_style_name(s.tool_style), dnote, v6 ? "[" : "", so->host, v6 ? "]" : "", bound);
        int sig = 0;
        while (sigwait(stop, &sig)) {}
        fprintf(stderr, "serve: signal %d, shutting down\n", sig);
    }
    pthread_mutex_lock(&s.lock);
    s.shutdown = 1;
    for (job *j = s.head; j; j = j->next) j->stop = 1;
    pthread_cond_broadcast(&s.wake);
    pthread_mutex_unlock(&s.lock);
    /* the worker cancels running answers at its next step: mark every started job */
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
out:
    pthread_cond_destroy(&s.idle);
    pthread_cond_destroy(&s.wake);
    pthread_mutex_destroy(&s.vt_lock);
    pthread_mutex_destroy(&s.lock);
    rl_sched_free(s.sched);
    rl_drafter_free(drafter);
    rl_vocab_text_free(s.vt);
    rl_chat_template_close(s.tmpl);
    return rc;
}
