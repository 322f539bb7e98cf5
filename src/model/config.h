/* Reads a model directory's config.json (+ generation_config.json) into the model description. */
#ifndef RL_CONFIG_H
#define RL_CONFIG_H
#include "model/desc.h"

/* Fills *d from MODEL_DIR/config.json (transformers v4 or v5 form, nested text_config) and
 * MODEL_DIR/generation_config.json (optional); or, for a .gguf file or a directory holding a GGUF
 * model and no config.json, from the GGUF metadata (gguf_config.h). 0, or -1 + rl_err naming the file and problem. */
int rl_config_load(const char *model_dir, rl_model_desc *d);

/* Fills *d from a parsed config.json object (root); `file` names it in errors. 0 / -1 + rl_err. */
#include <cjson/cJSON.h>
int rl_config_from_json(rl_model_desc *d, const cJSON *root, const char *file);

#endif
