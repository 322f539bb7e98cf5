/* StarCoder2 (Starcoder2ForCausalLM): LayerNorms with biases, q / k / v / o with biases, a plain
 * c_fc -> GELU (tanh) -> c_proj MLP with biases, NeoX rotary embeddings, GQA, a sliding window on
 * every layer. No golden exists for it in ../shared: synthetic checkpoints are checked against a
 * reference written here from transformers' modeling_starcoder2.py in double precision
 * (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids on every backend,
 * in one sweep and in sweeps of 4 — a window of 4 under the 15 positions, and none, the latter also
 * written as llama.cpp's starcoder2 GGUF (which has no window) and read back. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 128 };

typedef struct { int window; } sc2_case;

static void layernorm(double *o, const double *x, const double *w, const double *b) { ref_layernorm(o, x, w, b, H, 1e-5); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const sc2_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H), *b1 = ref_tensor("model.layers.%d.input_layernorm.bias", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        double *b2 = ref_tensor("model.layers.%d.post_attention_layernorm.bias", l, H);
        double *wu = ref_tensor("model.layers.%d.mlp.c_fc.weight", l, (size_t)FF * H), *bu = ref_tensor("model.layers.%d.mlp.c_fc.bias", l, FF);
        double *wd = ref_tensor("model.layers.%d.mlp.c_proj.weight", l, (size_t)H * FF), *bd = ref_tensor("model.layers.%d.mlp.c_proj.bias", l, H);
        for (int t = 0; t < n; t++) layernorm(hn + (size_t)t * H, x + (size_t)t * H, n1, b1);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 100000.0, 1.0 / sqrt((double)HD), 0, c->window,
                       NULL, NULL, 0, 0, NULL, 1, 0}; /* with biases */
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], u[FF], y[H];
            layernorm(f, x + (size_t)t * H, n2, b2);
            ref_linear(u, wu, bu, f, FF, H);
            for (int i = 0; i < FF; i++) u[i] = 0.5 * u[i] * (1 + tanh(sqrt(2 / M_PI) * (u[i] + 0.044715 * u[i] * u[i] * u[i])));
            ref_linear(y, wd, bd, u, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        free(n1); free(b1); free(n2); free(b2); free(wu); free(bu); free(wd); free(bd);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *fb = ref_tensor("model.norm.bias", 0, H);
    for (int t = 0; t < n; t++) {
        layernorm(hn, x + (size_t)t * H, fn, fb);
        ref_linear(lg + (size_t)t * V, emb, NULL, hn, V, H); /* tied */
    }
    free(fn); free(fb); free(emb); free(x); free(hn); free(o);
}

static void test_starcoder2(void) {
    static const char CFG[] =
        "{\"architectures\":[\"Starcoder2ForCausalLM\"],\"model_type\":\"starcoder2\",\"hidden_size\":64,\"intermediate_size\":128,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":3,\"norm_epsilon\":1e-5,"
        "\"rope_theta\":100000.0,\"use_bias\":true,\"hidden_act\":\"gelu_pytorch_tanh\",\"tie_word_embeddings\":true,"
        "\"sliding_window\":%d,\"bos_token_id\":0,\"eos_token_id\":0}";
    static const int WIN[2] = {4, 0};
    for (int i = 0; i < 2; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg, CFG, WIN[i]);
        sc2_case c = {WIN[i]};
        int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
        ref_synth_check(cfg, 131 + (uint64_t)i, WIN[i] ? "starcoder2 window 4" : "starcoder2", reference, &c, ids, P, G, V, 4, i); /* and as GGUF */
    }
}

int main(void) {
    RUN(test_starcoder2);
    TEST_END();
}
