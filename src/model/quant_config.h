/* quantization_config of a pre-quantized HF checkpoint (config.json, or quantize_config.json
 * beside it for GPTQ) -> rl_quant_desc. */
#ifndef RL_QUANT_CONFIG_H
#define RL_QUANT_CONFIG_H
#include "model/desc.h"
#include "util/json.h"

/* Fills q from root's "quantization_config" (or model_dir/quantize_config.json when config.json
 * has none). No block: q->method = RL_QM_NONE. 0, or -1 + rl_err naming the file and key. */
int rl_quant_config_load(const char *model_dir, const cJSON *root, const char *file, rl_quant_desc *q);

#endif
