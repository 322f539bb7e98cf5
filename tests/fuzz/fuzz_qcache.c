/* Fuzz target: the quantized-cache header: the bytes as the cache's model.safetensors (its
 * "__metadata__" carries the rabbitllm.quant.* freshness keys) checked by rl_qcache_fresh against a
 * small valid source model. */
#include "fuzz.h"
#include "quant/qcache.h"

static const char shard[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
static const char cfg[] = "{\"model_type\":\"llama\",\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,"
                          "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":16}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char src[512], cache[512];
    if (!src[0]) {
        snprintf(src, sizeof src, "%s/src", fz_dir());
        snprintf(cache, sizeof cache, "%s/cache", fz_dir());
        mkdir(src, 0700);
        mkdir(cache, 0700);
        uint8_t buf[8 + sizeof shard - 1 + 8] = {0};
        uint64_t hl = sizeof shard - 1;
        memcpy(buf, &hl, 8);
        memcpy(buf + 8, shard, hl);
        fz_file("src/model.safetensors", buf, sizeof buf);
        fz_file("src/config.json", cfg, sizeof cfg - 1);
        fz_file("cache/config.json", cfg, sizeof cfg - 1);
    }
    fz_file("cache/model.safetensors", data, size);
    rl_qcache_fresh(src, 8, cache);
    rl_qcache_fresh(src, 4, cache);
    return 0;
}
