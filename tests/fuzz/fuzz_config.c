/* Fuzz target: config.json normalisation for every family: the bytes as JSON through
 * rl_config_from_json, and again with "model_type" / "architectures" forced to each family
 * this build knows, so every family's normaliser sees hostile values. */
#include "fuzz.h"
#include "model/config.h"
#include "model/family.h"
#include <cjson/cJSON.h>

static const char *const types[] = {
    "llama", "mistral", "qwen2", "qwen3", "qwen", "gemma", "gemma2", "gemma3", "gemma3_text", "phi", "phi3",
    "glm", "glm4", "chatglm", "internlm2", "baichuan", "mixtral", "qwen2_moe", "qwen3_moe", "glm4_moe",
    "exaone_moe", "deepseek_v2", "deepseek_v3", "glm_moe_dsa", "qwen3_5", "qwen3_5_moe", "qwen3_5_text",
    "gpt_oss", "granite", "granitemoe", "granitemoeshared", "granitemoehybrid", "olmo2", "olmo3", "exaone4", "qwen3_vl_moe",
    "seed_oss", "qwen3_next", "deepseek_v32", "cohere", "cohere2", "smollm3"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    cJSON *root = cJSON_ParseWithLength((const char *)data + 1, size - 1);
    if (!root || !cJSON_IsObject(root)) { cJSON_Delete(root); return 0; }
    static rl_model_desc d;
    memset(&d, 0, sizeof d);
    rl_config_from_json(&d, root, "config.json");
    /* the first byte picks a family to force */
    const char *t = types[data[0] % (sizeof types / sizeof *types)];
    cJSON_DeleteItemFromObjectCaseSensitive(root, "model_type");
    cJSON_AddStringToObject(root, "model_type", t);
    memset(&d, 0, sizeof d);
    rl_config_from_json(&d, root, "config.json");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "architectures");
    memset(&d, 0, sizeof d);
    rl_config_from_json(&d, root, "config.json");
    cJSON_Delete(root);
    return 0;
}
