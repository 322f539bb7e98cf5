/* Cohere Command R (CohereForCausalLM) and Command R7B / A (Cohere2ForCausalLM). No llama.cpp
 * golden exists for them in ../shared, so a synthetic checkpoint of each is checked against a
 * reference written here from transformers' modeling_cohere.py / modular_cohere2.py in double
 * precision, sharing no code with the engine (tests/engine/refcheck.h): one bias-free LayerNorm
 * feeding attention and the MLP side by side, interleaved rotary pairs, tied embeddings, logits
 * times logit_scale; Cohere 2 with sliding layers (window 3 under a 9-token prompt) on rotary
 * embeddings and a full layer without; each also written as F32 GGUF (llama.cpp's command-r /
 * cohere2 layout) against the same rows. Also: use_qk_norm is refused naming it. */
#include "refcheck.h"
#include "model/synth.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, I = 96, V = 256, P = 9, G = 5, MAXL = 4 };

typedef struct {
    const char *name, *cfg;
    int L;
    int window[MAXL];  /* per layer (0: full) */
    int rope[MAXL];    /* 1: rotary embedding */
    double scale;      /* logit_scale */
} cohere_case;

static const cohere_case CASES[] = {
    {"cohere", "{\"architectures\":[\"CohereForCausalLM\"],\"model_type\":\"cohere\",\"logit_scale\":4.0,%s}", 2, {0, 0}, {1, 1}, 4.0},
    {"cohere2", "{\"architectures\":[\"Cohere2ForCausalLM\"],\"model_type\":\"cohere2\",\"logit_scale\":8.0,\"sliding_window\":3,"
                "\"sliding_window_pattern\":4,%s}", 4, {3, 3, 3, 0}, {1, 1, 1, 0}, 8.0},
};
static const char *COMMON = "\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"vocab_size\":256,\"max_position_embeddings\":4096,\"layer_norm_eps\":1e-5,\"rope_theta\":10000,"
    "\"tie_word_embeddings\":true,\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\",\"num_hidden_layers\":%d%s";

/* Cohere's LayerNorm: mean-centred, no bias */
static void layernorm(double *o, const double *x, const double *w) {
    double mean = 0, var = 0;
    for (int i = 0; i < H; i++) mean += x[i];
    mean /= H;
    for (int i = 0; i < H; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= H;
    for (int i = 0; i < H; i++) o[i] = (x[i] - mean) / sqrt(var + 1e-5) * w[i];
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const cohere_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    double dn[H];
    for (int l = 0; l < c->L; l++) {
        double *ln = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        ref_proj w = ref_mlp_load(l, H, I);
        for (int t = 0; t < n; t++) layernorm(hn + (size_t)t * H, x + (size_t)t * H, ln); /* one norm for both branches */
        /* interleaved rotary pairs (2i, 2i+1), sliding layers over their window */
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, c->rope[l] ? HD : 0, 10000.0, 1.0 / sqrt((double)HD), 1, c->window[l], NULL, NULL, 0, 0, NULL, 0, 0};
        ref_attention_layer(&at, l, hn, n, o);
        for (int t = 0; t < n; t++) {
            ref_proj_mlp(&w, hn + (size_t)t * H, dn);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += o[(size_t)t * H + i] + dn[i]; /* side by side */
        }
        free(ln);
        ref_proj_free(&w);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H);
    for (int t = 0; t < n; t++) { /* the tied head, times logit_scale */
        layernorm(hn, x + (size_t)t * H, fn);
        ref_linear(lg + (size_t)t * V, emb, NULL, hn, V, H);
        for (int i = 0; i < V; i++) lg[(size_t)t * V + i] *= c->scale;
    }
    free(fn); free(emb); free(x); free(hn); free(o);
}

/* Writes the config of case c (extra keys appended) and a synthetic checkpoint into dir/m. */
static int make_model(const cohere_case *c, const char *dir, const char *extra) {
    char path[200], m_dir[200], cfg[1024], common[512];
    snprintf(common, sizeof common, COMMON, c->L, extra);
    snprintf(cfg, sizeof cfg, c->cfg, common);
    snprintf(path, sizeof path, "%s/in.json", dir);
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(cfg, f) < 0 || fclose(f)) return -1;
    rl_synth_opts so = {.dtype = RL_DT_BF16, .seed = 5};
    return rl_synth_write(path, m_dir, &so);
}

static void check_case(const cohere_case *c) {
    char dir[64] = "/tmp/rl_cohere_XXXXXX", m_dir[128], cmd[200];
    CHECK(mkdtemp(dir) != NULL && make_model(c, dir, "") == 0, "%s: synth: %s", c->name, rl_last_error());
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_check(m_dir, c->name, reference, c, ids, P, G, V, 4, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_cohere(void) { check_case(&CASES[0]); }
static void test_cohere2(void) { check_case(&CASES[1]); }

static void test_qk_norm_refused(void) {
    char dir[64] = "/tmp/rl_cohere_XXXXXX", cmd[200];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(make_model(&CASES[0], dir, ",\"use_qk_norm\":true") != 0 && strstr(rl_last_error(), "use_qk_norm"), "use_qk_norm: %s", rl_last_error());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_cohere);
    RUN(test_cohere2);
    RUN(test_qk_norm_refused);
    TEST_END();
}
