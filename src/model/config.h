/* Reads a model directory's config.json (+ generation_config.json) into the model description. */
#ifndef RL_CONFIG_H
#define RL_CONFIG_H
#include "model/desc.h"

/* Fills *d from MODEL_DIR/config.json (transformers v4 or v5 form, nested text_config) and
 * MODEL_DIR/generation_config.json (optional). 0, or -1 + rl_err naming the file and problem. */
int rl_config_load(const char *model_dir, rl_model_desc *d);

#endif
