/* dots.llm1 (Dots1ForCausalLM): Qwen3's attention (per-head q / k RMSNorm) with DeepSeek-V3's
 * experts — sigmoid scores, mlp.gate.e_score_correction_bias steering the choice, the top-k
 * renormalised (norm_topk_prob) and times routed_scaling_factor, plus ungated shared experts — after
 * first_k_dense_replace dense layers. No golden exists for it in ../shared: a synthetic checkpoint
 * is checked against a reference written here from transformers' modeling_dots1.py (Qwen3Attention,
 * DeepseekV3MoE) in double precision (refcheck.h): every prefill and decode row within 1e-3 and the
 * same greedy ids on every backend, in one sweep and in sweeps of 4; written as llama.cpp's dots1
 * GGUF and read back against the same rows. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, E = 6, K = 2, FF = 96, MFF = 32, SH = 1 };

/* DeepseekV3MoE with one group: sigmoid scores, top-k of scores + bias, renormalised, x 2.5, plus the
 * shared experts. */
static void moe(double *y, const double *x, int l) {
    static const char *const FMT[3] = {"model.layers.%%d.mlp.experts.%d.gate_proj.weight", "model.layers.%%d.mlp.experts.%d.up_proj.weight",
                                       "model.layers.%%d.mlp.experts.%d.down_proj.weight"};
    static const char *const SHX[3] = {"model.layers.%d.mlp.shared_experts.gate_proj.weight", "model.layers.%d.mlp.shared_experts.up_proj.weight",
                                       "model.layers.%d.mlp.shared_experts.down_proj.weight"};
    double w[E], o[H];
    ref_route(w, x, l, "model.layers.%d.mlp.gate.weight", "model.layers.%d.mlp.gate.e_score_correction_bias", E, K, H, 1, 1, 1e-20, 2.5);
    ref_experts(y, x, w, FMT, l, E, H, MFF);
    ref_swiglu(o, x, SHX, l, H, SH * MFF);
    for (int i = 0; i < H; i++) y[i] += o[i];
}

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0,
                   "q_norm.weight", "k_norm.weight", 0, 1e-6, NULL, 0, 0}; /* per-head q / k norms */
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) {
    (void)arg;
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    if (l >= 1) moe(y, x, l); /* first_k_dense_replace 1 */
    else ref_swiglu(y, x, MLP, l, H, FF);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    ref_decoder dc = {H, V, L, 1e-6, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight", mixer, ffn, NULL};
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_dots1(void) {
    static const char CFG[] =
        "{\"architectures\":[\"Dots1ForCausalLM\"],\"model_type\":\"dots1\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"moe_intermediate_size\":32,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"vocab_size\":256,"
        "\"num_hidden_layers\":3,\"rms_norm_eps\":1e-6,\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"n_routed_experts\":6,"
        "\"num_experts_per_tok\":2,\"n_shared_experts\":1,\"n_group\":1,\"topk_group\":1,\"first_k_dense_replace\":1,"
        "\"norm_topk_prob\":true,\"routed_scaling_factor\":2.5,\"scoring_func\":\"sigmoid\",\"attention_bias\":false,"
        "\"sliding_window\":null,\"bos_token_id\":0,\"eos_token_id\":1}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 141, "dots1", reference, NULL, ids, P, G, V, 4, 1); /* and as llama.cpp's dots1 GGUF */
}

/* Dots1Config's sliding rule: sliding_window (default 4096, null: none) from max_window_layers (default 62). */
static void test_dots1_sliding(void) {
    static const struct { const char *keys; const char *kinds; } C[] = {
        {"\"max_window_layers\":2", "ffss"}, {"\"sliding_window\":null,\"max_window_layers\":2", "ffff"}, {"", "ffff"},
        {"\"sliding_window\":8,\"layer_types\":[\"sliding_attention\",\"full_attention\",\"full_attention\",\"sliding_attention\"]", "sffs"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char cfg[640];
        snprintf(cfg, sizeof cfg, "{\"architectures\":[\"Dots1ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                 "\"vocab_size\":256,\"num_hidden_layers\":4,\"n_routed_experts\":4,\"num_experts_per_tok\":2%s%s}", *C[i].keys ? "," : "", C[i].keys);
        rl_model_desc *d;
        int rc = ref_config_load(cfg, &d);
        CHECK(rc == 0, "%s: %s", C[i].keys, rl_last_error());
        char kinds[5] = {0};
        for (int l = 0; !rc && l < 4; l++) kinds[l] = d->layers[l].kind == RL_LAYER_SLIDING ? 's' : 'f';
        CHECK(rc || !strcmp(kinds, C[i].kinds), "%s: layers %s, want %s", C[i].keys, kinds, C[i].kinds);
        free(d);
    }
}

int main(void) {
    RUN(test_dots1);
    RUN(test_dots1_sliding);
    TEST_END();
}
