/* LFM2 (Lfm2ForCausalLM) and LFM2-MoE (Lfm2MoeForCausalLM), Liquid AI: attention layers with
 * per-head q/k RMSNorm and gated short-conv layers (out_proj(C * conv(B * x)), [B | C | x] =
 * in_proj h). No golden exists for them in ../shared, so synthetic checkpoints are checked against
 * a reference written here from transformers' modeling_lfm2.py / modeling_lfm2_moe.py in double
 * precision: every prefill and decode row within 1e-3 and the same greedy ids on every backend,
 * in one sweep and in sweeps of 4 (a conv state carried across sweeps). The configs use LFM2's own
 * keys (block_ff_dim with the auto-adjusted width, theta, tie_embedding, full_attn_idxs) so a
 * wrong reading of them reads tensors of the wrong size. */
#include "refcheck.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, P = 9, G = 6, KC = 3 };

typedef struct {
    int layers, ff, moe_ff, experts, top_k, dense; /* dense: layers before the first MoE one (experts 0: none) */
    const char *attn;                              /* per layer: 'a' attention, 'c' short conv */
    double theta, scale;                           /* rope theta, routed_scaling_factor */
} lfm2_case;

/* Lfm2MoeSparseMoeBlock: sigmoid scores, the top-k of scores + expert_bias, their scores
 * renormalised (sum + 1e-6) and times routed_scaling_factor. */
static void moe(double *y, const double *x, int l, const lfm2_case *c) {
    static const char *const FMT[3] = {"model.layers.%%d.feed_forward.experts.%d.w1.weight", "model.layers.%%d.feed_forward.experts.%d.w3.weight",
                                       "model.layers.%%d.feed_forward.experts.%d.w2.weight"};
    double w[16];
    ref_route(w, x, l, "model.layers.%d.feed_forward.gate.weight", "model.layers.%d.feed_forward.expert_bias", c->experts, c->top_k, H, 1, 1,
              1e-6, c->scale);
    ref_experts(y, x, w, FMT, l, c->experts, H, c->moe_ff);
}

/* Lfm2ShortConv over the n normed rows hn (zero conv state before row 0) into out. */
static void short_conv(int l, const double *hn, int n, double *out) {
    double *win = ref_tensor("model.layers.%d.conv.in_proj.weight", l, (size_t)3 * H * H);
    double *cw = ref_tensor("model.layers.%d.conv.conv.weight", l, (size_t)H * KC);
    double *wo = ref_tensor("model.layers.%d.conv.out_proj.weight", l, (size_t)H * H);
    double *p = malloc(sizeof *p * (size_t)n * 3 * H), *bx = malloc(sizeof *bx * (size_t)n * H), y[H];
    for (int t = 0; t < n; t++) {
        ref_linear(p + (size_t)t * 3 * H, win, NULL, hn + (size_t)t * H, 3 * H, H);
        for (int c = 0; c < H; c++) bx[(size_t)t * H + c] = p[(size_t)t * 3 * H + c] * p[(size_t)t * 3 * H + 2 * H + c]; /* B * x */
    }
    for (int t = 0; t < n; t++) {
        for (int c = 0; c < H; c++) {
            double a = 0;
            for (int k = 0; k < KC; k++) {
                int j = t - (KC - 1) + k; /* nn.Conv1d with padding K-1, the first n outputs */
                if (j >= 0) a += cw[(size_t)c * KC + k] * bx[(size_t)j * H + c];
            }
            y[c] = p[(size_t)t * 3 * H + H + c] * a; /* C * conv */
        }
        ref_linear(out + (size_t)t * H, wo, NULL, y, H, H);
    }
    free(win); free(cw); free(wo); free(p); free(bx);
}

static void mixer(const void *arg, int l, const double *hn, int n, double *out) {
    const lfm2_case *c = arg;
    ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, HD, c->theta, 1.0 / sqrt((double)HD), 0, 0,
                   "q_layernorm.weight", "k_layernorm.weight", 0, 1e-5, "out_proj.weight", 0, 0}; /* (Lfm2Attention: per-head q / k norms) */
    if (c->attn[l] == 'a') ref_attention_layer(&at, l, hn, n, out);
    else short_conv(l, hn, n, out);
}

static void ffn(const void *arg, int l, const double *x, double *y) {
    const lfm2_case *c = arg;
    static const char *const MLP[3] = {"model.layers.%d.feed_forward.w1.weight", "model.layers.%d.feed_forward.w3.weight",
                                       "model.layers.%d.feed_forward.w2.weight"};
    if (c->experts && l >= c->dense) moe(y, x, l, c);
    else ref_swiglu(y, x, MLP, l, H, c->ff);
}

/* operator_norm, ffn_norm; the final norm is named embedding_norm; tied */
static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    ref_decoder dc = {H, V, ((const lfm2_case *)arg)->layers, 1e-5, "model.embed_tokens.weight", "model.layers.%d.operator_norm.weight",
                      "model.layers.%d.ffn_norm.weight", "model.embedding_norm.weight", NULL, mixer, ffn, arg};
    ref_decoder_logits(&dc, ids, n, lg);
}

static void test_lfm2(void) {
    /* block_ff_dim 200: int(2 * 200 / 3) = 133, x 1.5 = 199, up to a multiple of 32: 224 */
    static const char CFG[] =
        "{\"architectures\":[\"Lfm2ForCausalLM\"],\"model_type\":\"lfm2\",\"hidden_size\":64,\"block_ff_dim\":200,"
        "\"block_auto_adjust_ff_dim\":true,\"block_ffn_dim_multiplier\":1.5,\"block_multiple_of\":32,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":4,\"norm_eps\":1e-5,"
        "\"conv_L_cache\":3,\"conv_bias\":false,\"theta\":5000.0,\"tie_embedding\":true,\"full_attn_idxs\":[1,3],"
        "\"bos_token_id\":0,\"eos_token_id\":1}";
    lfm2_case c = {4, 224, 0, 0, 0, 0, "caca", 5000.0, 1};
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(CFG, 81, "lfm2", reference, &c, ids, P, G, V, 4, 1); /* and as llama.cpp's lfm2 GGUF */
}

/* routed_scaling_factor 1.5: as safetensors, its GGUF export refused (llama.cpp's lfm2moe does not
 * scale); the released 1.0 through GGUF too. */
static void test_lfm2_moe(void) {
    static const char CFG[] =
        "{\"architectures\":[\"Lfm2MoeForCausalLM\"],\"model_type\":\"lfm2_moe\",\"hidden_size\":64,\"intermediate_size\":96,"
        "\"moe_intermediate_size\":32,\"num_experts\":6,\"num_experts_per_tok\":2,\"num_dense_layers\":1,\"use_expert_bias\":true,"
        "\"norm_topk_prob\":true,\"routed_scaling_factor\":%s,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,"
        "\"num_hidden_layers\":3,\"norm_eps\":1e-5,\"conv_L_cache\":3,\"rope_theta\":1000000.0,\"tie_word_embeddings\":true,"
        "\"layer_types\":[\"conv\",\"full_attention\",\"conv\"],\"bos_token_id\":0,\"eos_token_id\":1}";
    static const char *const SCALE[2] = {"1.5", "1.0"};
    for (int i = 0; i < 2; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg, CFG, SCALE[i]);
        lfm2_case c = {3, 96, 32, 6, 2, 1, "cac", 1e6, atof(SCALE[i])};
        int32_t ids[P + G] = {9, 3, 77, 140, 2, 61, 250, 8, 33};
        ref_synth_check(cfg, 82 + (uint64_t)i, "lfm2_moe", reference, &c, ids, P, G, V, 4, i ? 1 : -1); /* as lfm2moe GGUF, or refused */
    }
}

/* The MLP width as Lfm2MLP computes it from each form of the keys, and the layer kinds. */
static void test_lfm2_config(void) {
    static const struct { const char *keys; int ff; const char *kinds; } C[] = {
        {"\"intermediate_size\":12288", 8192, "aaaa"},                                   /* 2/3, x 1.0, up to 256 */
        {"\"intermediate_size\":999,\"block_ff_dim\":12288", 8192, "aaaa"},            /* block_ff_dim wins */
        {"\"intermediate_size\":300,\"block_auto_adjust_ff_dim\":false", 300, "aaaa"},  /* as given */
        {"\"intermediate_size\":300,\"block_ffn_dim_multiplier\":null", 200, "aaaa"},   /* 2/3, no rounding */
        {"\"intermediate_size\":300,\"block_multiple_of\":64,\"full_attn_idxs\":[0,2]", 256, "acac"},
        {"\"intermediate_size\":300,\"layer_types\":[\"conv\",\"conv\",\"full_attention\",\"conv\"]", 256, "ccac"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, "{\"architectures\":[\"Lfm2ForCausalLM\"],\"hidden_size\":64,\"num_attention_heads\":4,\"vocab_size\":256,"
                 "\"num_hidden_layers\":4,%s}", C[i].keys);
        rl_model_desc *d;
        int rc = ref_config_load(cfg, &d);
        CHECK(rc == 0, "%s: %s", C[i].keys, rl_last_error());
        if (!rc) {
            char kinds[5] = {0};
            for (int l = 0; l < 4; l++) kinds[l] = d->layers[l].kind == RL_LAYER_LINEAR ? 'c' : 'a';
            CHECK(d->intermediate == C[i].ff && !strcmp(kinds, C[i].kinds) && d->tied && d->ropes[0].theta == 1e6,
                  "%s: width %d (want %d), layers %s (want %s), tied %d, theta %g", C[i].keys, d->intermediate, C[i].ff, kinds, C[i].kinds,
                  d->tied, d->ropes[0].theta);
        }
        free(d);
    }
}

static void test_lfm2_refused(void) {
    static const char BASE[] = "{\"architectures\":[\"Lfm2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                               "\"vocab_size\":256,\"num_hidden_layers\":2,%s}";
    static const struct { const char *extra, *want; } BAD[] = {
        {"\"layer_types\":[\"conv\",\"mamba\"]", "\"conv\" or \"full_attention\""},
        {"\"layer_types\":[\"conv\"]", "list of 2 entries"},
        {"\"full_attn_idxs\":[5]", "not a layer number"},
        {"\"conv_bias\":true", "conv_bias"},
        {"\"conv_L_cache\":0", "conv_L_cache"},
        {"\"block_ffn_dim_multiplier\":\"x\"", "block_ffn_dim_multiplier"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, BASE, BAD[i].extra);
        ref_config_refused(cfg, BAD[i].want, BAD[i].extra);
    }
    ref_config_refused("{\"architectures\":[\"Lfm2MoeForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
                       "\"vocab_size\":256,\"num_hidden_layers\":2,\"num_experts\":4,\"num_experts_per_tok\":2}",
                       "layer_types", "LFM2-MoE without layer_types");
}

int main(void) {
    RUN(test_lfm2);
    RUN(test_lfm2_moe);
    RUN(test_lfm2_config);
    RUN(test_lfm2_refused);
    TEST_END();
}
