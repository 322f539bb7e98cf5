/* The memory budget decision: how many bytes of weights may stay resident, given what the
 * process may really use (util/memlimit.h) and what the run needs besides (streaming slots,
 * KV cache, activations, a margin). One function from sizes to a decision, callable by the
 * engine's memory plan and by `info` alike; nothing is allocated or read here. */
#ifndef RL_BUDGET_H
#define RL_BUDGET_H
#include "io/stage.h"
#include "util/memlimit.h"
#include <stddef.h>
#include <stdint.h>

/* request value meaning "decide from the limit" (same value as RL_MEM_BUDGET_AUTO) */
#define RL_BUDGET_AUTO ((size_t)-1)

typedef struct {
    size_t request;     /* RL_BUDGET_AUTO, or bytes of weights to keep resident (0 = stream all) */
    uint64_t weights;   /* bytes of all stages (layers + head chunks) */
    uint64_t largest;   /* bytes of the largest stage: a streaming slot (two of them) */
    uint64_t kv;        /* KV cache + recurrent state at the full context */
    uint64_t act;       /* activations and scratch */
    uint64_t other;     /* anything else the caller will allocate (0 if none) */
} rl_budget_in;

typedef struct {
    rl_memlimit lim;    /* what the probe found (limit, where from, usage, RSS at the decision) */
    int is_auto;        /* 1: request was RL_BUDGET_AUTO */
    uint64_t margin;    /* kept free: 1/16 of what may be used, at least 64 MiB, at most 1 GiB */
    uint64_t need;      /* slots + KV + activations + other (what any plan needs besides weights) */
    uint64_t resident;  /* the decision: bytes of weights to keep resident (the loader's budget) */
    int all_resident;   /* 1: resident >= weights (no streaming slots needed) */
    int cache_streamed; /* 1: streamed stages may stay in the page cache (they fit beside the
                           rest); 0: their pages are dropped after each read */
} rl_budget;

/* Decides the resident bytes from the sizes in *in and the probed limit (lim: a probe to use,
 * or NULL to probe now). auto: resident = what may be used - margin - need (all weights when
 * they fit, none when nothing is left). An explicit request is kept (capped at the weights).
 * Returns 0, or -1 with rl_err naming the sizes when the plan cannot fit: need (+ the explicit
 * request) above what the process may use. *out is filled either way. */
int rl_budget_decide(const rl_budget_in *in, const rl_memlimit *lim, rl_budget *out);

/* Fills in->weights, largest, kv and act for a model: stages st[0..n), a context of ctx
 * tokens for n_seq sequences, sweeps of up to max_T rows, n_threads compute threads (an
 * estimate of the engine's arenas: KV cache and recurrent state in f32, the activation rows,
 * attention scratch, logits). request and other are left as they are. */
void rl_budget_sizes(const rl_model_desc *d, const rl_stage *st, int n, int ctx, int n_seq, int max_T, int n_threads,
                     rl_budget_in *in);

/* One line saying what was decided and why, e.g. "limit 2.15 GB from cgroup v1 memory.limit_in_bytes
 * (/rl-test); ... resident 1.20 GB of 6.17 GB". */
void rl_budget_describe(const rl_budget *b, uint64_t weights, char *out, size_t cap);

#endif
