/* Mamba mixer settings shared by the families that have Mamba layers (Granite 4.0-H, Nemotron-H,
 * Mamba2ForCausalLM; Mamba / FalconMamba): the Mamba-2 dims into the description's lin_* fields,
 * the time_step_limit key, the layout of a model of Mamba layers only. */
#ifndef RL_MAMBA2_CONFIG_H
#define RL_MAMBA2_CONFIG_H
#include "model/desc.h"
#include <cjson/cJSON.h>

/* The mixer's dims: heads x head_dim channels, B / C in `groups` groups of `state`, a depthwise
 * conv of `conv` (with a bias when conv_bias), its gated RMSNorm over norm_groups groups of
 * channels (0: none, y * SiLU(z) alone); dt clamped to time_step_limit (key "time_step_limit", or alt_key when absent; (0,
 * inf) when neither). Checks them; 0 / -1 + rl_err naming file. */
int rl_mamba2_setup(rl_model_desc *d, const cJSON *cfg, const char *file, int heads, int head_dim, int state, int groups, int conv,
                    int conv_bias, int norm_groups, const char *alt_key);

/* A model of Mamba layers only (Mamba2ForCausalLM, Mamba / FalconMamba): every layer a norm of eps
 * and the mixer, no MLP, no rotary embedding; hidden_act must be silu. 0 / -1 + rl_err naming file. */
int rl_mamba_only_layers(rl_model_desc *d, const char *act, double eps, const char *file);

#endif
