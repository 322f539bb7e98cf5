/* Qwen3.5 hybrid family (Gated DeltaNet + gated full attention): its config normalizer, used
 * by the family table in families.c. */
#ifndef RL_FAM_QWEN35_H
#define RL_FAM_QWEN35_H
#include "model/desc.h"
#include <cjson/cJSON.h>

/* Fills the Qwen3.5 specifics of d (names, layer kinds, linear-attention dims, gated attention)
 * after the generic keys. 0 / -1 + rl_err naming file. */
int rl_norm_qwen35(rl_model_desc *d, const cJSON *cfg, const char *file);
/* Qwen3-Next's names of the linear-attention projections: in_proj_qkvz and in_proj_ba, fused
 * per key-head group (d->lin_fused), after rl_norm_qwen35. */
void rl_qwen3_next_names(rl_model_desc *d);

#endif
