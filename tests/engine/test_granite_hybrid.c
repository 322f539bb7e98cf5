/* Granite 4.0-H (GraniteMoeHybridForCausalLM with Mamba-2 layers). No llama.cpp golden exists for
 * it in ../shared, so synthetic checkpoints are checked against a reference written here from
 * transformers' modeling_granitemoehybrid.py in double precision, sharing no code with the engine
 * (refcheck.h): the Mamba-2 mixer in its recurrent form (in_proj split into z / xBC / dt, the
 * causal depthwise conv with bias and SiLU, dt = softplus(dt + dt_bias) clamped to
 * time_step_limit, S = exp(dt A) S + dt B x, y = S C + D x, RMSNorm_w(y * SiLU(z)) over all
 * channels, out_proj), Granite's attention (attention_multiplier as the softmax scale, rotary or
 * none), its top-k-softmax experts plus the shared MLP, and the four multipliers. Every prefill
 * and decode row within 1e-3 and the same greedy ids on every backend, the prompt in one sweep
 * and in sweeps of 4 (the state carried between them). Cases: MoE with rotary embeddings, two B / C
 * groups and time_step_limit clamping dt (its GGUF export refused, naming llama.cpp, whose
 * granitehybrid normalises per group and never clamps); dense (num_local_experts 0) with rotary
 * embeddings and mamba_d_head given; MoE without rotary embeddings (the released 4.0-H form). The
 * last two also written as F32 GGUF (`quantize --gguf`: llama.cpp's granitehybrid, Mamba layers
 * where head_count_kv is 0, ssm_a = -exp(A_log)) and read back against the same rows.
 * IBM's Bamba (BambaForCausalLM) against a reference from modeling_bamba.py: attention on
 * attn_layer_indices with rotary embeddings on half of each head, the same Mamba-2 mixer elsewhere
 * (dt never clamped, even with time_step_limit in config.json), pre_ff_layernorm and the gated
 * SiLU MLP after every layer, model.final_layernorm. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 4, P = 9, G = 5, MH = 8, MP = 16, MI = MH * MP, MK = 4, E = 4, TOPK = 2 };

typedef struct {
    const char *name, *extra;
    int moe, rope, groups, state;
    const char *types[L];
    double dt_min, dt_max;
    double em, am, rm, ls; /* embedding / attention / residual multipliers, logits_scaling */
    int gguf;              /* see ref_check */
} hyb_case;

static const hyb_case CASES[] = {
    {"granite 4.0-h (moe, rope, 2 groups, dt limit)", ",\"num_local_experts\":4,\"num_experts_per_tok\":2,"
                                                      "\"position_embedding_type\":\"rope\",\"mamba_n_groups\":2,\"mamba_d_state\":16,"
                                                      "\"time_step_limit\":[0.3,0.9]",
     1, 1, 2, 16, {"mamba", "attention", "mamba", "mamba"}, 0.3, 0.9, 2.0, 0.125, 0.5, 4.0, -1},
    {"granite 4.0-h (dense, rope)", ",\"num_local_experts\":0,\"mamba_n_groups\":1,\"mamba_d_state\":24,"
                                    "\"mamba_d_head\":16,\"position_embedding_type\":\"rope\"",
     0, 1, 1, 24, {"mamba", "mamba", "attention", "mamba"}, 0, INFINITY, 1.0, 0.25, 1.0, 1.0, 1},
    {"granite 4.0-h (moe, nope)", ",\"num_local_experts\":4,\"num_experts_per_tok\":2,\"mamba_n_groups\":1,\"mamba_d_state\":32",
     1, 0, 1, 32, {"mamba", "attention", "mamba", "mamba"}, 0, INFINITY, 12.0, 0.0625, 0.22, 6.0, 1},
};

static void rmsnorm(double *o, const double *x, const double *w, int n) { ref_rmsnorm(o, x, w, n, 1e-5); }
static double silu(double v) { return v / (1 + exp(-v)); }

/* The Mamba-2 mixer of layer l (refcheck.h): its norm over all channels. */
static void mamba(const hyb_case *c, int l, const double *hn, int n, double *out) {
    ref_mamba2_dims m = {"model.layers.%d.mamba.", H, MH, MP, c->groups, c->state, MK, 1, c->dt_min, c->dt_max, 1e-5, NULL};
    ref_mamba2(&m, l, hn, n, out);
}

/* Granite attention of layer l (refcheck.h): softmax scale attention_multiplier, rope or none. */
static void attention(const hyb_case *c, int l, const double *hn, int n, double *out) {
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, c->rope ? HD : 0, 10000.0, c->am, 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
    ref_attention_layer(&at, l, hn, n, out);
}

/* act(gate rows) * up rows of a fused [2 * inter, H] input_linear, through output_linear [H, inter], times s, added to y. */
static void glu(double *y, const double *win, const double *wout, const double *x, int inter, double s) {
    double *gu = malloc(sizeof *gu * 2 * (size_t)inter), *o = malloc(sizeof *o * H);
    ref_linear(gu, win, NULL, x, 2 * inter, H);
    for (int i = 0; i < inter; i++) gu[i] = silu(gu[i]) * gu[inter + i];
    ref_linear(o, wout, NULL, gu, H, inter);
    for (int i = 0; i < H; i++) y[i] += s * o[i];
    free(gu); free(o);
}

/* The shared MLP (intermediate 48) and, with experts (intermediate 32), the top-2 of 4 by
 * softmax over the chosen logits, of one normed row x, added to y. */
static void ffn(const hyb_case *c, int l, const double *x, double *y) {
    int S = 48, EI = 32;
    double *si = ref_tensor("model.layers.%d.shared_mlp.input_linear.weight", l, (size_t)2 * S * H);
    double *so = ref_tensor("model.layers.%d.shared_mlp.output_linear.weight", l, (size_t)H * S);
    glu(y, si, so, x, S, 1.0);
    if (c->moe) {
        double *rw = ref_tensor("model.layers.%d.block_sparse_moe.router.layer.weight", l, (size_t)E * H), lg[E];
        double *ei = ref_tensor("model.layers.%d.block_sparse_moe.input_linear.weight", l, (size_t)E * 2 * EI * H);
        double *eo = ref_tensor("model.layers.%d.block_sparse_moe.output_linear.weight", l, (size_t)E * H * EI);
        ref_linear(lg, rw, NULL, x, E, H);
        int top[TOPK];
        for (int j = 0; j < TOPK; j++) {
            int b = -1;
            for (int e = 0; e < E; e++) if ((j == 0 || e != top[0]) && (b < 0 || lg[e] > lg[b])) b = e;
            top[j] = b;
        }
        double mx = lg[top[0]], z = 0;
        for (int j = 0; j < TOPK; j++) z += exp(lg[top[j]] - mx);
        for (int j = 0; j < TOPK; j++)
            glu(y, ei + (size_t)top[j] * 2 * EI * H, eo + (size_t)top[j] * H * EI, x, EI, exp(lg[top[j]] - mx) / z);
        free(rw); free(ei); free(eo);
    }
    free(si); free(so);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const hyb_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < H; i++) x[(size_t)t * H + i] = emb[(size_t)ids[t] * H + i] * c->em;
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H), m[H], f[H];
    for (int l = 0; l < L; l++) {
        double *an = ref_tensor("model.layers.%d.input_layernorm.weight", l, H), *mn = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, an, H);
        if (!strcmp(c->types[l], "mamba")) mamba(c, l, hn, n, o);
        else attention(c, l, hn, n, o);
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += o[(size_t)t * H + i] * c->rm;
            rmsnorm(m, x + (size_t)t * H, mn, H);
            memset(f, 0, sizeof f);
            ffn(c, l, m, f);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += f[i] * c->rm;
        }
        free(an); free(mn);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
        for (int i = 0; i < V; i++) lg[(size_t)t * V + i] /= c->ls;
    }
    free(fn); free(head); free(emb); free(x); free(hn); free(o);
}

static void check_case(const hyb_case *c) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"GraniteMoeHybridForCausalLM\"],\"model_type\":\"granitemoehybrid\",\"hidden_size\":64,"
             "\"intermediate_size\":32,\"shared_intermediate_size\":48,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
             "\"vocab_size\":256,\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-5,\"rope_theta\":10000,"
             "\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\",\"num_hidden_layers\":4,"
             "\"layer_types\":[\"%s\",\"%s\",\"%s\",\"%s\"],\"mamba_n_heads\":8,\"mamba_expand\":2,\"mamba_d_conv\":4,"
             "\"mamba_conv_bias\":true,\"mamba_proj_bias\":false,\"embedding_multiplier\":%g,\"attention_multiplier\":%g,"
             "\"residual_multiplier\":%g,\"logits_scaling\":%g%s}",
             c->types[0], c->types[1], c->types[2], c->types[3], c->em, c->am, c->rm, c->ls, c->extra);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 29, c->name, reference, c, ids, P, G, V, 4, c->gguf);
}

/* ---- Bamba ---- */
enum { BI = 80 }; /* its MLP width */
static const hyb_case BAMBA = {"bamba", "", 0, 1, 2, 16, {"mamba", "attention", "mamba", "mamba"}, 0, INFINITY, 1, 0.25, 1, 1, 0};

static void bamba_reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const hyb_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H), m[H], g[BI], u[BI], f[H];
    for (int l = 0; l < L; l++) {
        double *an = ref_tensor("model.layers.%d.input_layernorm.weight", l, H), *fn = ref_tensor("model.layers.%d.pre_ff_layernorm.weight", l, H);
        double *wg = ref_tensor("model.layers.%d.feed_forward.gate_proj.weight", l, (size_t)BI * H);
        double *wu = ref_tensor("model.layers.%d.feed_forward.up_proj.weight", l, (size_t)BI * H);
        double *wd = ref_tensor("model.layers.%d.feed_forward.down_proj.weight", l, (size_t)H * BI);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, an, H);
        if (!strcmp(c->types[l], "mamba")) mamba(c, l, hn, n, o);
        else {
            ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD / 2, 10000.0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
            ref_attention_layer(&at, l, hn, n, o);
        }
        for (int t = 0; t < n; t++) {
            double *xt = x + (size_t)t * H;
            for (int i = 0; i < H; i++) xt[i] += o[(size_t)t * H + i];
            rmsnorm(m, xt, fn, H);
            ref_linear(g, wg, NULL, m, BI, H);
            ref_linear(u, wu, NULL, m, BI, H);
            for (int i = 0; i < BI; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_linear(f, wd, NULL, g, H, BI);
            for (int i = 0; i < H; i++) xt[i] += f[i];
        }
        free(an); free(fn); free(wg); free(wu); free(wd);
    }
    double *nf = ref_tensor("model.final_layernorm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, nf, H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(nf); free(head); free(emb); free(x); free(hn); free(o);
}

static void test_bamba(void) {
    const char *cfg = "{\"architectures\":[\"BambaForCausalLM\"],\"model_type\":\"bamba\",\"hidden_size\":64,\"intermediate_size\":80,"
                      "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"max_position_embeddings\":4096,"
                      "\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\","
                      "\"num_hidden_layers\":4,\"attn_layer_indices\":[1],\"mamba_n_heads\":8,\"mamba_d_head\":\"auto\",\"mamba_n_groups\":2,"
                      "\"mamba_d_state\":16,\"mamba_d_conv\":4,\"mamba_expand\":2,\"mamba_conv_bias\":true,\"mamba_proj_bias\":false,"
                      "\"time_step_limit\":[0.3,0.9],\"z_loss_coefficient\":0.0}";
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 37, "bamba", bamba_reference, &BAMBA, ids, P, G, V, 4, 0);
}

static void test_moe_rope_groups(void) { check_case(&CASES[0]); }
static void test_dense_rope(void) { check_case(&CASES[1]); }
static void test_moe_nope(void) { check_case(&CASES[2]); }

int main(void) {
    RUN(test_moe_rope_groups);
    RUN(test_dense_rope);
    RUN(test_moe_nope);
    RUN(test_bamba);
    TEST_END();
}
