/* Other instances of the pre-quantized formats than the shipped fixtures: `synth` writes a model
 * in FP8-block, compressed-tensors FP8 (per channel; per tensor with input_scale) and GPTQ-4 form and, from the same seed, a plain F32 copy holding exactly the
 * dequantised weights (the quantizer's own values); the engine's logits on the quantized form
 * must equal those of the F32 copy (every row, 1e-4) with the same argmax. Shapes chosen for
 * partial FP8 blocks in both directions, a partial last GPTQ group, biases beside quantized
 * q/k/v (Qwen2), and MLA + MoE (DeepSeek-V3: quantized routed and shared experts). On the cpu,
 * cpu-staged and, where they open (release build), vulkan and cuda backends. */
#include "test.h"
#include "rabbitllm.h"
#include "engine/golden_cmp.h"
#include "model/desc.h"
#include "model/synth.h"
#include "util/json.h"
#include "util/err.h"
#include <math.h>
#include <unistd.h>

static char tmp[] = "/tmp/rl_qsynthXXXXXX";

/* Writes tmp/<tag>.json: the shared fixture's config with some integer keys replaced. */
static int make_config(const char *fixture, const char *tag, const char *const *keys, const int *vals, int n, char *out, size_t cap) {
    char src[600];
    snprintf(src, sizeof src, "%s/fixtures/%s/config.json", t_shared(), fixture);
    cJSON *c = rl_json_load(src);
    if (!c) return -1;
    for (int i = 0; i < n; i++) cJSON_ReplaceItemInObject(c, keys[i], cJSON_CreateNumber(vals[i]));
    char *txt = cJSON_Print(c);
    cJSON_Delete(c);
    snprintf(out, cap, "%s/%s.json", tmp, tag);
    FILE *f = fopen(out, "w");
    int rc = f && txt && fputs(txt, f) >= 0 ? 0 : -1;
    if (f) fclose(f);
    cJSON_free(txt);
    return rc;
}

static void check_pair(const char *cfg, const char *tag, int quant, uint64_t seed) {
    char qa[700], fb[720];
    snprintf(qa, sizeof qa, "%s/%s_%s", tmp, tag, quant == RL_QM_FP8 ? "fp8" : quant == RL_QM_CT_FP8_CHANNEL ? "fp8ch" : quant == RL_QM_CT_FP8_TENSOR ? "fp8t" : "gptq4");
    snprintf(fb, sizeof fb, "%s_f32", qa);
    rl_synth_opts o = {.dtype = RL_DT_BF16, .seed = seed, .quant = quant};
    CHECK(rl_synth_write(cfg, qa, &o) == 0, "%s: synth: %s", qa, rl_errmsg());
    o.dequant_f32 = 1;
    CHECK(rl_synth_write(cfg, fb, &o) == 0, "%s: synth f32: %s", fb, rl_errmsg());
    static const char *backends[5] = {"cpu", "cpu-staged", NULL, NULL, NULL};
    static int nb = 0;
    if (!nb) nb = gpu_backends(backends, 2); /* once: the GPUs that open */
    for (int b = 0; b < nb; b++) {
        rl_model_opts mo = {.backend = backends[b]};
        rl_model *a = rl_model_open(qa, &mo), *f = rl_model_open(fb, &mo);
        CHECK(a && f, "%s: open: %s", qa, rl_last_error());
        if (!a || !f) { rl_model_close(a); rl_model_close(f); return; }
        int V = rl_model_vocab(a), P = 9;
        int32_t tok[9];
        for (int i = 0; i < P; i++) tok[i] = (int32_t)((i * 131 + 17) % V);
        float *la = malloc(sizeof(float) * (size_t)V * P), *lf = malloc(sizeof(float) * (size_t)V * P);
        CHECK(rl_model_eval(a, tok, P, la, 1) == 0 && rl_model_eval(f, tok, P, lf, 1) == 0, "%s: eval: %s", qa, rl_last_error());
        double worst = 0, mag = 0;
        int argmax_differs = 0;
        for (int r = 0; r < P; r++) {
            int ba = 0, bf = 0;
            for (int i = 0; i < V; i++) {
                size_t k = (size_t)r * V + i;
                worst = fmax(worst, fabs(la[k] - lf[k]));
                mag = fmax(mag, fabs(lf[k]));
                if (la[k] > la[(size_t)r * V + ba]) ba = i;
                if (lf[k] > lf[(size_t)r * V + bf]) bf = i;
            }
            argmax_differs += ba != bf;
        }
        /* decode one step past the prompt too (the cache path) */
        CHECK(rl_model_eval(a, tok, 1, la, 0) == 0 && rl_model_eval(f, tok, 1, lf, 0) == 0, "decode");
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs(la[i] - lf[i]));
        CHECK(worst <= 1e-4 && !argmax_differs && mag > 0.1, "%s [%s]: max abs diff %g vs its dequantised f32 copy (max |logit| %g), %d argmax differ",
              qa, mo.backend, worst, mag, argmax_differs);
        fprintf(stderr, "  %s [%s]: max abs diff %.2g (max |logit| %.2g)\n", qa + strlen(tmp) + 1, mo.backend, worst, mag);
        free(la); free(lf);
        rl_model_close(a); rl_model_close(f);
    }
}

static void test_synth_quant(void) {
    char cfg[700];
    static const char *const qk[] = {"hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "vocab_size"};
    static const int qv[] = {192, 328, 4, 2, 300};
    CHECK(make_config("qwen2", "qwen2_odd", qk, qv, 5, cfg, sizeof cfg) == 0, "config");
    check_pair(cfg, "qwen2_odd", RL_QM_FP8, 3);
    check_pair(cfg, "qwen2_odd", RL_QM_GPTQ, 4);
    check_pair(cfg, "qwen2_odd", RL_QM_CT_FP8_CHANNEL, 7); /* compressed-tensors */
    check_pair(cfg, "qwen2_odd", RL_QM_CT_FP8_TENSOR, 8);
    CHECK(make_config("llama", "llama", NULL, NULL, 0, cfg, sizeof cfg) == 0, "config");
    check_pair(cfg, "llama", RL_QM_FP8, 99);
    check_pair(cfg, "llama", RL_QM_GPTQ, 98);
    CHECK(make_config("deepseek_v3", "deepseek_v3", NULL, NULL, 0, cfg, sizeof cfg) == 0, "config");
    check_pair(cfg, "deepseek_v3", RL_QM_FP8, 5);
    check_pair(cfg, "deepseek_v3", RL_QM_GPTQ, 6);
    check_pair(cfg, "deepseek_v3", RL_QM_CT_FP8_CHANNEL, 9);
}

int main(void) {
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    RUN_SHARED(test_synth_quant);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}
