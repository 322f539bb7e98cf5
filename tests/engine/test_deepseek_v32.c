/* DeepSeek-V3.2 (DeepseekV32ForCausalLM): the glm_moe_dsa fixture (MLA + the DSA indexer, whose
 * rotary pairs are interleaved there) rewritten as the DeepSeek-V3.2 checkpoint of the same model
 * — whose indexer rotates half-split pairs (transformers' DeepseekV32Indexer) — by permuting the
 * indexer's rotary rows (wq_b per head, wk, k_norm's weight and bias: dims 2i, 2i+1 to i,
 * i + rope/2; every query-key dot product unchanged) and the config's architecture. Must
 * reproduce the glm_moe_dsa golden (llama.cpp's logits) within 1e-3, same greedy ids, on the
 * cpu, cpu-staged and the GPU backends that open here. */
#include "repack.h"

#define SRC "fixtures/glm_moe_dsa"

/* Rows [0, R) of each block of B rows (rb bytes each) from interleaved pairs to halves. */
static void halves(uint8_t *w, int64_t rows, int B, int R, size_t rb) {
    uint8_t *tmp = malloc((size_t)R * rb);
    for (int64_t b0 = 0; tmp && b0 < rows; b0 += B) {
        uint8_t *blk = w + (size_t)b0 * rb;
        for (int i = 0; i < R / 2; i++) {
            memcpy(tmp + (size_t)i * rb, blk + (size_t)(2 * i) * rb, rb);
            memcpy(tmp + (size_t)(i + R / 2) * rb, blk + (size_t)(2 * i + 1) * rb, rb);
        }
        memcpy(blk, tmp, (size_t)R * rb);
    }
    free(tmp);
}

static int repack(const char *src, const char *dir, const void *arg) {
    (void)arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    int R = cJSON_GetObjectItem(cfg, "qk_rope_head_dim")->valueint, D = cJSON_GetObjectItem(cfg, "index_head_dim")->valueint;
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"DeepseekV32ForCausalLM"}, 1));
    cJSON_ReplaceItemInObject(cfg, "model_type", cJSON_CreateString("deepseek_v32"));
    cJSON_DeleteItemFromObject(cfg, "indexer_rope_interleave");
    cJSON_DeleteItemFromObject(cfg, "indexer_types");
    int n = rl_ckpt_n_tensors(ck), rc = 0;
    repack_t *o = calloc((size_t)n + 1, sizeof *o);
    for (int i = 0; o && i < n && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        rc = repack_copy(ck, t, &o[i]);
        const char *idx = strstr(t->name, ".indexer.");
        if (rc || !idx) continue;
        size_t rb = t->ndim == 2 ? (size_t)t->shape[1] * RL_DTYPES[t->dtype].size : RL_DTYPES[t->dtype].size;
        if (strstr(idx, ".wq_b.") || strstr(idx, ".wk.") || strstr(idx, ".k_norm.")) /* the rotary dims of each head */
            halves(o[i].data, t->shape[0], D, R, rb);
    }
    return repack_finish(dir, cfg, ck, o, n, rc);
}

static void test_golden(void) {
    char src[512];
    snprintf(src, sizeof src, "%s/" SRC, t_shared());
    repack_and_check(src, "deepseek_v32", repack, NULL);
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
