/* Hunyuan dense (HunYuanDenseV1ForCausalLM): a Llama decoder whose per-head q / k RMSNorms come after
 * the rotary embedding, with the "dynamic" rope of an alpha as a fixed base theta * alpha^(hd / (hd
 * - 2)). No golden exists for it in ../shared: a synthetic checkpoint in the released config's form
 * is checked against a reference written here from transformers' modeling_hunyuan_v1_dense.py in
 * double precision (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids
 * on every backend, in one sweep and in sweeps of 4. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void rms(double *o, const double *x, const double *w) { ref_rmsnorm(o, x, w, H, 1e-5); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    double theta = 10000.0 * pow(50.0, (double)HD / (HD - 2)); /* DynamicNTKAlphaRotary, alpha 50 */
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rms(hn + (size_t)t * H, x + (size_t)t * H, n1);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, theta, 1.0 / sqrt((double)HD), 0, 0,
                       "query_layernorm.weight", "key_layernorm.weight", 2, 1e-5, NULL, 0}; /* per head, after the rope */
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
    double *fn = ref_tensor("model.norm.weight", 0, H);
    for (int t = 0; t < n; t++) {
        rms(hn, x + (size_t)t * H, fn);
        ref_linear(lg + (size_t)t * V, emb, NULL, hn, V, H); /* tied */
    }
    free(fn); free(emb); free(x); free(hn); free(o);
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
