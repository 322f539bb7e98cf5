/* MiniMax-M2 (MiniMaxM2ForCausalLM): Mixtral's block_sparse_moe experts routed by sigmoid scores
 * with e_score_correction_bias steering the choice and the top-k renormalised, RMSNorm over the
 * whole q and k projections, NeoX rotary embeddings over the first rotary_dim of head_dim. No
 * golden exists for it in ../shared: a synthetic checkpoint (its original keys rotary_dim,
 * use_routing_bias) is checked against a reference written here from transformers'
 * modeling_minimax_m2.py in double precision (refcheck.h): every prefill and decode row within 1e-3
 * and the same greedy ids on every backend, in one sweep and in sweeps of 4; written as llama.cpp's
 * minimax-m2 GGUF and read back against the same rows. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, ROT = 8, V = 256, L = 3, P = 9, G = 6, E = 6, K = 2, FF = 32 };

/* MiniMaxM2SparseMoeBlock: sigmoid scores, the top-k of scores + bias, their scores over their sum. */
static void moe(double *y, const double *x, int l) {
    static const char *const FMT[3] = {"model.layers.%%d.block_sparse_moe.experts.%d.w1.weight", "model.layers.%%d.block_sparse_moe.experts.%d.w3.weight",
                                       "model.layers.%%d.block_sparse_moe.experts.%d.w2.weight"};
    double w[E];
    ref_route(w, x, l, "model.layers.%d.block_sparse_moe.gate.weight", "model.layers.%d.block_sparse_moe.e_score_correction_bias", E, K, H, 1, 1,
              0, 1);
    ref_experts(y, x, w, FMT, l, E, H, FF);
}

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, ROT, 5e6, 1.0 / sqrt((double)HD), 0, 0,
                   "q_norm.weight", "k_norm.weight", 1, 1e-6, NULL, 0, 0}; /* q / k normed over the projection */
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) { (void)arg; moe(y, x, l); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    ref_decoder dc = {H, V, L, 1e-6, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight", mixer, ffn, NULL};
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_minimax_m2(void) {
    static const char CFG[] =
        "{\"architectures\":[\"MiniMaxM2ForCausalLM\"],\"model_type\":\"minimax_m2\",\"hidden_size\":64,\"intermediate_size\":32,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"rotary_dim\":8,\"vocab_size\":256,\"num_hidden_layers\":3,"
        "\"rms_norm_eps\":1e-6,\"rope_theta\":5000000,\"tie_word_embeddings\":false,\"num_local_experts\":6,\"num_experts_per_tok\":2,"
        "\"scoring_func\":\"sigmoid\",\"use_routing_bias\":true,\"use_qk_norm\":true,\"qk_norm_type\":\"per_layer\",\"num_mtp_modules\":3,"
        "\"bos_token_id\":0,\"eos_token_id\":1}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 101, "minimax_m2", reference, NULL, ids, P, G, V, 4, 1); /* and as llama.cpp's minimax-m2 GGUF */
}

static void test_minimax_m2_refused(void) {
    static const char BASE[] = "{\"architectures\":[\"MiniMaxM2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":32,\"num_attention_heads\":4,"
                               "\"head_dim\":16,\"vocab_size\":256,\"num_hidden_layers\":2,\"num_local_experts\":4,\"num_experts_per_tok\":2,%s}";
    static const struct { const char *extra, *want; } BAD[] = {
        {"\"rotary_dim\":5", "rotary_dim"},
        {"\"rotary_dim\":32", "rotary_dim"},
        {"\"qk_norm_type\":\"per_head\"", "qk_norm_type"},
        {"\"scoring_func\":\"softmax\"", "sigmoid"},
        {"\"attn_type_list\":[1,0]", "attn_type_list"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, BASE, BAD[i].extra);
        ref_config_refused(cfg, BAD[i].want, BAD[i].extra);
    }
}

int main(void) {
    RUN(test_minimax_m2);
    RUN(test_minimax_m2_refused);
    TEST_END();
}
