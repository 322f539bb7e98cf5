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

static void rms(double *o, const double *x, const double *w) { ref_rmsnorm(o, x, w, H, 1e-5); }

/* OlmoeSparseMoeBlock: softmax over the experts, the top-k, renormalised when norm. */
static void moe(double *y, const double *x, int l, int norm) {
    double *wg = ref_tensor("model.layers.%d.mlp.gate.weight", l, (size_t)E * H);
    double s[E], o[H], mx = -INFINITY, z = 0, sum = 0;
    int chosen[E] = {0};
    ref_linear(s, wg, NULL, x, E, H);
    for (int e = 0; e < E; e++) mx = fmax(mx, s[e]);
    for (int e = 0; e < E; e++) { s[e] = exp(s[e] - mx); z += s[e]; }
    for (int e = 0; e < E; e++) s[e] /= z;
    for (int k = 0; k < K; k++) {
        int b = -1;
        for (int e = 0; e < E; e++) if (!chosen[e] && (b < 0 || s[e] > s[b])) b = e;
        chosen[b] = 1;
        sum += s[b];
    }
    memset(y, 0, sizeof *y * H);
    for (int e = 0; e < E; e++) {
        if (!chosen[e]) continue;
        char n[3][96];
        static const char *const P3[3] = {"gate", "up", "down"};
        for (int i = 0; i < 3; i++) snprintf(n[i], sizeof n[i], "model.layers.%%d.mlp.experts.%d.%s_proj.weight", e, P3[i]);
        const char *const names[3] = {n[0], n[1], n[2]};
        ref_swiglu(o, x, names, l, H, FF);
        for (int i = 0; i < H; i++) y[i] += o[i] * s[e] / (norm ? sum : 1);
    }
    free(wg);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const olmoe_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rms(hn + (size_t)t * H, x + (size_t)t * H, n1);
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, c->nkv, HD, HD, 10000.0, 1.0 / sqrt((double)HD), 0, 0,
                       "q_norm.weight", "k_norm.weight", 1, 1e-5, NULL, 0}; /* q / k normed over the projection */
        ref_attention_layer(&at, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double f[H], y[H];
            rms(f, x + (size_t)t * H, n2);
            moe(y, f, l, c->norm);
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
