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

static void rms(double *o, const double *x, const double *w) { ref_rmsnorm(o, x, w, H, 1e-6); }

/* MiniMaxM2SparseMoeBlock: sigmoid scores, the top-k of scores + bias, their scores over their sum. */
static void moe(double *y, const double *x, int l) {
    double *wg = ref_tensor("model.layers.%d.block_sparse_moe.gate.weight", l, (size_t)E * H);
    double *eb = ref_tensor("model.layers.%d.block_sparse_moe.e_score_correction_bias", l, E);
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
    memset(y, 0, sizeof *y * H);
    for (int e = 0; e < E; e++) {
        if (!chosen[e]) continue;
        char n[3][96];
        static const int W[3] = {1, 3, 2}; /* gate, up, down */
        for (int i = 0; i < 3; i++) snprintf(n[i], sizeof n[i], "model.layers.%%d.block_sparse_moe.experts.%d.w%d.weight", e, W[i]);
        const char *const names[3] = {n[0], n[1], n[2]};
        ref_swiglu(o, x, names, l, H, FF);
        for (int i = 0; i < H; i++) y[i] += o[i] * s[e] / sum;
    }
    free(wg); free(eb);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    (void)arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rms(hn + (size_t)t * H, x + (size_t)t * H, n1);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, ROT, 5e6, 1.0 / sqrt((double)HD), 0, 0,
                       "q_norm.weight", "k_norm.weight", 1, 1e-6, NULL, 0}; /* q / k normed over the projection */
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], y[H];
            rms(f, x + (size_t)t * H, n2);
            moe(y, f, l);
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
