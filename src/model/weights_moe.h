/* Layer weight roles of MoE layers (router, shared expert, routed experts) and of MLA / DSA
 * attention: which a layer needs and their shapes (hooks of weights.c). */
#ifndef RL_WEIGHTS_MOE_H
#define RL_WEIGHTS_MOE_H
#include "model/desc.h"
#include <stddef.h>
#include <stdint.h>

/* 1 / 0 when layer l's need of role r depends on MoE or MLA, -1 when it does not. */
int rl_moe_role_needed(const rl_model_desc *d, int l, int r);
/* Overrides (rows, cols) for the MoE / MLA roles and for W_O under MLA; leaves others alone. */
void rl_moe_role_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols);

/* Expert tensor k (0 gate, 1 up, 2 down) of expert e in layer l: name and expected 2-D shape.
 * Fused experts: the whole 3-D tensor's name (k 0 = gate_up, 2 = down; k 1 gives "") and the
 * shape of one expert's slice. Returns 0, or -1 if the name does not fit. */
int rl_moe_expert_name(const rl_model_desc *d, int l, int e, int k, char *name, size_t cap,
                       int64_t *rows, int64_t *cols);

#endif
