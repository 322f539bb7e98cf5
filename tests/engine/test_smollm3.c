/* SmolLM3 (SmolLM3ForCausalLM): Llama whose every 4th layer runs without rotary embeddings
 * (no_rope_layers / no_rope_layer_interval). No llama.cpp golden exists for it in ../shared, so a
 * synthetic checkpoint is checked against a reference written here from transformers'
 * modeling_smollm3.py in double precision, sharing no code with the engine (refcheck.h): every
 * prefill and decode row within 1e-3 and the same greedy ids on every backend, batched too; the
 * checkpoint written as F32 GGUF (llama.cpp's smollm3: the same fixed every-4th NoPE step) gives
 * the same rows. An explicit no_rope_layers list is read as given (a case with NoPE on layer 1),
 * and its GGUF export is refused, llama.cpp's step being fixed. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, I = 96, V = 256, L = 4, P = 9, G = 5 };

typedef struct {
    const char *name, *extra;
    int rope[L]; /* 1: the layer applies rotary embeddings */
    int gguf;    /* see ref_check */
} smol_case;

static const smol_case CASES[] = {
    {"smollm3", "", {1, 1, 1, 0}, 1},
    {"smollm3 (no_rope_layers)", ",\"no_rope_layers\":[1,0,1,1]", {1, 0, 1, 1}, -1},
};

static void rmsnorm(double *o, const double *x, const double *w) {
    double ss = 0;
    for (int i = 0; i < H; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / H + 1e-6);
    for (int i = 0; i < H; i++) o[i] = x[i] * r * w[i];
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const smol_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    double dn[H], m[H];
    for (int l = 0; l < L; l++) {
        double *an = ref_tensor("model.layers.%d.input_layernorm.weight", l, H), *mn = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        ref_proj w = ref_mlp_load(l, H, I);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, an);
        /* rotate_half pairs (i, i + HD/2), only where the layer uses rope */
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, c->rope[l] ? HD : 0, 10000.0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
        ref_attention_layer(&at, l, hn, n, o);
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += o[(size_t)t * H + i];
            rmsnorm(m, x + (size_t)t * H, mn);
            ref_proj_mlp(&w, m, dn);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += dn[i];
        }
        free(an); free(mn);
        ref_proj_free(&w);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H);
    for (int t = 0; t < n; t++) { /* the tied head */
        rmsnorm(hn, x + (size_t)t * H, fn);
        ref_linear(lg + (size_t)t * V, emb, NULL, hn, V, H);
    }
    free(fn); free(emb); free(x); free(hn); free(o);
}

static void check_case(const smol_case *c) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"SmolLM3ForCausalLM\"],\"model_type\":\"smollm3\",\"hidden_size\":64,\"intermediate_size\":96,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"max_position_embeddings\":4096,"
             "\"rms_norm_eps\":1e-6,\"rope_theta\":10000,\"tie_word_embeddings\":true,\"bos_token_id\":0,\"eos_token_id\":1,"
             "\"hidden_act\":\"silu\",\"num_hidden_layers\":4,\"no_rope_layer_interval\":4%s}",
             c->extra);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 13, c->name, reference, c, ids, P, G, V, 4, c->gguf);
}

static void test_smollm3(void) { check_case(&CASES[0]); }
static void test_no_rope_layers(void) { check_case(&CASES[1]); }

int main(void) {
    RUN(test_smollm3);
    RUN(test_no_rope_layers);
    TEST_END();
}
