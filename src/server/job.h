/* One generation request of `serve` as the HTTP thread and the worker share it: the parsed
 * request and prompt, its choices (text, logprobs, finish), the reply (a JSON body, or the SSE
 * bytes not yet sent) and its reference count. Everything mutable is under the server lock. */
#ifndef RL_SERVER_JOB_H
#define RL_SERVER_JOB_H
#include "server/jsonc.h"
#include "server/oai.h"
#include "server/sched.h"
#include <pthread.h>
#include <signal.h>

typedef struct job job;

typedef struct {
    job *j;
    int index;
    char *text;                      /* the answer so far */
    size_t len, cap, sent;           /* sent: bytes of it streamed as content */
    cJSON *lp;                       /* logprobs gathered (non-stream) */
    int finish, done, n_gen, n_reused;
    double ttft_s;
    char *error;
    char *reasoning;                 /* the reasoning beside the answer (harmony's analysis channel, <think>), or NULL */
    cJSON *hcalls;                   /* tool calls kept apart from the answer (gpt-oss's harmony), or NULL */
    rl_jsonc *jc;                    /* response_format constraint */
    rl_sched_filter filt;
} job_choice;

struct job {
    job *next;
    void *srv;                       /* the server (server.c) */
    int refs;                        /* handler / stream response + worker */
    rl_oai_request req;
    char id[48];
    long created;
    int32_t *ids;                    /* the prompt */
    int n_ids, max_tokens;
    uint64_t seed;
    job_choice ch[RL_OAI_MAX_N];
    int n_done, started, done;
    volatile sig_atomic_t stop;      /* client gone or shutdown: cancel */
    int status;                      /* non-stream reply */
    char *body;
    char *out;                       /* stream: SSE bytes not yet sent */
    size_t out_len, out_off, out_cap;
    double t_queued;
    pthread_cond_t cond;
};

#endif
