/* NVIDIA Nemotron-H (NemotronHForCausalLM). No llama.cpp golden exists for it in ../shared, so
 * synthetic checkpoints are checked against a reference written here from transformers'
 * modeling_nemotron_h.py in double precision, sharing no code with the engine (refcheck.h): one
 * RMSNorm and one sublayer per layer as hybrid_override_pattern spells it — "M" the Mamba-2 mixer
 * (in_proj split into z / xBC / dt, causal depthwise conv with bias and SiLU, dt = softplus(dt +
 * dt_bias) unclamped, S = exp(dt A) S + dt B x, y = S C + D x, the gated RMSNorm per group of
 * I / n_groups channels, out_proj), "*" attention without positional embeddings (head_dim given,
 * not hidden / heads), "-" down(relu(up x)^2) — then norm_f and the untied lm_head. Every prefill
 * and decode row within 1e-3 and the same greedy ids on every backend, the prompt in one sweep and
 * in sweeps of 4. Cases: 2 B / C (and norm) groups; 1 group with layers_block_type names; "E"
 * layers (Nemotron 3): sigmoid scores, the correction bias choosing the top 2 of 4, the chosen
 * scores renormalised and scaled by routed_scaling_factor, ungated squared-ReLU experts plus the
 * shared expert, with and without a dense MLP layer beside them, and with the routed experts in a
 * latent width (Nemotron 3 Super: fc1_latent_proj before them, fc2_latent_proj on their sum). Each also written as F32 GGUF
 * (`quantize --gguf`: llama.cpp's nemotron_h / nemotron_h_moe, the sublayers in the per-layer
 * head_count_kv / feed_forward_length lists) and read back against the same rows, but for the
 * dense MLP beside experts, which nemotron_h_moe cannot say (refused naming llama.cpp). A pattern of the wrong length or an unknown letter is an
 * error naming the file. Mamba2ForCausalLM (every layer "M", its gated norm over all channels as
 * transformers' MambaRMSNormGated takes it) against the same reference: with 2 B / C groups (its
 * GGUF export refused: llama.cpp's mamba2 normalises per group) and with one (written as
 * llama.cpp's mamba2 and read back). */
#include "refcheck.h"
#include "model/config.h"

enum { H = 64, NH = 4, NKV = 2, HD = 24, V = 256, L = 6, P = 9, G = 5, MH = 8, MP = 16, MI = MH * MP, MK = 4, FF = 96,
       E = 4, TOPK = 2, EI = 32, SI = 48, LAT = 24 };

typedef struct {
    const char *name, *layers; /* the pattern: M * - E */
    int groups, state;
    const char *extra;
    int gguf;        /* see ref_check */
    int mamba2;      /* Mamba2ForCausalLM: its own config keys, the norm over all channels */
    int latent;      /* Nemotron 3 Super: the routed experts in LAT dims (moe_latent_size) */
} nh_case;

static const nh_case CASES[] = {
    {"nemotron-h (2 groups)", "M-*M-M", 2, 16, ",\"hybrid_override_pattern\":\"M-*M-M\"", 1, 0, 0},
    {"nemotron-h (1 group, layers_block_type)", "M*-MM-", 1, 24,
     ",\"layers_block_type\":[\"mamba\",\"attention\",\"mlp\",\"mamba\",\"mamba\",\"mlp\"]", 1, 0, 0},
    {"nemotron-h (experts)", "ME*EEM", 2, 16,
     ",\"hybrid_override_pattern\":\"ME*EEM\",\"n_routed_experts\":4,\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,"
     "\"moe_shared_expert_intermediate_size\":48,\"n_shared_experts\":1,\"routed_scaling_factor\":2.5,\"n_group\":1,"
     "\"topk_group\":1,\"norm_topk_prob\":true,\"moe_latent_size\":null", 1, 0, 0},
    {"nemotron-h (experts and an MLP)", "ME*E-M", 2, 16,
     ",\"hybrid_override_pattern\":\"ME*E-M\",\"n_routed_experts\":4,\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,"
     "\"moe_shared_expert_intermediate_size\":48,\"routed_scaling_factor\":2.5,\"norm_topk_prob\":true", -1, 0, 0},
    {"mamba2", "MMMMMM", 2, 16, "", -1, 1, 0},
    {"mamba2 (1 group)", "MMMMMM", 1, 24, "", 1, 1, 0},
    {"nemotron-h (latent experts)", "ME*EEM", 2, 16,
     ",\"hybrid_override_pattern\":\"ME*EEM\",\"n_routed_experts\":4,\"num_experts_per_tok\":2,\"moe_intermediate_size\":32,"
     "\"moe_shared_expert_intermediate_size\":48,\"n_shared_experts\":1,\"routed_scaling_factor\":2.5,\"norm_topk_prob\":true,"
     "\"moe_latent_size\":24", 1, 0, 1},
};

static void rmsnorm(double *o, const double *x, const double *w, int n) { ref_rmsnorm(o, x, w, n, 1e-5); }

/* The Mamba-2 mixer of layer l (refcheck.h): dt unclamped, the norm per B / C group
 * (Zamba2RMSNormGated; Mamba2ForCausalLM: over all channels). */
static void mamba(const nh_case *c, int l, const double *hn, int n, double *out) {
    ref_mamba2_dims m = {"backbone.layers.%d.mixer.", H, MH, MP, c->groups, c->state, MK, c->mamba2 ? 1 : c->groups, 0, INFINITY, 1e-5, NULL};
    ref_mamba2(&m, l, hn, n, out);
}

/* Attention of layer l (refcheck.h): no positional embeddings, scale 1/sqrt(head_dim). */
static void attention(int l, const double *hn, int n, double *out) {
    ref_attn at = {"backbone.layers.%d.mixer.", H, NH, NKV, HD, 0, 0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
    ref_attention_layer(&at, l, hn, n, out);
}

/* y += s down(relu(up x)^2) for one row x of w values (H, or LAT: latent experts), up [ff, w], down [w, ff]. */
static void relu2_mlp(double *y, const double *wu, const double *wd, const double *x, int ff, int w, double s) {
    double u[FF > SI ? FF : SI], o[H];
    ref_linear(u, wu, NULL, x, ff, w);
    for (int i = 0; i < ff; i++) u[i] = u[i] > 0 ? u[i] * u[i] : 0;
    ref_linear(o, wd, NULL, u, w, ff);
    for (int i = 0; i < w; i++) y[i] += s * o[i];
}

/* The dense MLP of layer l into out (n, H). */
static void mlp(int l, const double *hn, int n, double *out) {
    double *wu = ref_tensor("backbone.layers.%d.mixer.up_proj.weight", l, (size_t)FF * H);
    double *wd = ref_tensor("backbone.layers.%d.mixer.down_proj.weight", l, (size_t)H * FF);
    memset(out, 0, sizeof *out * (size_t)n * H);
    for (int t = 0; t < n; t++) relu2_mlp(out + (size_t)t * H, wu, wd, hn + (size_t)t * H, FF, H, 1.0);
    free(wu); free(wd);
}

/* The experts of layer l (transformers' NemotronHMoE) into out (n, H); latent (Nemotron 3 Super):
 * the routed experts on fc1_latent_proj x, their weighted sum through fc2_latent_proj. */
static void moe(const nh_case *c, int l, const double *hn, int n, double *out) {
    int w = c->latent ? LAT : H;
    double *f1 = c->latent ? ref_tensor("backbone.layers.%d.mixer.fc1_latent_proj.weight", l, (size_t)LAT * H) : NULL;
    double *f2 = c->latent ? ref_tensor("backbone.layers.%d.mixer.fc2_latent_proj.weight", l, (size_t)H * LAT) : NULL;
    double *rw = ref_tensor("backbone.layers.%d.mixer.gate.weight", l, (size_t)E * H);
    double *rb = ref_tensor("backbone.layers.%d.mixer.gate.e_score_correction_bias", l, E);
    double *su = ref_tensor("backbone.layers.%d.mixer.shared_experts.up_proj.weight", l, (size_t)SI * H);
    double *sd = ref_tensor("backbone.layers.%d.mixer.shared_experts.down_proj.weight", l, (size_t)H * SI);
    double *eu[E], *ed[E], lg[E];
    char name[128];
    for (int e = 0; e < E; e++) {
        snprintf(name, sizeof name, "backbone.layers.%%d.mixer.experts.%d.up_proj.weight", e);
        eu[e] = ref_tensor(name, l, (size_t)EI * w);
        snprintf(name, sizeof name, "backbone.layers.%%d.mixer.experts.%d.down_proj.weight", e);
        ed[e] = ref_tensor(name, l, (size_t)w * EI);
    }
    memset(out, 0, sizeof *out * (size_t)n * H);
    for (int t = 0; t < n; t++) {
        const double *x = hn + (size_t)t * H;
        double *y = out + (size_t)t * H;
        ref_linear(lg, rw, NULL, x, E, H);
        for (int e = 0; e < E; e++) lg[e] = 1 / (1 + exp(-lg[e])); /* sigmoid scores */
        int top[TOPK];
        for (int j = 0; j < TOPK; j++) { /* chosen by score + bias */
            int b = -1;
            for (int e = 0; e < E; e++) if ((j == 0 || e != top[0]) && (b < 0 || lg[e] + rb[e] > lg[b] + rb[b])) b = e;
            top[j] = b;
        }
        double sum = 0, xl[LAT], yl[H], o2[H];
        for (int j = 0; j < TOPK; j++) sum += lg[top[j]];
        if (c->latent) ref_linear(xl, f1, NULL, x, LAT, H);
        memset(yl, 0, sizeof yl);
        for (int j = 0; j < TOPK; j++) relu2_mlp(yl, eu[top[j]], ed[top[j]], c->latent ? xl : x, EI, w, lg[top[j]] / (sum + 1e-20) * 2.5);
        if (c->latent) ref_linear(o2, f2, NULL, yl, H, LAT);
        for (int i = 0; i < H; i++) y[i] += c->latent ? o2[i] : yl[i];
        relu2_mlp(y, su, sd, x, SI, H, 1.0); /* the shared expert on the full width */
    }
    for (int e = 0; e < E; e++) { free(eu[e]); free(ed[e]); }
    free(rw); free(rb); free(su); free(sd); free(f1); free(f2);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const nh_case *c = arg;
    double *emb = ref_tensor("backbone.embeddings.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *nw = ref_tensor("backbone.layers.%d.norm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, nw, H);
        if (c->layers[l] == 'M') mamba(c, l, hn, n, o);
        else if (c->layers[l] == '*') attention(l, hn, n, o);
        else if (c->layers[l] == 'E') moe(c, l, hn, n, o);
        else mlp(l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        free(nw);
    }
    double *fn = ref_tensor("backbone.norm_f.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(fn); free(head); free(emb); free(x); free(hn); free(o);
}

static void config(char *cfg, size_t cap, const nh_case *c, const char *extra) {
    if (c->mamba2) {
        snprintf(cfg, cap,
                 "{\"architectures\":[\"Mamba2ForCausalLM\"],\"model_type\":\"mamba2\",\"hidden_size\":64,\"num_heads\":8,"
                 "\"head_dim\":16,\"expand\":2,\"vocab_size\":256,\"layer_norm_epsilon\":1e-5,\"tie_word_embeddings\":false,"
                 "\"bos_token_id\":0,\"eos_token_id\":1,\"num_hidden_layers\":6,\"state_size\":%d,\"n_groups\":%d,\"conv_kernel\":4,"
                 "\"use_conv_bias\":true,\"use_bias\":false,\"hidden_act\":\"silu\",\"rms_norm\":true,\"residual_in_fp32\":true,"
                 "\"time_step_limit\":[0.0,Infinity]%s}", /* as Python's json writes float('inf') */
                 c->state, c->groups, extra);
        return;
    }
    snprintf(cfg, cap,
             "{\"architectures\":[\"NemotronHForCausalLM\"],\"model_type\":\"nemotron_h\",\"hidden_size\":64,\"intermediate_size\":96,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":24,\"vocab_size\":256,\"max_position_embeddings\":4096,"
             "\"layer_norm_epsilon\":1e-5,\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,\"num_hidden_layers\":6,"
             "\"mamba_num_heads\":8,\"mamba_head_dim\":16,\"ssm_state_size\":%d,\"n_groups\":%d,\"conv_kernel\":4,\"use_conv_bias\":true,"
             "\"use_bias\":false,\"mamba_hidden_act\":\"silu\",\"mlp_hidden_act\":\"relu2\",\"mlp_bias\":false,\"attention_bias\":false,"
             "\"time_step_limit\":[0.0,\"inf\"],\"residual_in_fp32\":false%s}",
             c->state, c->groups, extra);
}

static void check_case(const nh_case *c) {
    char cfg[2048];
    config(cfg, sizeof cfg, c, c->extra);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 31, c->name, reference, c, ids, P, G, V, 4, c->gguf);
}

static void test_two_groups(void) { check_case(&CASES[0]); }
static void test_block_type_names(void) { check_case(&CASES[1]); }
static void test_mamba2(void) {
    check_case(&CASES[4]);
    check_case(&CASES[5]);
}
static void test_experts(void) {
    check_case(&CASES[2]);
    check_case(&CASES[3]);
    check_case(&CASES[6]); /* Nemotron 3 Super's latent experts */
}

/* Bad patterns: an error naming the config file and the problem. */
static void test_bad_patterns(void) {
    static const struct { const char *extra, *want; } BAD[] = {
        {",\"hybrid_override_pattern\":\"M-*M-\"", "has 5 layers, num_hidden_layers says 6"},
        {",\"hybrid_override_pattern\":\"M-*X-M\"", "unknown Nemotron-H block type \"X\""},
        {"", "needs \"hybrid_override_pattern\""},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        char cfg[2048];
        config(cfg, sizeof cfg, &CASES[0], BAD[i].extra);
        ref_config_refused(cfg, BAD[i].want, BAD[i].extra);
    }
}

int main(void) {
    RUN(test_two_groups);
    RUN(test_block_type_names);
    RUN(test_experts);
    RUN(test_mamba2);
    RUN(test_bad_patterns);
    TEST_END();
}
