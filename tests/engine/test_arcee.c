/* Arcee (ArceeForCausalLM, Arcee's AFM-4.5B): a Llama decoder whose MLP is ungated,
 * down(relu(up x)^2). No llama.cpp golden exists for it in ../shared, so a synthetic checkpoint is
 * checked against a reference written here from transformers' modeling_arcee.py in double
 * precision (refcheck.h: rotate-half rotary attention, GQA): every prefill and decode row within
 * 1e-3 and the same greedy ids on every backend, in one sweep and in sweeps of 4 (no gate_proj is
 * written: none may be read); also written as llama.cpp's arcee GGUF (Q/K permuted as for llama,
 * ffn_up / ffn_down) and read back against the same rows. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 3, P = 9, G = 6, FF = 96 };

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    (void)arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
    ref_attention_layer(&at, l, hn, n, out);
}

/* ArceeMLP: down(relu(up x)^2) */
static void ffn(const void *arg, int l, const double *x, double *y) {
    (void)arg;
    double *wu = ref_tensor("model.layers.%d.mlp.up_proj.weight", l, (size_t)FF * H), *wd = ref_tensor("model.layers.%d.mlp.down_proj.weight", l, (size_t)H * FF);
    double u[FF];
    ref_linear(u, wu, NULL, x, FF, H);
    for (int i = 0; i < FF; i++) u[i] = u[i] > 0 ? u[i] * u[i] : 0; /* relu2 */
    ref_linear(y, wd, NULL, u, H, FF);
    free(wu); free(wd);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    ref_decoder dc = {H, V, L, 1e-5, "model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                      "model.layers.%d.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight", mixer, ffn, arg};
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_arcee(void) {
    static const char CFG[] =
        "{\"architectures\":[\"ArceeForCausalLM\"],\"model_type\":\"arcee\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":3,\"rms_norm_eps\":1e-5,"
        "\"hidden_act\":\"relu2\",\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,"
        "\"attention_bias\":false,\"mlp_bias\":false}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 71, "arcee", reference, NULL, ids, P, G, V, 4, 1); /* and as llama.cpp's arcee GGUF */
}

int main(void) {
    RUN(test_arcee);
    TEST_END();
}
