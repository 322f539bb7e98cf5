/* OLMo (OlmoForCausalLM, the first OLMo-1B / 7B in transformers' form): a Llama decoder whose
 * LayerNorms (before attention, before the MLP and the final one) have neither weight nor bias
 * (OlmoLayerNorm, eps 1e-5). No golden exists for it in ../shared: a synthetic checkpoint — which
 * holds no norm tensor at all — is checked against a reference written here from transformers'
 * modeling_olmo.py in double precision (refcheck.h): every prefill and decode row within 1e-3 and
 * the same greedy ids on every backend, in one sweep and in sweeps of 4; without clip_qkv and with
 * one small enough to clamp (OLMo-7B-0424's form); both written as llama.cpp's olmo GGUF (Q/K
 * permuted, attention.clamp_kqv, no norm tensor) and read back. */
#include "refcheck.h"

enum { H = 64, NH = 4, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void ln(double *o, const double *x) {
    double one[H], zero[H] = {0};
    for (int i = 0; i < H; i++) one[i] = 1.0;
    ref_layernorm(o, x, one, zero, H, 1e-5);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    double clip = *(const double *)arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    for (int l = 0; l < L; l++) {
        for (int t = 0; t < n; t++) ln(hn + (size_t)t * H, x + (size_t)t * H);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NH, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, clip};
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], y[H];
            ln(f, x + (size_t)t * H);
            ref_swiglu(y, f, MLP, l, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
    }
    double *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        ln(hn, x + (size_t)t * H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(head); free(emb); free(x); free(hn); free(o);
}

static void test_olmo(void) {
    static const char CFG[] =
        "{\"architectures\":[\"OlmoForCausalLM\"],\"model_type\":\"olmo\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":4,\"vocab_size\":256,\"num_hidden_layers\":3,\"rope_theta\":10000.0,"
        "\"tie_word_embeddings\":false,\"clip_qkv\":%s,\"attention_bias\":false,\"bos_token_id\":0,\"eos_token_id\":1}";
    static const char *const CLIP[2] = {"null", "0.05"};
    for (int i = 0; i < 2; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg, CFG, CLIP[i]);
        double clip = i ? atof(CLIP[i]) : 0;
        int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
        ref_synth_check(cfg, 171, i ? "olmo clip_qkv 0.05" : "olmo", reference, &clip, ids, P, G, V, 4, 1); /* and as llama.cpp's olmo GGUF */
    }
}

static void test_olmo_refused(void) {
    ref_config_refused("{\"architectures\":[\"OlmoForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"clip_qkv\":-1}", "clip_qkv", "clip_qkv below 0");
}

int main(void) {
    RUN(test_olmo);
    RUN(test_olmo_refused);
    TEST_END();
}
