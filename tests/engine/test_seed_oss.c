/* Seed-OSS (SeedOssForCausalLM): a Llama decoder whose q/k/v biases follow attention_bias and
 * whose output projection's bias follows attention_out_bias. The qwen2 fixture (q/k/v biases, no
 * output bias) configured as Seed-OSS reproduces the qwen2 golden on the cpu, cpu-staged and the
 * GPU backends that open here, also written as llama.cpp's seed_oss GGUF (the pre-MLP norm as
 * post_attention_norm) and read back; with attention_out_bias true the missing o_proj bias is an
 * error naming the tensor. */
#include "repack.h"

#define SRC "fixtures/qwen2"

/* arg: non-NULL to claim an output bias the checkpoint lacks. */
static int repack(const char *src, const char *dir, const void *arg) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"SeedOssForCausalLM"}, 1));
    cJSON_ReplaceItemInObject(cfg, "model_type", cJSON_CreateString("seed_oss"));
    cJSON_AddTrueToObject(cfg, "attention_bias");
    cJSON_AddBoolToObject(cfg, "attention_out_bias", arg != NULL);
    int n = rl_ckpt_n_tensors(ck), rc = 0;
    repack_t *o = calloc((size_t)n + 1, sizeof *o);
    for (int i = 0; o && i < n && !rc; i++) rc = repack_copy(ck, rl_ckpt_tensor(ck, i), &o[i]);
    return repack_finish(dir, cfg, ck, o, n, rc);
}

static void test_golden(void) {
    char src[512], dir[64] = "/tmp/rl_seed_oss_XXXXXX", cmd[200];
    snprintf(src, sizeof src, "%s/" SRC, t_shared());
    repack_and_check_gguf(src, "seed_oss", repack, NULL, 1); /* and as llama.cpp's seed_oss GGUF */
    CHECK(mkdtemp(dir) != NULL && repack(src, dir, "out bias") == 0, "repack: %s", rl_last_error());
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m == NULL && strstr(rl_last_error(), "o_proj.bias"), "attention_out_bias without the tensor: %s", rl_last_error());
    rl_model_close(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
