/* EXAONE 3.0 / 3.5 (ExaoneForCausalLM, LG's remote-code checkpoints): a Llama decoder under GPT-2-like
 * names (transformer.wte, h.%d.ln_1, attn.attention.q / k / v / out_proj, ln_2, mlp.c_fc_0 / c_fc_1 /
 * c_proj, ln_f) with num_layers and layer_norm_epsilon. No golden exists for it in ../shared: a
 * synthetic checkpoint is checked against a reference written here from its modeling_exaone.py in
 * double precision (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids on
 * every backend, in one sweep and in sweeps of 4; written as llama.cpp's exaone GGUF and read back. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    ref_attn at = {"transformer.h.%d.attn.attention.", H, NH, NKV, HD, HD, 1000000.0, 1.0 / sqrt((double)HD), 0, 0,
                   NULL, NULL, 0, 0, "out_proj.weight", 0, 0};
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) {
    (void)arg;
    static const char *const MLP[3] = {"transformer.h.%d.mlp.c_fc_0.weight", "transformer.h.%d.mlp.c_fc_1.weight", "transformer.h.%d.mlp.c_proj.weight"};
    ref_swiglu(y, x, MLP, l, H, FF);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    ref_decoder dc = {H, V, L, 1e-5, "transformer.wte.weight", "transformer.h.%d.ln_1.weight", "transformer.h.%d.ln_2.weight",
                      "transformer.ln_f.weight", NULL, mixer, ffn, NULL}; /* tied */
    ref_decoder_logits(&dc, ids, n, lg);
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
