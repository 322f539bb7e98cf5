/* Malformed pre-quantized checkpoints get a clear error naming the directory and the tensor:
 * an FP8 scale grid that does not cover its weight, a GPTQ g_idx out of range, packed tensors
 * of the wrong shape or dtype, a missing aux tensor, a bad quantization_config. Each case
 * starts from a valid `synth` checkpoint and edits its header (or one value). */
#include "test.h"
#include "rabbitllm.h"
#include "model/desc.h"
#include "model/synth.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/json.h"
#include <stdint.h>
#include <unistd.h>

static char tmp[] = "/tmp/rl_qbadXXXXXX";
static char cfg[600];

/* Copies model dir src to dst with the safetensors header passed through edit (and the value
 * at element `idx` of tensor `poke` (I32) set to `val` when poke is set). */
static int variant(const char *src, const char *dst, void (*edit)(cJSON *h), const char *poke, int idx, int32_t val) {
    char p[800], q[800];
    size_t len, clen;
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    unsigned char *b = (unsigned char *)rl_read_file(p, &len);
    snprintf(p, sizeof p, "%s/config.json", src);
    char *c = rl_read_file(p, &clen);
    if (!b || !c || len < 8) { free(b); free(c); return -1; }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    cJSON *h = cJSON_ParseWithLength((const char *)b + 8, n);
    if (poke) {
        const cJSON *t = cJSON_GetObjectItem(h, poke);
        size_t off = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble;
        memcpy(b + 8 + n + off + 4 * (size_t)idx, &val, 4);
    }
    if (edit) edit(h);
    char *hs = cJSON_PrintUnformatted(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    mkdir(dst, 0755);
    snprintf(q, sizeof q, "%s/model.safetensors", dst);
    FILE *f = fopen(q, "wb");
    uint64_t nh = hl + pad;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(nh >> (8 * i));
    fwrite(lb, 1, 8, f);
    fwrite(hs, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fwrite(b + 8 + n, 1, len - 8 - n, f);
    fclose(f);
    snprintf(q, sizeof q, "%s/config.json", dst);
    int rc = rl_write_file_atomic(q, c, clen);
    cJSON_free(hs); cJSON_Delete(h); free(b); free(c);
    return rc;
}

static void set_shape(cJSON *h, const char *name, int64_t a, int64_t b) {
    cJSON *t = cJSON_GetObjectItem(h, name);
    double v[2] = {(double)a, (double)b};
    cJSON_ReplaceItemInObject(t, "shape", cJSON_CreateDoubleArray(v, b ? 2 : 1));
}
static void rename_t(cJSON *h, const char *from, const char *to) {
    cJSON *t = cJSON_DetachItemFromObject(h, from);
    cJSON_AddItemToObject(h, to, t);
}

#define L0 "model.layers.0.self_attn."
static void e_fp8_grid(cJSON *h) { set_shape(h, L0 "q_proj.weight_scale_inv", 1, 4); } /* 4 scales, not [2, 2] */
static void e_fp8_noscale(cJSON *h) { rename_t(h, L0 "q_proj.weight_scale_inv", L0 "q_proj.weight_scale_inx"); }
/* compressed-tensors per-channel scales [out, 1] stored as [1, out] */
static void e_ct_transposed(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, L0 "q_proj.weight_scale");
    int64_t out = (int64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "shape"), 0)->valuedouble;
    set_shape(h, L0 "q_proj.weight_scale", 1, out);
}
static void e_ct_noscale(cJSON *h) { rename_t(h, L0 "k_proj.weight_scale", L0 "k_proj.weight_scalx"); }
static void e_gptq_shape(cJSON *h) { set_shape(h, L0 "o_proj.qweight", 192, 24); } /* transposed */
static void e_gptq_nozeros(cJSON *h) { rename_t(h, L0 "k_proj.qzeros", L0 "k_proj.qzeroz"); }
static void e_gptq_scales_dt(cJSON *h) {
    cJSON *t = cJSON_GetObjectItem(h, L0 "v_proj.scales");
    cJSON_ReplaceItemInObject(t, "dtype", cJSON_CreateString("BF16"));
}

static void expect_fail(const char *dir, const char *w1, const char *w2) {
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m == NULL, "%s: opened a malformed checkpoint", dir);
    rl_model_close(m);
    const char *e = rl_last_error();
    CHECK(strstr(e, dir) && strstr(e, w1) && (!w2 || strstr(e, w2)), "%s: message '%s' lacks '%s' / '%s'", dir, e, w1, w2 ? w2 : "");
}

static void test_malformed(void) {
    char fp8[700], gq[700], d[720];
    snprintf(fp8, sizeof fp8, "%s/fp8", tmp);
    snprintf(gq, sizeof gq, "%s/gptq", tmp);
    rl_synth_opts o = {.dtype = RL_DT_BF16, .seed = 1, .quant = RL_QM_FP8};
    CHECK(rl_synth_write(cfg, fp8, &o) == 0, "synth: %s", rl_errmsg());
    o.quant = RL_QM_GPTQ;
    CHECK(rl_synth_write(cfg, gq, &o) == 0, "synth: %s", rl_errmsg());
    rl_model *m = rl_model_open(gq, NULL);
    CHECK(m != NULL, "the valid one opens: %s", rl_last_error());
    rl_model_close(m);

    snprintf(d, sizeof d, "%s/grid", tmp);
    CHECK(variant(fp8, d, e_fp8_grid, NULL, 0, 0) == 0, "variant");
    expect_fail(d, L0 "q_proj.weight_scale_inv", "does not cover");
    snprintf(d, sizeof d, "%s/noscale", tmp);
    CHECK(variant(fp8, d, e_fp8_noscale, NULL, 0, 0) == 0, "variant");
    expect_fail(d, "missing tensor " L0 "q_proj.weight_scale_inv", NULL);
    snprintf(d, sizeof d, "%s/gidx", tmp);
    CHECK(variant(gq, d, NULL, L0 "q_proj.g_idx", 77, 2) == 0, "variant"); /* 192 inputs: groups 0, 1 */
    expect_fail(d, L0 "q_proj.g_idx", "g_idx[77] = 2 is out of range");
    snprintf(d, sizeof d, "%s/gidxneg", tmp);
    CHECK(variant(gq, d, NULL, L0 "q_proj.g_idx", 0, -1) == 0, "variant");
    expect_fail(d, L0 "q_proj.g_idx", "out of range");
    snprintf(d, sizeof d, "%s/shape", tmp);
    CHECK(variant(gq, d, e_gptq_shape, NULL, 0, 0) == 0, "variant");
    expect_fail(d, L0 "o_proj.qweight", "expected [24, 192]");
    snprintf(d, sizeof d, "%s/nozeros", tmp);
    CHECK(variant(gq, d, e_gptq_nozeros, NULL, 0, 0) == 0, "variant");
    expect_fail(d, "missing tensor " L0 "k_proj.qzeros", NULL);
    snprintf(d, sizeof d, "%s/scaledt", tmp);
    CHECK(variant(gq, d, e_gptq_scales_dt, NULL, 0, 0) == 0, "variant");
    expect_fail(d, L0 "v_proj.scales", "expected F16");

    /* compressed-tensors FP8: per-channel grid transposed, scale missing */
    char ct[700];
    snprintf(ct, sizeof ct, "%s/ct", tmp);
    o.quant = RL_QM_CT_FP8_CHANNEL;
    CHECK(rl_synth_write(cfg, ct, &o) == 0, "synth: %s", rl_errmsg());
    m = rl_model_open(ct, NULL);
    CHECK(m != NULL, "the valid compressed-tensors one opens: %s", rl_last_error());
    rl_model_close(m);
    snprintf(d, sizeof d, "%s/cttr", tmp);
    CHECK(variant(ct, d, e_ct_transposed, NULL, 0, 0) == 0, "variant");
    expect_fail(d, L0 "q_proj.weight_scale", "does not cover");
    snprintf(d, sizeof d, "%s/ctnos", tmp);
    CHECK(variant(ct, d, e_ct_noscale, NULL, 0, 0) == 0, "variant");
    expect_fail(d, "missing tensor " L0 "k_proj.weight_scale", NULL);
}

/* quantization_config blocks that are not supported are refused with the key named. */
static void test_bad_config(void) {
    static const char *blocks[][2] = {
        {"{\"quant_method\": \"gptq\", \"bits\": 3, \"group_size\": 128}", "bits 3"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"checkpoint_format\": \"gptq_v2\"}", "gptq_v2"},
        {"{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"version\": \"gemv\"}", "gemv"},
        {"{\"quant_method\": \"fp8\", \"activation_scheme\": \"dynamic\"}", "weight_block_size"},
        {"{\"quant_method\": \"bitsandbytes\", \"load_in_8bit\": true}", "8-bit"},
        {"{\"quant_method\": \"hqq\"}", "hqq"},
        {"{\"quant_method\": \"compressed-tensors\", \"format\": \"pack-quantized\", \"config_groups\": {}}", "pack-quantized"},
        {"{\"quant_method\": \"compressed-tensors\", \"format\": \"float-quantized\"}", "config_groups"},
        {"{\"quant_method\": \"compressed-tensors\", \"format\": \"float-quantized\", \"config_groups\": {\"g\": {\"weights\": "
         "{\"type\": \"int\", \"num_bits\": 4, \"strategy\": \"group\"}}}}", "int 4-bit"},
        {"{\"quant_method\": \"compressed-tensors\", \"format\": \"float-quantized\", \"config_groups\": {\"g\": {\"weights\": "
         "{\"type\": \"float\", \"num_bits\": 8, \"strategy\": \"group\"}}}}", "strategy \"group\""},
    };
    char dir[700], p[760];
    snprintf(dir, sizeof dir, "%s/cfg", tmp);
    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
        snprintf(p, sizeof p, "%s/config.json", dir);
        char txt[1024];
        int n = snprintf(txt, sizeof txt, "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64, "
                         "\"intermediate_size\": 128, \"num_attention_heads\": 4, \"num_hidden_layers\": 1, \"vocab_size\": 32, "
                         "\"quantization_config\": %s}", blocks[i][0]);
        CHECK(rl_write_file_atomic(p, txt, (size_t)n) == 0, "write");
        rl_model *m = rl_model_open(dir, NULL);
        CHECK(m == NULL && strstr(rl_last_error(), "config.json") && strstr(rl_last_error(), blocks[i][1]),
              "config %zu: '%s'", i, rl_last_error());
        rl_model_close(m);
    }
}

int main(void) {
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    /* a Qwen2 shape with partial FP8 blocks and a partial GPTQ group (hidden 192) */
    snprintf(cfg, sizeof cfg, "%s/config.json", tmp);
    const char *c = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"hidden_size\": 192, "
                    "\"intermediate_size\": 328, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"num_hidden_layers\": 2, "
                    "\"vocab_size\": 300, \"tie_word_embeddings\": true, \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 512}";
    if (rl_write_file_atomic(cfg, c, strlen(c))) { fprintf(stderr, "%s\n", rl_errmsg()); return 1; }
    RUN(test_malformed);
    RUN(test_bad_config);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}
