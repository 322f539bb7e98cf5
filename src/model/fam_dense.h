/* Dense families beyond Llama/Qwen (Gemma 1/2/3, Phi-2, Phi-3, GLM-4/ChatGLM, InternLM2,
 * Baichuan, Qwen v1): their config normalizers and name maps, one fam_<family>.c each, used by
 * the family table in families.c. Each fills the family's part of the description after the
 * generic keys (config.c); 0 / -1 + rl_err naming the config file. */
#ifndef RL_FAM_DENSE_H
#define RL_FAM_DENSE_H
#include "model/desc.h"
#include <cjson/cJSON.h>

int rl_norm_gemma(rl_model_desc *d, const cJSON *cfg, const char *file);   /* fam_gemma.c */
int rl_norm_gemma2(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_gemma3(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_phi(rl_model_desc *d, const cJSON *cfg, const char *file);     /* fam_phi.c */
int rl_norm_phi3(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_glm(rl_model_desc *d, const cJSON *cfg, const char *file);     /* fam_glm.c */
int rl_norm_glm4(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_chatglm(rl_model_desc *d, const cJSON *cfg, const char *file);
/* The config key a family uses for a generic key (ChatGLM: "num_layers" for
 * "num_hidden_layers", ...), or NULL. */
const char *rl_family_key_alias(const char *family, const char *key);
int rl_norm_internlm2(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_internlm.c */
int rl_norm_baichuan(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_baichuan.c */
int rl_norm_qwen1(rl_model_desc *d, const cJSON *cfg, const char *file);   /* fam_qwen1.c */
int rl_norm_olmo(rl_model_desc *d, const cJSON *cfg, const char *file);    /* fam_olmo.c: weightless LayerNorms */
int rl_norm_olmo2(rl_model_desc *d, const cJSON *cfg, const char *file);   /* fam_olmo.c: norms after the sublayers */
int rl_norm_olmo3(rl_model_desc *d, const cJSON *cfg, const char *file);
int rl_norm_starcoder2(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_starcoder2.c */
int rl_norm_hunyuan_dense(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_hunyuan.c */
int rl_norm_olmoe(rl_model_desc *d, const cJSON *cfg, const char *file);   /* + experts in every layer */
int rl_norm_exaone(rl_model_desc *d, const cJSON *cfg, const char *file);  /* fam_exaone.c: EXAONE 3.x */
int rl_norm_exaone4(rl_model_desc *d, const cJSON *cfg, const char *file); /* fam_exaone.c */
int rl_norm_cohere(rl_model_desc *d, const cJSON *cfg, const char *file);  /* fam_cohere.c: Command R */
int rl_norm_cohere2(rl_model_desc *d, const cJSON *cfg, const char *file); /* Command R7B / A */

#endif
