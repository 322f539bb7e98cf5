/* OLMoE (OlmoeForCausalLM, AllenAI's OLMoE-1B-7B): a Llama decoder with pre-norms whose q / k
 * RMSNorm spans the whole projection, and experts in every layer routed by softmax top-k, the
 * weights renormalised only with norm_topk_prob (default false). No golden exists for it in
 * ../shared: synthetic checkpoints are checked against a reference written here from transformers'
 * modeling_olmoe.py in double precision (refcheck.h): every prefill and decode row within 1e-3 and
 * the same greedy ids on every backend, in one sweep and in sweeps of 4; the released form (MHA,
 * untied, not renormalised) written as llama.cpp's olmoe GGUF and read back against the same rows,
 * a GQA one with norm_topk_prob refused for GGUF naming llama.cpp. */
#include "refcheck.h"

enum { H = 64, NH = 4, HD = 16, V = 256, L = 3, P = 9, G = 6, E = 6, K = 2, FF = 32 };

typedef struct { int nkv, norm; } olmoe_case;

/* OlmoeSparseMoeBlock: softmax over the experts, the top-k, renormalised when norm. */
static void moe(double *y, const double *x, int l, int norm) {
    static const char *const FMT[3] = {"model.layers.%%d.mlp.experts.%d.gate_proj.weight", "model.layers.%%d.mlp.experts.%d.up_proj.weight",
                                       "model.layers.%%d.mlp.experts.%d.down_proj.weight"};
    double w[E];
    ref_route(w, x, l, "model.layers.%d.mlp.gate.weight", NULL, E, K, H, 0, norm, 0, 1);
    ref_experts(y, x, w, FMT, l, E, H, FF);
}

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    const olmoe_case *c = arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, c->nkv, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0,
                   "q_norm.weight", "k_norm.weight", 1, 1e-5, NULL, 0, 0}; /* q / k normed over the projection */
    ref_attention_layer(&at, l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) { moe(y, x, l, ((const olmoe_case *)arg)->norm); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    ref_decoder dc = {H, V, L, 1e-5, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight", mixer, ffn, arg};
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_olmoe(void) {
    static const char CFG[] =
        "{\"architectures\":[\"OlmoeForCausalLM\"],\"model_type\":\"olmoe\",\"hidden_size\":64,\"intermediate_size\":32,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":%d,\"vocab_size\":256,\"num_hidden_layers\":3,\"rms_norm_eps\":1e-5,"
        "\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"num_experts\":6,\"num_experts_per_tok\":2,\"norm_topk_prob\":%s,"
        "\"clip_qkv\":null,\"attention_bias\":false,\"bos_token_id\":0,\"eos_token_id\":1}";
    static const olmoe_case C[2] = {{4, 0}, {2, 1}}; /* released: MHA, not renormalised; GQA renormalised */
    for (int i = 0; i < 2; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg, CFG, C[i].nkv, C[i].norm ? "true" : "false");
        int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
        ref_synth_check(cfg, 111 + (uint64_t)i, "olmoe", reference, &C[i], ids, P, G, V, 4, i ? -1 : 1); /* as llama.cpp's olmoe GGUF, or refused */
    }
}

static void test_olmoe_refused(void) {
    ref_config_refused("{\"architectures\":[\"OlmoeForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":32,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"num_experts\":4,\"num_experts_per_tok\":2,\"clip_qkv\":8.0}",
                       "clip_qkv", "clip_qkv set");
}

int main(void) {
    RUN(test_olmoe);
    RUN(test_olmoe_refused);
    TEST_END();
}
