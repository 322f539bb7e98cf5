/* Normalizers of the IBM Granite families (fam_granite.c), registered in families.c. */
#ifndef RL_FAM_GRANITE_H
#define RL_FAM_GRANITE_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_granite(rl_model_desc *d, const cJSON *cfg, const char *file);          /* Granite 3.x dense */
int rl_norm_granitemoe(rl_model_desc *d, const cJSON *cfg, const char *file);       /* Granite 3.x MoE */
int rl_norm_granitemoeshared(rl_model_desc *d, const cJSON *cfg, const char *file); /* + shared MLP */
int rl_norm_granitemoehybrid(rl_model_desc *d, const cJSON *cfg, const char *file); /* Granite 4.0 (attention / Mamba-2 layers) */
int rl_norm_bamba(rl_model_desc *d, const cJSON *cfg, const char *file);            /* IBM Bamba (Mamba-2 + attention) */

#endif
