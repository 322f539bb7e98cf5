/* Layer weight roles of a described model: whether each is needed and its expected shape.
 * Shared by the stage builder (checks a checkpoint) and the synthetic writer (creates one). */
#ifndef RL_WEIGHTS_H
#define RL_WEIGHTS_H
#include "model/desc.h"
#include <stdint.h>

/* Expected shape of role r: (rows, cols) for a matrix, cols 0 for a vector of rows; rows 0 = unchecked. */
void rl_role_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols);
/* 1 if a layer of this model has role r. */
int rl_role_needed(const rl_model_desc *d, int r);
/* 1 if layer l has role r (rl_role_needed refined by the layer's kind: linear-attention layers). */
int rl_role_needed_layer(const rl_model_desc *d, int l, int r);
/* Channels of a linear-attention layer's causal conv: q, k, v (Gated DeltaNet), x, B, C (Mamba-2) or
 * x (Mamba-1). */
int rl_lin_conv_dim(const rl_model_desc *d);

#endif
