/* Normalizers of NVIDIA's Nemotron-H family and of Mamba-2 language models (fam_nemotron_h.c),
 * registered in families.c. */
#ifndef RL_FAM_NEMOTRON_H_H
#define RL_FAM_NEMOTRON_H_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_nemotron_h(rl_model_desc *d, const cJSON *cfg, const char *file); /* Mamba-2 / attention / MLP layers */
int rl_norm_mamba2(rl_model_desc *d, const cJSON *cfg, const char *file);     /* Mamba2ForCausalLM: Mamba-2 layers only */

#endif
