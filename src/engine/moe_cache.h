/* Which routed experts a MoE layer keeps in its expert cache (the bookkeeping only; the bytes
 * live in backend memory, placed by moe.c). Each MoE layer has the same number of slots; every
 * expert has a use score per layer, decayed each sweep of that layer and raised by the rows
 * routed to it ("the most used over recent sweeps"). A missing expert that shows reuse (a score
 * of RL_XC_MIN: used again within a few sweeps, or by several rows of one) takes a free slot, or
 * the slot of the cached expert with the lowest score when its own score is clearly higher and
 * the victim is not used by the sweep being computed; an expert used once is not worth the copy.
 * Pure host logic, no I/O. */
#ifndef RL_ENGINE_MOE_CACHE_H
#define RL_ENGINE_MOE_CACHE_H
#include <stddef.h>
#include <stdint.h>

#define RL_XC_DECAY 0.95f  /* score kept per sweep of the layer */
#define RL_XC_MARGIN 1.25f /* a newcomer must score this many times the victim to evict it */
#define RL_XC_MIN 1.5f     /* and at least this (two uses within ~13 sweeps) to be taken in at all */

typedef struct {
    int n_layers, E, slots;  /* slots per layer (0: no cache) */
    float *score;            /* (n_layers, E) */
    int32_t *slot_of;        /* (n_layers, E) slot of a cached expert, -1 */
    int32_t *expert_in;      /* (n_layers, slots) expert held by a slot, -1 = free */
    uint32_t *used;          /* (n_layers, E) sweep that last used the expert */
    uint32_t sweep;          /* the current sweep's number (rl_xc_touch) */
    uint64_t hits, misses, admits; /* expert uses served from the cache, not, and experts taken in */
} rl_xcache;

/* 0 / -1 (out of memory; rl_err). slots 0 is a valid, empty cache. */
int rl_xc_init(rl_xcache *c, int n_layers, int E, int slots);
void rl_xc_free(rl_xcache *c);
/* A sweep of layer l routes rows[e] rows to expert e (E counts; 0 = unused): decays the layer's
 * scores, adds the rows, marks the used experts as pinned for this sweep. */
void rl_xc_touch(rl_xcache *c, int l, const int *rows);
/* Slot of expert e in layer l, or -1; counts a hit or a miss. */
int rl_xc_lookup(rl_xcache *c, int l, int e);
/* Decides whether missing expert e of layer l goes into the cache: with score(e) >= RL_XC_MIN, a
 * free slot, or the lowest-scoring slot whose expert the current sweep does not use, when
 * score(e) > RL_XC_MARGIN x its score. Returns the slot now assigned to e (the caller fills
 * it), or -1. */
int rl_xc_admit(rl_xcache *c, int l, int e);
/* Experts of layer l in the cache. */
int rl_xc_count(const rl_xcache *c, int l);

#endif
