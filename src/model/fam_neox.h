/* GPT-NeoX / Pythia (fam_neox.c). */
#ifndef RL_FAM_NEOX_H
#define RL_FAM_NEOX_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_gpt_neox(rl_model_desc *d, const cJSON *cfg, const char *file);

#endif
