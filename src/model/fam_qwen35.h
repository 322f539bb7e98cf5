/* Qwen3.5 hybrid family (Gated DeltaNet + gated full attention): its config normalizer, used
 * by the family table in families.c. */
#ifndef RL_FAM_QWEN35_H
#define RL_FAM_QWEN35_H
#include "model/desc.h"
#include <cjson/cJSON.h>

/* Fills the Qwen3.5 specifics of d (names, layer kinds, linear-attention dims, gated attention)
 * after the generic keys. 0 / -1 + rl_err naming file. */
int rl_norm_qwen35(rl_model_desc *d, const cJSON *cfg, const char *file);

#endif
