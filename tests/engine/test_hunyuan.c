/* Hunyuan dense (HunYuanDenseV1ForCausalLM): a Llama decoder whose per-head q / k RMSNorms come after
 * the rotary embedding, with the "dynamic" rope of an alpha as a fixed base theta * alpha^(hd / (hd
 * - 2)). No golden exists for it in ../shared: a synthetic checkpoint in the released config's form
 * is checked against a reference written here from transformers' modeling_hunyuan_v1_dense.py in
 * double precision (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids
 * on every backend, in one sweep and in sweeps of 4. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    double theta = 10000.0 * pow(50.0, (double)HD / (HD - 2)); /* DynamicNTKAlphaRotary, alpha 50 */
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, theta, 1.0 / sqrt((double)HD), 0, 0,
                   "query_layernorm.weight", "key_layernorm.weight", 2, 1e-5, NULL, 0, 0}; /* per head, after the rope */
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) {
    (void)arg;
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    ref_swiglu(y, x, MLP, l, H, FF);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    ref_decoder dc = {H, V, L, 1e-5, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", NULL, mixer, ffn, NULL}; /* tied */
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_hunyuan_dense(void) {
    static const char CFG[] =
        "{\"architectures\":[\"HunYuanDenseV1ForCausalLM\"],\"model_type\":\"hunyuan_v1_dense\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"attention_head_dim\":16,\"vocab_size\":256,"
        "\"num_hidden_layers\":3,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"rope_scaling\":{\"alpha\":50.0,\"beta_fast\":32,"
        "\"beta_slow\":1,\"factor\":1.0,\"mscale\":1.0,\"mscale_all_dim\":1.0,\"type\":\"dynamic\"},\"use_qk_norm\":true,"
        "\"tie_word_embeddings\":true,\"attention_bias\":false,\"mlp_bias\":false,\"bos_token_id\":0,\"eos_token_id\":1}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 151, "hunyuan_dense", reference, NULL, ids, P, G, V, 4, 0);
}

static void test_hunyuan_refused(void) {
    ref_config_refused("{\"architectures\":[\"HunYuanDenseV1ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"rope_scaling\":{\"alpha\":-1,\"type\":\"dynamic\"}}", "alpha", "alpha below 0");
    ref_config_refused("{\"architectures\":[\"HunYuanMoEV1ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2}", "unsupported architecture", "Hunyuan MoE (expert capacity)");
}

int main(void) {
    RUN(test_hunyuan_dense);
    RUN(test_hunyuan_refused);
    TEST_END();
}
