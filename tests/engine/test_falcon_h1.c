/* Falcon-H1 (FalconH1ForCausalLM). No llama.cpp golden exists for it in ../shared, so synthetic
 * checkpoints are checked against a reference written here from transformers'
 * modeling_falcon_h1.py in double precision, sharing no code with the engine (refcheck.h): the
 * embeddings times embedding_multiplier; per layer input_layernorm, then side by side the Mamba-2
 * mixer on the normed input times ssm_in_multiplier (in_proj's z / x / B / C / dt slices times
 * ssm_multipliers before the conv, the gated RMSNorm per group with mamba_rms_norm, else y *
 * SiLU(z)), times ssm_out_multiplier, and NeoX-rope attention over head_dim on the normed input
 * times attention_in_multiplier (keys times key_multiplier), times attention_out_multiplier, both
 * added to the residual; pre_ff_layernorm and down(up x * SiLU(gate x * mlp_multipliers[0])) *
 * mlp_multipliers[1]; final_layernorm; logits times lm_head_multiplier. The released 0.5B's
 * multipliers, head_dim given apart from hidden / heads. Every prefill and decode row within 1e-3
 * and the same greedy ids on every backend, the prompt in one sweep and in sweeps of 4. Written
 * as F32 GGUF (`quantize --gguf`: llama.cpp's falcon-h1, every multiplier folded into the weights
 * as its converter does) and read back against the same rows; a tied model with different
 * embedding and lm_head multipliers is refused there, naming llama.cpp (one matrix carries both). */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 24, V = 256, L = 3, P = 9, G = 6, FF = 96, MH = 6, MP = 16, MI = MH * MP, MG = 2, MN = 16 };

/* Falcon-H1-0.5B's multipliers */
static const double EMB = 5.656854249492381, LMH = 0.0390625, AIN = 1.0, AOUT = 0.9375, KEY = 0.39062499999999994, SIN = 1.25,
                    SOUT = 0.23570226039551587, MLP[2] = {0.8838834764831844, 0.5859375},
                    SSM[5] = {0.3535533905932738, 0.25, 0.3535533905932738, 0.5, 0.3535533905932738};

typedef struct {
    const char *name;
    int rms_norm, tied;
    double ain;       /* attention_in_multiplier (the 0.5B's is 1) */
} fh_case;

static const fh_case CASES[] = {
    {"falcon_h1 (gated norm per group, untied)", 1, 0, AIN},
    {"falcon_h1 (no mamba norm, tied, attention_in 0.8)", 0, 1, 0.8},
};

static void rmsnorm(double *o, const double *x, const double *w, int n) { ref_rmsnorm(o, x, w, n, 1e-5); }

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const fh_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < H; i++) x[(size_t)t * H + i] = emb[(size_t)ids[t] * H + i] * EMB;
    double *hn = malloc(sizeof *hn * (size_t)n * H), *hs = malloc(sizeof *hs * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    double mup[5];
    for (int i = 0; i < 5; i++) mup[i] = SIN * SSM[i]; /* in_proj(n * ssm_in) * mup = in_proj(n) * (ssm_in * mup) */
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.pre_ff_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n1, H);
        ref_mamba2_dims md = {"model.layers.%d.mamba.", H, MH, MP, MG, MN, 4, c->rms_norm ? MG : 0, 0, INFINITY, 1e-5, mup};
        ref_mamba2(&md, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i] * SOUT;
        for (size_t i = 0; i < (size_t)n * H; i++) hs[i] = hn[i] * c->ain;
        /* keys times key_multiplier: the same logits as the softmax scale times it (rope is linear) */
        ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, 1e4, KEY / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
        ref_attention_layer(&at, l, hs, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i] * AOUT;
        double *wg = ref_tensor("model.layers.%d.feed_forward.gate_proj.weight", l, (size_t)FF * H);
        double *wu = ref_tensor("model.layers.%d.feed_forward.up_proj.weight", l, (size_t)FF * H);
        double *wd = ref_tensor("model.layers.%d.feed_forward.down_proj.weight", l, (size_t)H * FF);
        for (int t = 0; t < n; t++) {
            double f[H], a[FF], b[FF], y[H];
            rmsnorm(f, x + (size_t)t * H, n2, H);
            ref_linear(a, wg, NULL, f, FF, H);
            ref_linear(b, wu, NULL, f, FF, H);
            for (int i = 0; i < FF; i++) { double g = a[i] * MLP[0]; a[i] = b[i] * g / (1 + exp(-g)); }
            ref_linear(y, wd, NULL, a, H, FF);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i] * MLP[1];
        }
        free(wg); free(wu); free(wd); free(n1); free(n2);
    }
    double *fn = ref_tensor("model.final_layernorm.weight", 0, H), *head = c->tied ? emb : ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
        for (int v = 0; v < V; v++) lg[(size_t)t * V + v] *= LMH;
    }
    if (head != emb) free(head);
    free(fn); free(emb); free(x); free(hn); free(hs); free(o);
}

static void check_case(const fh_case *c) {
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"FalconH1ForCausalLM\"],\"model_type\":\"falcon_h1\",\"hidden_size\":64,\"intermediate_size\":96,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":24,\"vocab_size\":256,\"num_hidden_layers\":3,"
             "\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"max_position_embeddings\":4096,\"tie_word_embeddings\":%s,"
             "\"bos_token_id\":1,\"eos_token_id\":11,\"mamba_d_ssm\":96,\"mamba_n_heads\":6,\"mamba_d_head\":16,\"mamba_n_groups\":2,"
             "\"mamba_d_state\":16,\"mamba_d_conv\":4,\"mamba_expand\":2,\"mamba_chunk_size\":128,\"mamba_conv_bias\":true,"
             "\"mamba_proj_bias\":false,\"mamba_norm_before_gate\":false,\"mamba_rms_norm\":%s,\"projectors_bias\":false,"
             "\"attention_bias\":false,\"mlp_bias\":false,\"embedding_multiplier\":%.17g,\"lm_head_multiplier\":%.17g,"
             "\"attention_in_multiplier\":%.17g,\"attention_out_multiplier\":%.17g,\"key_multiplier\":%.17g,\"ssm_in_multiplier\":%.17g,"
             "\"ssm_out_multiplier\":%.17g,\"mlp_multipliers\":[%.17g,%.17g],\"ssm_multipliers\":[%.17g,%.17g,%.17g,%.17g,%.17g]}",
             c->tied ? "true" : "false", c->rms_norm ? "true" : "false", EMB, LMH, c->ain, AOUT, KEY, SIN, SOUT, MLP[0], MLP[1], SSM[0],
             SSM[1], SSM[2], SSM[3], SSM[4]);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 61, c->name, reference, c, ids, P, G, V, 4, c->tied ? -1 : 1);
}

static void test_norm_untied(void) { check_case(&CASES[0]); }
static void test_no_norm_tied(void) { check_case(&CASES[1]); }

/* What is not supported: an error naming config.json. */
static void test_refused(void) {
    static const struct { const char *cfg, *want; } BAD[] = {
        {"\"mamba_rms_norm\":true,\"mamba_norm_before_gate\":true", "mamba_norm_before_gate"},
        {"\"projectors_bias\":true", "projectors_bias"},
        {"\"mamba_d_ssm\":100", "must equal mamba_d_ssm 100"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{%s,\"architectures\":[\"FalconH1ForCausalLM\"],\"model_type\":\"falcon_h1\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":24,\"vocab_size\":256,\"num_hidden_layers\":3,"
                 "\"mamba_d_ssm\":96,\"mamba_n_heads\":6,\"mamba_d_head\":16,\"mamba_n_groups\":2,\"mamba_d_state\":16}",
                 BAD[i].cfg);
        ref_config_refused(cfg, BAD[i].want, BAD[i].cfg);
    }
}

int main(void) {
    RUN(test_norm_untied);
    RUN(test_no_norm_tied);
    RUN(test_refused);
    TEST_END();
}
