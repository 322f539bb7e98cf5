/* Falcon-H1 (fam_falcon_h1.c): attention and Mamba-2 side by side in every layer, muP multipliers. */
#ifndef RL_FAM_FALCON_H1_H
#define RL_FAM_FALCON_H1_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_falcon_h1(rl_model_desc *d, const cJSON *cfg, const char *file); /* FalconH1ForCausalLM */

#endif
