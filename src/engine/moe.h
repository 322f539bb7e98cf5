/* Mixture-of-experts MLP: router (softmax or sigmoid scoring, top-k, renormalisation, group-
 * limited routing with the correction bias, scaling) on the backend, routed experts streamed
 * from disk (only those the tokens route to, see io/expert_reader.h) and the shared expert. */
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

#endif
