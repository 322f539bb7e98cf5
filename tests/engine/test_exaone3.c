/* EXAONE 3.0 / 3.5 (ExaoneForCausalLM, LG's remote-code checkpoints): a Llama decoder under GPT-2-like
 * names (transformer.wte, h.%d.ln_1, attn.attention.q / k / v / out_proj, ln_2, mlp.c_fc_0 / c_fc_1 /
 * c_proj, ln_f) with num_layers and layer_norm_epsilon. No golden exists for it in ../shared: a
 * synthetic checkpoint is checked against a reference written here from its modeling_exaone.py in
 * double precision (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids on
 * every backend, in one sweep and in sweeps of 4; written as llama.cpp's exaone GGUF and read back. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void rms(double *o, const double *x, const double *w) { ref_rmsnorm(o, x, w, H, 1e-5); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    double *emb = ref_tensor("transformer.wte.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    static const char *const MLP[3] = {"transformer.h.%d.mlp.c_fc_0.weight", "transformer.h.%d.mlp.c_fc_1.weight", "transformer.h.%d.mlp.c_proj.weight"};
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("transformer.h.%d.ln_1.weight", l, H), *n2 = ref_tensor("transformer.h.%d.ln_2.weight", l, H);
        for (int t = 0; t < n; t++) rms(hn + (size_t)t * H, x + (size_t)t * H, n1);
        ref_attn at = {"transformer.h.%d.attn.attention.", H, NH, NKV, HD, HD, 1000000.0, 1.0 / sqrt((double)HD), 0, 0,
                       NULL, NULL, 0, 0, "out_proj.weight", 0};
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], y[H];
            rms(f, x + (size_t)t * H, n2);
            ref_swiglu(y, f, MLP, l, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        free(n1); free(n2);
    }
    double *fn = ref_tensor("transformer.ln_f.weight", 0, H);
    for (int t = 0; t < n; t++) {
        rms(hn, x + (size_t)t * H, fn);
        ref_linear(lg + (size_t)t * V, emb, NULL, hn, V, H); /* tied */
    }
    free(fn); free(emb); free(x); free(hn); free(o);
}

static void test_exaone3(void) {
    static const char CFG[] =
        "{\"architectures\":[\"ExaoneForCausalLM\"],\"model_type\":\"exaone\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"num_layers\":3,\"vocab_size\":256,\"layer_norm_epsilon\":1e-5,"
        "\"activation_function\":\"silu\",\"rope_theta\":1000000.0,\"tie_word_embeddings\":true,\"max_position_embeddings\":32768,"
        "\"bos_token_id\":1,\"eos_token_id\":361}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 161, "exaone3", reference, NULL, ids, P, G, V, 4, 1); /* and as llama.cpp's exaone GGUF */
}

static void test_exaone3_refused(void) {
    ref_config_refused("{\"architectures\":[\"ExaoneForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_layers\":2,\"activation_function\":\"gelu\"}", "activation_function", "gelu");
}

int main(void) {
    RUN(test_exaone3);
    RUN(test_exaone3_refused);
    TEST_END();
}
