/* The scheduler's insides shared by sched.c (slots, plain steps, sampling) and sched_draft.c
 * (speculative steps with a draft model): the slot and scheduler structs and the per-token
 * helpers both use. Internal to the server. */
#ifndef RL_SERVER_SCHED_INT_H
#define RL_SERVER_SCHED_INT_H
#include "server/sched.h"

typedef struct {
    int busy;
    rl_sched_task t;
    int32_t *toks;               /* the tokens in this sequence's cache, then the prompt's rest */
    int n_toks, cap;
    int n_cached;                /* of toks, in the KV cache */
    int n_prompt_end;            /* toks[0..n_prompt_end) is the prompt */
    int n_reused, n_gen;
    int32_t next;                /* sampled, not yet fed (decode phase) */
    int has_next;
    rl_sampler *smp;
    rl_detok_stream *ds;
    size_t complete, emitted, cut;
    size_t reasoned;             /* bytes of the reasoning (rl_detok_stream_reasoning) sent in events */
    int *counts;                 /* per vocab id: times generated (penalties), zeroed after use */
    rl_sched_lp *lp;             /* pending logprob entries */
    int n_lp, lp_cap;
    double t_add, ttft;
} slot;

struct rl_sched {
    rl_session *g;
    rl_model *m;
    const rl_tokenizer *tok;
    int n_slots, budget, vocab, ctx;
    slot *slots;
    const int32_t *stop_ids;
    int n_stop_ids;
    rl_batch_item *items;
    int *item_slot, *item_last;
    float *logits, *row;
    unsigned char *mask;
    rl_sched_stats st;
    rl_drafter *draft;           /* speculative steps (NULL: plain steps only) */
    rl_draft_req *dreq;
    rl_tree_item *trees;
    float *tlog;                 /* the target's tree logits: max_nodes rows */
    int32_t *path;
};

/* Monotonic seconds. */
double rl_sched_now(void);
/* Records the message of a failure for rl_sched_last_error; returns -1. */
int rl_sched_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends t to the slot's tokens. 0 / -1 (out of memory). */
int rl_sched_push_tok(slot *sl, int32_t t);
/* Ends the slot's task (how: RL_FINISH_*, error or NULL); its cached tokens stay for reuse. */
void rl_sched_finish(rl_sched *s, slot *sl, int how, const char *error);
/* Samples slot sl's next token from its logits row (bias, penalties, filter, logprobs, stop
 * ids and strings, max_tokens): 0 with sl->next set, or 1 when the slot finished. */
int rl_sched_sample(rl_sched *s, slot *sl, const float *logits);
/* A speculative step over the decoding slots (no prompt being prefilled): trees grown by the
 * draft, verified in one tree sweep of the target, walked with rl_sched_sample. */
void rl_sched_draft_step(rl_sched *s, int budget);

#endif
