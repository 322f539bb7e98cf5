/* Mamba-1 families (fam_mamba.c): Mamba / FalconMamba (every layer a Mamba mixer) and Jamba
 * (Mamba and attention layers, experts). */
#ifndef RL_FAM_MAMBA_H
#define RL_FAM_MAMBA_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_mamba(rl_model_desc *d, const cJSON *cfg, const char *file); /* MambaForCausalLM, FalconMambaForCausalLM */
int rl_norm_jamba(rl_model_desc *d, const cJSON *cfg, const char *file); /* JambaForCausalLM */

#endif
