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

static void rms(double *o, const double *x, const double *w) { ref_rmsnorm(o, x, w, H, 1e-6); }

/* DeepseekV3MoE with one group: sigmoid scores, top-k of scores + bias, renormalised, x 2.5. */
static void moe(double *y, const double *x, int l) {
    double *wg = ref_tensor("model.layers.%d.mlp.gate.weight", l, (size_t)E * H);
    double *eb = ref_tensor("model.layers.%d.mlp.gate.e_score_correction_bias", l, E);
    double s[E], pick[E], o[H], sum = 0;
    int chosen[E] = {0};
    ref_linear(s, wg, NULL, x, E, H);
    for (int e = 0; e < E; e++) { s[e] = 1 / (1 + exp(-s[e])); pick[e] = s[e] + eb[e]; }
    for (int k = 0; k < K; k++) {
        int b = -1;
        for (int e = 0; e < E; e++) if (!chosen[e] && (b < 0 || pick[e] > pick[b])) b = e;
        chosen[b] = 1;
        sum += s[b];
    }
    static const char *const SHX[3] = {"model.layers.%d.mlp.shared_experts.gate_proj.weight", "model.layers.%d.mlp.shared_experts.up_proj.weight",
                                       "model.layers.%d.mlp.shared_experts.down_proj.weight"};
    ref_swiglu(y, x, SHX, l, H, SH * MFF);
    for (int e = 0; e < E; e++) {
        if (!chosen[e]) continue;
        char n[3][96];
        static const char *const P3[3] = {"gate", "up", "down"};
        for (int i = 0; i < 3; i++) snprintf(n[i], sizeof n[i], "model.layers.%%d.mlp.experts.%d.%s_proj.weight", e, P3[i]);
        const char *const names[3] = {n[0], n[1], n[2]};
        ref_swiglu(o, x, names, l, H, MFF);
        for (int i = 0; i < H; i++) y[i] += o[i] * s[e] / (sum + 1e-20) * 2.5;
    }
    free(wg); free(eb);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    static const char *const MLP[3] = {"model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight"};
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rms(hn + (size_t)t * H, x + (size_t)t * H, n1);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0,
                       "q_norm.weight", "k_norm.weight", 0, 1e-6, NULL, 0}; /* per-head q / k norms */
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], y[H];
            rms(f, x + (size_t)t * H, n2);
            if (l >= 1) moe(y, f, l); /* first_k_dense_replace 1 */
            else ref_swiglu(y, f, MLP, l, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        free(n1); free(n2);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rms(hn, x + (size_t)t * H, fn);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(fn); free(head); free(emb); free(x); free(hn); free(o);
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

int main(void) {
    RUN(test_dots1);
    TEST_END();
}
