/* Mixture-of-experts MLP: router (softmax or sigmoid scoring, top-k, renormalisation, group-
 * limited routing with the correction bias, scaling) on the backend, routed experts from the
 * expert cache or streamed from disk (only those the tokens route to, see io/expert_reader.h;
 * where each runs: moe_place.c) and the shared expert. */
#ifndef RL_ENGINE_MOE_H
#define RL_ENGINE_MOE_H
#include "engine/model.h"

/* At plan time (after stages, max_T): resolves every MoE layer's expert tensors (names, shapes,
 * dtypes, byte ranges), allocates the host routing tables and adds the device scratch to the
 * plan. Nothing for models without MoE layers. 0 / -1 + rl_err. */
int rl_moe_plan(rl_model *m);
/* After the arena is placed: starts the expert reader. 0 / -1 + rl_err. */
int rl_moe_open(rl_model *m);
/* Frees what rl_moe_plan / rl_moe_open allocated (safe on a partly opened model). */
void rl_moe_close(rl_model *m);

/* MoE MLP of layer l for T tokens: xn (T, hidden) normed input, out (T, hidden) is overwritten
 * with sum_k w_k expert_k(x) (+ shared expert); both device memory. buf is layer l's stage
 * image (router, bias, shared expert) in backend memory. out must not alias xn. 0 / -1. */
int rl_moe_forward(rl_model *m, int l, const uint8_t *buf, const float *xn, float *out, int T);

/* Expert bytes read for layer l and time waited for them since the last reset (profile). */
uint64_t rl_moe_layer_bytes(const rl_model *m, int l);
double rl_moe_layer_wait_s(const rl_model *m, int l);
/* Total bytes of layer l's experts on disk (0 for dense layers). */
uint64_t rl_moe_layer_total_bytes(const rl_model *m, int l);
void rl_moe_reset_stats(rl_model *m);

/* The expert cache (engine/moe_cache.h), sized once the budgets are decided: `avail` bytes (the
 * device budget's rest for a GPU backend, the RAM budget's rest for the cpu), or
 * rl_model_opts.expert_cache where set; the same number of slots per MoE layer, each layer's
 * slots one arena of the backend's memory (outside the plan's arena: rl_moe_cache_outside).
 * Adds its plan entry and the placement line. An explicit cache larger than `room` (what the
 * budgets leave at most) does not fit: plan_fits cleared, -1 + rl_err naming the sizes. A GPU
 * backend also gets a RAM tier of ram_avail bytes (what the memory budget leaves; 0: none), the
 * CPU's experts and the device cache's fills taken from RAM instead of disk. */
int rl_moe_plan_cache(rl_model *m, rl_plan *p, size_t avail, size_t room, size_t ram_avail);
size_t rl_moe_cache_outside(const rl_model *m);
/* Bytes of one cache slot in every MoE layer this process runs: --expert-cache k x this holds k
 * experts per layer (0 for a dense model). */
size_t rl_moe_slot_bytes(const rl_model *m);
/* Where the routed experts live and run, one line ("" for a dense model). */
const char *rl_moe_placement(const rl_model *m);
/* Counters since open: expert uses served by the cache, experts taken into it, experts run on
 * the CPU (GPU backends), experts uploaded for one sweep, expert uses served by a GPU backend's
 * RAM tier. Any pointer may be NULL. */
void rl_moe_place_stats(const rl_model *m, uint64_t *hits, uint64_t *admits, uint64_t *cpu, uint64_t *dev, uint64_t *ram);

#endif
