/* Families whose norms come after the sublayers only: OLMo 2 (q/k RMSNorm over the whole
 * projection), OLMo 3 (plus sliding layers whose rotary embedding has no rope scaling) and
 * EXAONE 4.0 (per-head q/k RMSNorm, sliding layers with RoPE, global layers without). No
 * llama.cpp golden exists for them in ../shared, so a synthetic checkpoint of each is checked
 * against a reference written here from transformers' modeling_olmo2.py / modular_olmo3.py /
 * modular_exaone4.py in double precision, sharing no code with the engine: every prefill and
 * decode row within 1e-3 and the same greedy ids, on cpu, cpu-staged and the GPU backends that
 * open; windows of 3 under a 9-token prompt. Each written as F32 GGUF (llama.cpp's olmo2 /
 * exaone4 layout) gives the same rows; EXAONE 4 with sliding layers is refused there (llama.cpp
 * slides only the 64-layer model's layers), so a second EXAONE 4 case has none. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, I = 96, V = 256, P = 9, G = 5, MAXL = 4 };

typedef struct {
    const char *name, *cfg;
    int L;
    int qk_full;            /* q/k norm over the projection (else per head) */
    int window[MAXL];       /* per layer (0: full) */
    int rope[MAXL];         /* 0 none, 1 plain, 2 with the linear scaling factor */
    double factor;          /* linear rope scaling */
    int gguf;               /* written as F32 GGUF too: 1 against the same reference, -1 refused (see ref_check) */
} fam_case;

static const fam_case CASES[] = {
    {"olmo2", "{\"architectures\":[\"Olmo2ForCausalLM\"],\"model_type\":\"olmo2\",%s}", 2, 1, {0, 0}, {1, 1}, 1, 1},
    {"olmo3", "{\"architectures\":[\"Olmo3ForCausalLM\"],\"model_type\":\"olmo3\",\"sliding_window\":3,"
              "\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":4.0},%s}", 4, 1, {3, 3, 3, 0}, {1, 1, 1, 2}, 4, 1},
    {"exaone4", "{\"architectures\":[\"Exaone4ForCausalLM\"],\"model_type\":\"exaone4\",\"sliding_window\":3,"
                "\"sliding_window_pattern\":4,%s}", 4, 0, {3, 3, 3, 0}, {1, 1, 1, 0}, 1, -1},
    {"exaone4 (no sliding layers)", "{\"architectures\":[\"Exaone4ForCausalLM\"],\"model_type\":\"exaone4\",%s}", 2, 0, {0, 0}, {1, 1}, 1, 1},
};
static const char *COMMON = "\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"head_dim\":16,\"vocab_size\":256,\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-6,\"rope_theta\":10000,"
    "\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\",\"num_hidden_layers\":%d";

static void rmsnorm(double *x, const double *w, int n) { /* in place */
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++) x[i] = x[i] * r * w[i];
}

/* transformers' decoder over ids[0..n) with norms after the sublayers; logits into lg (n, V) */
static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const fam_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *q = malloc(sizeof *q * (size_t)n * NH * HD), *k = malloc(sizeof *k * (size_t)n * NKV * HD);
    double *v = malloc(sizeof *v * (size_t)n * NKV * HD), *o = malloc(sizeof *o * (size_t)n * H), *a = malloc(sizeof *a * NH * HD);
    for (int l = 0; l < c->L; l++) {
        ref_proj w = ref_proj_load(l, H, NH * HD, NKV * HD, I);
        double *qn = ref_tensor("model.layers.%d.self_attn.q_norm.weight", l, c->qk_full ? NH * HD : HD);
        double *kn = ref_tensor("model.layers.%d.self_attn.k_norm.weight", l, c->qk_full ? NKV * HD : HD);
        double *pa = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H), *pf = ref_tensor("model.layers.%d.post_feedforward_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) { /* q, k normed (whole projection or per head), v; rotate_half rope */
            double *qt = q + (size_t)t * NH * HD, *kt = k + (size_t)t * NKV * HD;
            ref_proj_qkv(&w, x + (size_t)t * H, qt, kt, v + (size_t)t * NKV * HD);
            if (c->qk_full) { rmsnorm(qt, qn, NH * HD); rmsnorm(kt, kn, NKV * HD); }
            else {
                for (int h = 0; h < NH; h++) rmsnorm(qt + h * HD, qn, HD);
                for (int h = 0; h < NKV; h++) rmsnorm(kt + h * HD, kn, HD);
            }
            for (int h = 0; c->rope[l] && h < NH + NKV; h++)
                ref_rope(h < NH ? qt + h * HD : kt + (h - NH) * HD, HD, t, 10000.0, c->rope[l] == 2 ? c->factor : 1, 0);
        }
        for (int t = 0; t < n; t++) {
            ref_attend(a, q, k, v, t, NH, NKV, HD, c->window[l], NULL);
            ref_linear(o + (size_t)t * H, w.wo, NULL, a, H, NH * HD);
            rmsnorm(o + (size_t)t * H, pa, H); /* the post-attention norm, then the residual */
        }
        for (int i = 0; i < n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) { /* the MLP on the residual stream itself, then its post norm */
            ref_proj_mlp(&w, x + (size_t)t * H, o + (size_t)t * H);
            rmsnorm(o + (size_t)t * H, pf, H);
        }
        for (int i = 0; i < n * H; i++) x[i] += o[i];
        free(qn); free(kn); free(pa); free(pf);
        ref_proj_free(&w);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, x + (size_t)t * H, V, H);
    }
    free(fn); free(head); free(emb); free(x); free(q); free(k); free(v); free(o); free(a);
}

static void check_family(const fam_case *c) {
    char cfg[1024], common[512];
    snprintf(common, sizeof common, COMMON, c->L);
    snprintf(cfg, sizeof cfg, c->cfg, common);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 11, c->name, reference, c, ids, P, G, V, 4, c->gguf);
}

static void test_olmo2(void) { check_family(&CASES[0]); }
static void test_olmo3(void) { check_family(&CASES[1]); }
static void test_exaone4(void) {
    check_family(&CASES[2]); /* sliding layers: llama.cpp's exaone4 slides only the 64-layer model's, so no GGUF */
    check_family(&CASES[3]);
}

int main(void) {
    RUN(test_olmo2);
    RUN(test_olmo3);
    RUN(test_exaone4);
    TEST_END();
}
