/* ERNIE 4.5 and ERNIE 4.5 MoE (fam_ernie.c). */
#ifndef RL_FAM_ERNIE_H
#define RL_FAM_ERNIE_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_ernie4_5(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_ernie4_5_moe(rl_model_desc *d, const cJSON *cfg, const char *file);

#endif
