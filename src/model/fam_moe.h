/* Normalizers of the MoE and MLA families (fam_moe.c, fam_deepseek.c), registered in families.c. */
#ifndef RL_FAM_MOE_H
#define RL_FAM_MOE_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_mixtral(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_dots1(rl_model_desc *d, const cJSON *cfg, const char *file); /* Qwen3 attention, DeepSeek-V3 experts */
int rl_norm_minimax_m2(rl_model_desc *d, const cJSON *cfg, const char *file); /* sigmoid + bias routing, q/k norms, partial rope */
int rl_norm_qwen2_moe(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_qwen3_moe(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_qwen3_vl_moe(rl_model_desc *d, const cJSON *cfg, const char *file); /* Qwen3-VL-MoE's text model: transposed experts */
int rl_norm_glm4_moe(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_exaone_moe(rl_model_desc *d, const cJSON *cfg, const char *file);
/* EXAONE's local / global layers (fam_exaone.c): layer_types, or sliding_window_pattern (an
 * integer: every pattern-th layer global; or "LLLG"-style); with a sliding window the global
 * layers have no rotary embedding. last_global: the last layer is global under a pattern. */
int rl_exaone_layers(rl_model_desc *d, const cJSON *cfg, const char *file, int last_global);
int rl_norm_deepseek(rl_model_desc *d, const cJSON *cfg, const char *file);   /* V2, V3 */
int rl_norm_glm_moe_dsa(rl_model_desc *d, const cJSON *cfg, const char *file); /* GLM-5 */
int rl_norm_deepseek_v32(rl_model_desc *d, const cJSON *cfg, const char *file); /* DeepSeek-V3.2: V3 + DSA */
int rl_norm_qwen35_moe(rl_model_desc *d, const cJSON *cfg, const char *file); /* Qwen3.5-MoE: qwen3_5 + MoE */
int rl_norm_qwen3_next(rl_model_desc *d, const cJSON *cfg, const char *file); /* Qwen3-Next: fused projections */
int rl_norm_llama4(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_llama4.c: Llama 4's text model */

#endif
