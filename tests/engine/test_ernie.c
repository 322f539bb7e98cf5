/* ERNIE 4.5 (Ernie4_5ForCausalLM) and ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM): a Llama decoder
 * with interleaved-pair rotary embeddings (GLM's rotate_half over the whole head), and experts
 * routed by softmax scores with a correction bias steering the choice, renormalised, beside
 * ungated shared experts, on the layers moe_layer_start_index..moe_layer_end_index every
 * moe_layer_interval-th. No golden exists for them in ../shared: synthetic checkpoints are checked
 * against a reference written here from transformers' modeling_ernie4_5(_moe).py in double
 * precision (refcheck.h): every prefill and decode row within 1e-3 and the same greedy ids on every
 * backend, in one sweep and in sweeps of 4; written as llama.cpp's ernie4_5 / ernie4_5-moe GGUF
 * and read back against the same rows. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, P = 9, G = 6, FF = 96 };

typedef struct {
    int layers, experts, top_k, moe_ff, shared; /* experts 0: dense */
    const char *moe;                            /* per layer: 'e' experts, 'd' dense */
} ernie_case;

/* Ernie4_5_MoeSparseMoeBlock: softmax over the experts, the top-k of softmax + bias, their softmax
 * weights over their sum, plus the shared experts (one MLP of shared x moe_ff). */
static void moe(double *y, const double *x, int l, const ernie_case *c) {
    static const char *const FMT[3] = {"model.layers.%%d.mlp.experts.%d.gate_proj.weight", "model.layers.%%d.mlp.experts.%d.up_proj.weight",
                                       "model.layers.%%d.mlp.experts.%d.down_proj.weight"};
    static const char *const SH[3] = {"model.layers.%d.mlp.shared_experts.gate_proj.weight", "model.layers.%d.mlp.shared_experts.up_proj.weight",
                                      "model.layers.%d.mlp.shared_experts.down_proj.weight"};
    double w[16], o[H];
    ref_route(w, x, l, "model.layers.%d.mlp.gate.weight", "model.layers.%d.mlp.moe_statics.e_score_correction_bias", c->experts, c->top_k, H,
              0, 1, 0, 1);
    ref_experts(y, x, w, FMT, l, c->experts, H, c->moe_ff);
    if (c->shared) {
        ref_swiglu(o, x, SH, l, H, c->shared * c->moe_ff);
        for (int i = 0; i < H; i++) y[i] += o[i];
    }
}

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 500000.0, 1.0 / sqrt((double)HD), 1, 0,
                   NULL, NULL, 0, 0, NULL, 0, 0}; /* interleaved pairs */
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) {
    const ernie_case *c = arg;
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    if (c->experts && c->moe[l] == 'e') moe(y, x, l, c);
    else ref_swiglu(y, x, MLP, l, H, FF);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    ref_decoder dc = {H, V, ((const ernie_case *)arg)->layers, 1e-5, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", NULL, mixer, ffn, arg}; /* tied */
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_ernie4_5(void) {
    static const char CFG[] =
        "{\"architectures\":[\"Ernie4_5ForCausalLM\"],\"model_type\":\"ernie4_5\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"vocab_size\":256,\"num_hidden_layers\":3,\"rms_norm_eps\":1e-5,"
        "\"rope_theta\":500000.0,\"use_bias\":false,\"tie_word_embeddings\":true,\"bos_token_id\":1,\"eos_token_id\":2}";
    ernie_case c = {3, 0, 0, 0, 0, "ddd"};
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 91, "ernie4_5", reference, &c, ids, P, G, V, 4, 1); /* and as llama.cpp's ernie4_5 GGUF */
}

/* 4 layers: dense 0, experts on 1 and 3 (interval 2 from 1), dense 2; two shared experts. */
static void test_ernie4_5_moe(void) {
    static const char CFG[] =
        "{\"architectures\":[\"Ernie4_5_MoeForCausalLM\"],\"model_type\":\"ernie4_5_moe\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"vocab_size\":256,\"num_hidden_layers\":4,\"rms_norm_eps\":1e-5,"
        "\"rope_theta\":500000.0,\"use_bias\":false,\"tie_word_embeddings\":true,\"moe_num_experts\":6,\"moe_k\":2,"
        "\"moe_intermediate_size\":32,\"moe_num_shared_experts\":2,\"moe_layer_start_index\":1,\"moe_layer_end_index\":-1,"
        "\"moe_layer_interval\":2,\"bos_token_id\":1,\"eos_token_id\":2}";
    ernie_case c = {4, 6, 2, 32, 2, "dede"};
    int32_t ids[P + G] = {9, 3, 77, 140, 2, 61, 250, 8, 33};
    ref_synth_check(CFG, 92, "ernie4_5_moe", reference, &c, ids, P, G, V, 4, 1); /* and as ernie4_5-moe */
}

/* The expert layers: every moe_layer_interval-th from moe_layer_start_index to moe_layer_end_index. */
static void test_ernie_layers(void) {
    static const struct { const char *keys; const char *moe; } C[] = {
        {"", "deeeee"}, {"\"moe_layer_start_index\":0,\"moe_layer_interval\":2", "dedede"},
        {"\"moe_layer_start_index\":2,\"moe_layer_end_index\":4", "ddeeed"}, {"\"moe_layer_interval\":3", "ddedde"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, "{\"architectures\":[\"Ernie4_5_MoeForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"vocab_size\":256,\"num_hidden_layers\":6,\"moe_num_experts\":4,\"moe_k\":2%s%s}",
                 *C[i].keys ? "," : "", C[i].keys);
        rl_model_desc *d;
        int rc = ref_config_load(cfg, &d);
        CHECK(rc == 0, "%s: %s", C[i].keys, rl_last_error());
        char moe[7] = {0};
        for (int l = 0; !rc && l < 6; l++) moe[l] = d->layer_moe[l] ? 'e' : 'd';
        CHECK(rc || (!strcmp(moe, C[i].moe) && d->moe_shared_inter == 2 * 1536), "%s: layers %s, want %s", C[i].keys, moe, C[i].moe);
        free(d);
    }
}

static void test_ernie_refused(void) {
    ref_config_refused("{\"architectures\":[\"Ernie4_5ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"use_bias\":true}", "use_bias", "use_bias true");
    ref_config_refused("{\"architectures\":[\"Ernie4_5_MoeForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"moe_num_experts\":4,\"moe_k\":5}", "moe_k", "moe_k above the experts");
    ref_config_refused("{\"architectures\":[\"Ernie4_5_MoeForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"moe_layer_interval\":0}", "moe_layer_interval", "interval 0");
}

int main(void) {
    RUN(test_ernie4_5);
    RUN(test_ernie4_5_moe);
    RUN(test_ernie_layers);
    RUN(test_ernie_refused);
    TEST_END();
}
