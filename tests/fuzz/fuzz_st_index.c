/* Fuzz target: model.safetensors.index.json (weight_map -> shard files) through rl_ckpt_open on a
 * directory holding the fuzzed index and one small valid shard "a.safetensors". */
#include "fuzz.h"
#include "format/checkpoint.h"

static const char shard[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        uint8_t buf[8 + sizeof shard - 1 + 8] = {0};
        uint64_t hl = sizeof shard - 1;
        memcpy(buf, &hl, 8);
        memcpy(buf + 8, shard, hl);
        fz_file("a.safetensors", buf, sizeof buf);
        init = 1;
    }
    const char *p = fz_file("model.safetensors.index.json", data, size);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = 0;
    rl_checkpoint *ck = rl_ckpt_open(dir);
    if (ck) {
        rl_ckpt_find(ck, "w");
        for (int i = 0; i < rl_ckpt_n_tensors(ck); i++) rl_ckpt_tensor(ck, i);
        rl_ckpt_close(ck);
    }
    return 0;
}
