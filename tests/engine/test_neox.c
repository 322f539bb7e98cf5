/* GPT-NeoX (GPTNeoXForCausalLM: Pythia, GPT-NeoX-20B): LayerNorms with biases, one fused
 * query_key_value per head ([q | k | v] rows of head_dim, bias), rotary embeddings on the first
 * rotary_pct of each head (NeoX pairs, rotary_emb_base), a plain GELU MLP with biases, an untied
 * embed_out, and with use_parallel_residual x + attn(ln1(x)) + mlp(ln2(x)) — each sublayer its own
 * norm of the layer input. No golden exists for it in ../shared: synthetic checkpoints in its
 * original keys (parallel, and sequential) are checked against a reference written here from
 * transformers' modeling_gpt_neox.py in double precision (refcheck.h): every prefill and decode
 * row within 1e-3 and the same greedy ids on every backend, in one sweep and in sweeps of 4; written as
 * llama.cpp's gptneox GGUF (query_key_value regrouped [q; k; v]) and read back as llama.cpp computes
 * it — GELU's tanh form — against a reference with that GELU. */
#include "refcheck.h"

enum { H = 64, NH = 4, HD = 16, ROT = 4, V = 256, L = 3, P = 9, G = 6, FF = 128 };

typedef struct { int parallel, tanh; } neox_case; /* tanh: GELU's tanh form (llama.cpp's gptneox) */

/* LayerNorm over H with weight and bias. */
static void layernorm(double *o, const double *x, const double *w, const double *b) { ref_layernorm(o, x, w, b, H, 1e-5); }

/* GPTNeoXAttention over the n rows of h (normed) into out. */
static void attention(int l, const double *h, int n, double *out) {
    double *wqkv = ref_tensor("gpt_neox.layers.%d.attention.query_key_value.weight", l, (size_t)3 * H * H);
    double *bqkv = ref_tensor("gpt_neox.layers.%d.attention.query_key_value.bias", l, (size_t)3 * H);
    double *wo = ref_tensor("gpt_neox.layers.%d.attention.dense.weight", l, (size_t)H * H);
    double *bo = ref_tensor("gpt_neox.layers.%d.attention.dense.bias", l, H);
    double *q = malloc(sizeof *q * (size_t)n * H), *k = malloc(sizeof *k * (size_t)n * H), *v = malloc(sizeof *v * (size_t)n * H);
    double f[3 * H], a[H];
    for (int t = 0; t < n; t++) {
        ref_linear(f, wqkv, bqkv, h + (size_t)t * H, 3 * H, H);
        for (int hh = 0; hh < NH; hh++) /* view(nh, 3 * hd): per head q, k, v */
            for (int e = 0; e < HD; e++) {
                q[(size_t)t * H + hh * HD + e] = f[hh * 3 * HD + e];
                k[(size_t)t * H + hh * HD + e] = f[hh * 3 * HD + HD + e];
                v[(size_t)t * H + hh * HD + e] = f[hh * 3 * HD + 2 * HD + e];
            }
        for (int hh = 0; hh < NH; hh++) {
            ref_rope(q + (size_t)t * H + hh * HD, ROT, t, 10000.0, 1, 0);
            ref_rope(k + (size_t)t * H + hh * HD, ROT, t, 10000.0, 1, 0);
        }
    }
    for (int t = 0; t < n; t++) {
        ref_attend(a, q, k, v, t, NH, NH, HD, 0, NULL);
        ref_linear(out + (size_t)t * H, wo, bo, a, H, H);
    }
    free(wqkv); free(bqkv); free(wo); free(bo); free(q); free(k); free(v);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const neox_case *c = arg;
    double *emb = ref_tensor("gpt_neox.embed_in.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H), *x0 = malloc(sizeof *x0 * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("gpt_neox.layers.%d.input_layernorm.weight", l, H), *b1 = ref_tensor("gpt_neox.layers.%d.input_layernorm.bias", l, H);
        double *n2 = ref_tensor("gpt_neox.layers.%d.post_attention_layernorm.weight", l, H);
        double *b2 = ref_tensor("gpt_neox.layers.%d.post_attention_layernorm.bias", l, H);
        double *wu = ref_tensor("gpt_neox.layers.%d.mlp.dense_h_to_4h.weight", l, (size_t)FF * H), *bu = ref_tensor("gpt_neox.layers.%d.mlp.dense_h_to_4h.bias", l, FF);
        double *wd = ref_tensor("gpt_neox.layers.%d.mlp.dense_4h_to_h.weight", l, (size_t)H * FF), *bd = ref_tensor("gpt_neox.layers.%d.mlp.dense_4h_to_h.bias", l, H);
        memcpy(x0, x, sizeof *x * (size_t)n * H);
        for (int t = 0; t < n; t++) layernorm(hn + (size_t)t * H, x + (size_t)t * H, n1, b1);
        attention(l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            double fi[H], u[FF], y[H];
            layernorm(fi, (c->parallel ? x0 : x) + (size_t)t * H, n2, b2); /* parallel: the layer input */
            ref_linear(u, wu, bu, fi, FF, H);
            for (int i = 0; i < FF; i++) /* gelu */
                u[i] = c->tanh ? 0.5 * u[i] * (1 + tanh(sqrt(2 / M_PI) * (u[i] + 0.044715 * u[i] * u[i] * u[i]))) : 0.5 * u[i] * (1 + erf(u[i] / sqrt(2.0)));
            ref_linear(y, wd, bd, u, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        free(n1); free(b1); free(n2); free(b2); free(wu); free(bu); free(wd); free(bd);
    }
    double *fn = ref_tensor("gpt_neox.final_layer_norm.weight", 0, H), *fb = ref_tensor("gpt_neox.final_layer_norm.bias", 0, H);
    double *head = ref_tensor("embed_out.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        layernorm(hn, x + (size_t)t * H, fn, fb);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(fn); free(fb); free(head); free(emb); free(x); free(hn); free(o); free(x0);
}

static void test_neox(void) {
    static const char CFG[] =
        "{\"architectures\":[\"GPTNeoXForCausalLM\"],\"model_type\":\"gpt_neox\",\"hidden_size\":64,\"intermediate_size\":128,"
        "\"num_attention_heads\":4,\"vocab_size\":256,\"num_hidden_layers\":3,\"layer_norm_eps\":1e-5,\"rotary_pct\":0.25,"
        "\"rotary_emb_base\":10000,\"use_parallel_residual\":%s,\"tie_word_embeddings\":false,\"hidden_act\":\"gelu\","
        "\"max_position_embeddings\":2048,\"bos_token_id\":0,\"eos_token_id\":0}";
    for (int par = 1; par >= 0; par--) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg, CFG, par ? "true" : "false");
        neox_case c = {par, 0}, ct = {par, 1};
        int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
        /* as GGUF (llama.cpp's gptneox: [q; k; v], GELU's tanh form) against the tanh reference */
        ref_synth_check_g(cfg, 121 + (uint64_t)par, par ? "gpt_neox parallel" : "gpt_neox sequential", reference, &c, reference, &ct, ids, P, G,
                          V, 4, 1);
    }
}

static void test_neox_refused(void) {
    ref_config_refused("{\"architectures\":[\"GPTNeoXForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"rotary_pct\":0.01}", "rotary_pct", "no rotary pair");
    ref_config_refused("{\"architectures\":[\"GPTNeoXForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"hidden_act\":\"silu\"}", "SiLU", "a plain SiLU MLP");
}

int main(void) {
    RUN(test_neox);
    RUN(test_neox_refused);
    TEST_END();
}
