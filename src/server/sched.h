/* Continuous batching for `serve`: N slots, one model sequence each (its own KV region), run
 * together by rl_model_eval_batch. Each step is one call: every decoding slot feeds its last
 * token, and prompts being prefilled take chunks from what is left of the step's token budget,
 * so new prompts enter alongside running answers. Per slot: its own seeded sampler, logit_bias,
 * presence / frequency penalties, an optional token mask (constrained output), logprobs, the
 * streaming detokenizer and stop strings. A free slot keeps its tokens, so a new prompt goes to
 * the slot sharing its longest prefix and only the rest is evaluated. One thread uses it. */
#ifndef RL_SERVER_SCHED_H
#define RL_SERVER_SCHED_H
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <signal.h>
#include <stddef.h>

#define RL_SCHED_MAX_TOP 20

typedef struct {                 /* one generated token's log-probabilities */
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_id[RL_SCHED_MAX_TOP];
    float top_lp[RL_SCHED_MAX_TOP];
} rl_sched_lp;

typedef struct {
    const char *text;            /* new answer text (complete characters, stop strings held back), may be "" */
    size_t len;
    const rl_sched_lp *lp;       /* the tokens generated since the previous event (logprobs requested) */
    int n_lp;
    int done;                    /* last event of the task: finish, counts */
    int finish;                  /* RL_FINISH_* */
    const char *error;           /* done with an error (the step failed), else NULL */
    int n_prompt, n_reused, n_gen;
    double ttft_s;               /* seconds from add to the first token */
    const char *reasoning;       /* done: the reasoning apart from the answer (harmony's analysis channel, <think>), or NULL */
    cJSON *calls;                /* done: harmony tool calls kept apart from the answer (OpenAI tool_calls), or NULL */
    const char *reasoning_delta; /* not done: new reasoning text (complete characters), reasoning_len bytes */
    size_t reasoning_len;
} rl_sched_event;

/* Token filter for constrained output: allowed(user, text so far) fills mask[0..vocab) with 1 for
 * tokens that may come next; accept(user, id) is told the token chosen. Both return 0 / -1. */
typedef struct {
    int (*allowed)(void *user, unsigned char *mask);
    int (*accept)(void *user, int32_t id);
    void *user;
} rl_sched_filter;

typedef struct {
    const int32_t *prompt;       /* copied at add */
    int n_prompt;
    int max_tokens;              /* >= 1 */
    rl_sampling sampling;
    int ignore_eos;
    const char *const *stop;     /* must stay valid until done */
    int n_stop;
    float presence, frequency;   /* OpenAI penalties (0 = off) */
    const int32_t *bias_id;      /* logit_bias: added to those logits (must stay valid) */
    const float *bias;
    int n_bias;
    int logprobs, top_logprobs;  /* logprobs: 1 = report each token's; top_logprobs <= RL_SCHED_MAX_TOP */
    const rl_sched_filter *filter;   /* may be NULL; must stay valid */
    const volatile sig_atomic_t *cancel;   /* nonzero: finish (cancelled) at the next step */
    void (*on_event)(void *user, const rl_sched_event *e);
    void *user;
} rl_sched_task;

typedef struct rl_sched rl_sched;

/* The message of the last failed rl_sched_* call of this thread. */
const char *rl_sched_last_error(void);

/* Slots over the session's model (opened with n_seq >= n_slots); batch_tokens: most tokens per
 * step (0: 256). The session's own sequence-0 tracking is reset. NULL + rl_sched_last_error. */
rl_sched *rl_sched_new(rl_session *g, int n_slots, int batch_tokens);
void rl_sched_free(rl_sched *s);
int rl_sched_n_free(const rl_sched *s);
int rl_sched_n_busy(const rl_sched *s);
/* Starts task t in a free slot (1 <= n_prompt < context). 0, or -1 + rl_sched_last_error (no free slot, OOM). */
int rl_sched_add(rl_sched *s, const rl_sched_task *t);
/* One step over the busy slots; events go out through on_event (each task ends with done).
 * Returns the number of slots still busy. */
int rl_sched_step(rl_sched *s);

/* Ends every busy task now (cancelled), e.g. at shutdown. */
void rl_sched_cancel_all(rl_sched *s);

/* Speculative decoding (serve --draft-model): steps where every busy slot is decoding grow a token
 * tree per slot with drafter d (a sequence per slot) and verify them all in one tree sweep of the
 * model; each slot walks its tree with its own sampling (the same tokens as plain steps). d
 * stays the caller's (free it after s). 0 / -1 + rl_sched_last_error. */
int rl_sched_set_draft(rl_sched *s, rl_drafter *d);

typedef struct {
    long steps, prompt_tokens, reused_tokens, gen_tokens;
    double busy_s;
    long draft_steps, draft_nodes, draft_accepted;   /* speculative steps, tree nodes past the roots, of them accepted */
} rl_sched_stats;
void rl_sched_get_stats(const rl_sched *s, rl_sched_stats *st);

#endif
