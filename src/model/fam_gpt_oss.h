/* Normalizer of the gpt-oss family (fam_gpt_oss.c), registered in families.c. */
#ifndef RL_FAM_GPT_OSS_H
#define RL_FAM_GPT_OSS_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_gpt_oss(rl_model_desc *d, const cJSON *cfg, const char *file);

#endif
