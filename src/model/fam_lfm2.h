/* LFM2 and LFM2-MoE (fam_lfm2.c): attention and gated short-conv layers. */
#ifndef RL_FAM_LFM2_H
#define RL_FAM_LFM2_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_lfm2(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_lfm2_moe(rl_model_desc *d, const cJSON *cfg, const char *file);

#endif
