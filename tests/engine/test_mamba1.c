/* Mamba-1 models: MambaForCausalLM, FalconMambaForCausalLM and JambaForCausalLM. No llama.cpp
 * golden exists for them in ../shared, so synthetic checkpoints are checked against a reference
 * written here from transformers' modeling_mamba.py / modeling_falcon_mamba.py /
 * modeling_jamba.py (MambaMixer.slow_forward) in double precision, sharing no code with the
 * engine (refcheck.h): in_proj into x and z; x through the causal depthwise conv with its bias
 * and SiLU; x_proj into dt (dt_rank), B and C (d_state each) — FalconMamba: each RMS-normalised
 * without a weight (eps mixer_rms_eps), Jamba: with its dt / b / c layernorm weights; dt =
 * softplus(dt_proj(dt)) with dt_proj's bias inside; per channel d and state n S = exp(dt A) S +
 * dt B x with A = -exp(A_log) [I, N], y = S C + D x; out_proj(y * SiLU(z)). Mamba / FalconMamba:
 * every layer norm + mixer under backbone.*, tied head. Jamba: attention without positional
 * embeddings on l % attn_layer_period == attn_layer_offset, the mixer elsewhere; pre_ff_layernorm,
 * then softmax top-k experts (not renormalised) on l % expert_layer_period == expert_layer_offset,
 * the gated MLP elsewhere. Every prefill and decode row within 1e-3 and the same greedy ids on
 * every backend, the prompt in one sweep and in sweeps of 4; each also written as F32 GGUF
 * (`quantize --gguf`: llama.cpp's mamba with ssm.dt_b_c_rms for FalconMamba, jamba with the
 * per-layer head_count_kv) and read back against the same rows. */
#include "refcheck.h"
#include "model/config.h"

enum { H = 64, V = 256, L = 4, P = 9, G = 6, MAXI = 256, MAXN = 32, MAXR = 16, NH = 4, NKV = 2, HD = 16, E = 4, FF = 96 };

typedef struct {
    const char *name, *cfg_extra;
    int falcon, jamba;
    int I, N, R, K;       /* channels, state, dt rank, conv */
    int attn[L], moe[L];  /* Jamba's layer kinds */
    int topk;
} m1_case;

static const m1_case CASES[] = {
    {"mamba", ",\"state_size\":16,\"time_step_rank\":\"auto\"", 0, 0, 128, 16, 4, 4, {0}, {0}, 0},
    {"mamba (dt rank 8, state 24, conv 3)", ",\"state_size\":24,\"time_step_rank\":8,\"conv_kernel\":3", 0, 0, 128, 24, 8, 3, {0}, {0}, 0},
    {"falcon_mamba", ",\"state_size\":16,\"time_step_rank\":\"auto\",\"mixer_rms_eps\":1e-6", 1, 0, 128, 16, 4, 4, {0}, {0}, 0},
    {"jamba (top-2 of 4 experts)", ",\"num_experts\":4,\"num_experts_per_tok\":2,\"expert_layer_period\":2,\"expert_layer_offset\":0", 0, 1,
     128, 8, 8, 4, {0, 1, 0, 1}, {1, 0, 1, 0}, 2},
    {"jamba (one expert: dense)", ",\"num_experts\":1,\"num_experts_per_tok\":1,\"mamba_dt_rank\":\"auto\"", 0, 1, 128, 8, 4, 4,
     {0, 1, 0, 1}, {0}, 0},
};

static void rmsnorm(double *o, const double *x, const double *w, int n, double eps) { ref_rmsnorm(o, x, w, n, eps); }

static double silu(double v) { return v / (1 + exp(-v)); }

/* The Mamba mixer of layer l (tensors prefix + name) over the n normed rows hn into out. */
static void mixer(const m1_case *c, const char *prefix, int l, const double *hn, int n, double *out) {
    static const char *const T[12] = {"in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
                                      "A_log", "D", "out_proj.weight", "dt_layernorm.weight", "b_layernorm.weight", "c_layernorm.weight"};
    char f[12][160];
    for (int i = 0; i < 12; i++) snprintf(f[i], sizeof f[i], "%s%s", prefix, T[i]);
    int I = c->I, N = c->N, R = c->R, K = c->K, W = R + 2 * N;
    double *win = ref_tensor(f[0], l, (size_t)2 * I * H), *cw = ref_tensor(f[1], l, (size_t)I * K), *cb = ref_tensor(f[2], l, (size_t)I);
    double *xw = ref_tensor(f[3], l, (size_t)W * I), *dw = ref_tensor(f[4], l, (size_t)I * R), *db = ref_tensor(f[5], l, (size_t)I);
    double *alog = ref_tensor(f[6], l, (size_t)I * N), *D = ref_tensor(f[7], l, (size_t)I), *wo = ref_tensor(f[8], l, (size_t)H * I);
    double *nw[3] = {NULL, NULL, NULL};
    if (c->jamba) { nw[0] = ref_tensor(f[9], l, (size_t)R); nw[1] = ref_tensor(f[10], l, (size_t)N); nw[2] = ref_tensor(f[11], l, (size_t)N); }
    double *xz = malloc(sizeof *xz * (size_t)n * 2 * I), *S = calloc((size_t)I * N, sizeof *S);
    double xc[MAXI], p[MAXR + 2 * MAXN], dt[MAXI], y[MAXI];
    for (int t = 0; t < n; t++) ref_linear(xz + (size_t)t * 2 * I, win, NULL, hn + (size_t)t * H, 2 * I, H);
    for (int t = 0; t < n; t++) {
        for (int d = 0; d < I; d++) { /* causal conv: tap k on row t - (K-1) + k */
            double a = cb[d];
            for (int k = 0; k < K; k++) {
                int s = t - (K - 1) + k;
                if (s >= 0) a += cw[d * K + k] * xz[(size_t)s * 2 * I + d];
            }
            xc[d] = silu(a);
        }
        ref_linear(p, xw, NULL, xc, W, I); /* dt | B | C */
        if (c->falcon || c->jamba) {
            double eps = c->falcon ? 1e-6 : 1e-5;
            rmsnorm(p, p, nw[0], R, eps);
            rmsnorm(p + R, p + R, nw[1], N, eps);
            rmsnorm(p + R + N, p + R + N, nw[2], N, eps);
        }
        ref_linear(dt, dw, db, p, I, R);
        for (int d = 0; d < I; d++) {
            double v = dt[d] > 20 ? dt[d] : log1p(exp(dt[d])), acc = 0; /* softplus (torch's threshold 20) */
            for (int s = 0; s < N; s++) {
                double *st = &S[(size_t)d * N + s];
                *st = *st * exp(v * -exp(alog[(size_t)d * N + s])) + v * p[R + s] * xc[d];
                acc += *st * p[R + N + s];
            }
            y[d] = (acc + D[d] * xc[d]) * silu(xz[(size_t)t * 2 * I + I + d]);
        }
        ref_linear(out + (size_t)t * H, wo, NULL, y, H, I);
    }
    free(win); free(cw); free(cb); free(xw); free(dw); free(db); free(alog); free(D); free(wo); free(xz); free(S);
    for (int i = 0; i < 3; i++) free(nw[i]);
}

/* y += w down(silu(gate x) * up x) for one row (feed_forward.* names; expert e >= 0: experts.e.*). */
static void glu(double *y, int l, int e, const double *x, double w) {
    char g[128], u[128], dn[128];
    const char *base = "model.layers.%d.feed_forward.";
    if (e >= 0) {
        snprintf(g, sizeof g, "%sexperts.%d.gate_proj.weight", base, e);
        snprintf(u, sizeof u, "%sexperts.%d.up_proj.weight", base, e);
        snprintf(dn, sizeof dn, "%sexperts.%d.down_proj.weight", base, e);
    } else {
        snprintf(g, sizeof g, "%sgate_proj.weight", base);
        snprintf(u, sizeof u, "%sup_proj.weight", base);
        snprintf(dn, sizeof dn, "%sdown_proj.weight", base);
    }
    double *wg = ref_tensor(g, l, (size_t)FF * H), *wu = ref_tensor(u, l, (size_t)FF * H), *wd = ref_tensor(dn, l, (size_t)H * FF);
    double a[FF], b[FF], o[H];
    ref_linear(a, wg, NULL, x, FF, H);
    ref_linear(b, wu, NULL, x, FF, H);
    for (int i = 0; i < FF; i++) a[i] = silu(a[i]) * b[i];
    ref_linear(o, wd, NULL, a, H, FF);
    for (int i = 0; i < H; i++) y[i] += w * o[i];
    free(wg); free(wu); free(wd);
}

/* Jamba's feed-forward of layer l into out. */
static void feed_forward(const m1_case *c, int l, const double *hn, int n, double *out) {
    memset(out, 0, sizeof *out * (size_t)n * H);
    double *rw = c->moe[l] ? ref_tensor("model.layers.%d.feed_forward.router.weight", l, (size_t)E * H) : NULL;
    for (int t = 0; t < n; t++) {
        const double *x = hn + (size_t)t * H;
        if (!c->moe[l]) { glu(out + (size_t)t * H, l, -1, x, 1); continue; }
        double lg[E], mx = -INFINITY, sum = 0;
        ref_linear(lg, rw, NULL, x, E, H);
        for (int e = 0; e < E; e++) mx = fmax(mx, lg[e]);
        for (int e = 0; e < E; e++) sum += (lg[e] = exp(lg[e] - mx));
        int used[E] = {0};
        for (int j = 0; j < c->topk; j++) { /* softmax over all, top-k kept as they are */
            int b = -1;
            for (int e = 0; e < E; e++) if (!used[e] && (b < 0 || lg[e] > lg[b])) b = e;
            used[b] = 1;
            glu(out + (size_t)t * H, l, b, x, lg[b] / sum);
        }
    }
    free(rw);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const m1_case *c = arg;
    const char *emb_n = c->jamba ? "model.embed_tokens.weight" : "backbone.embeddings.weight";
    double *emb = ref_tensor(emb_n, 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    double eps = c->jamba ? 1e-5 : 1e-5;
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor(c->jamba ? "model.layers.%d.input_layernorm.weight" : "backbone.layers.%d.norm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n1, H, eps);
        if (c->jamba && c->attn[l]) {
            ref_attn at = {"model.layers.%d.self_attn.", H, NH, NKV, HD, 0, 0, 1.0 / sqrt((double)HD), 0, 0, NULL, NULL, 0, 0, NULL, 0, 0};
            ref_attention_layer(&at, l, hn, n, o);
        } else
            mixer(c, c->jamba ? "model.layers.%d.mamba." : "backbone.layers.%d.mixer.", l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        free(n1);
        if (!c->jamba) continue;
        double *n2 = ref_tensor("model.layers.%d.pre_ff_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n2, H, eps);
        feed_forward(c, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        free(n2);
    }
    double *fn = ref_tensor(c->jamba ? "model.final_layernorm.weight" : "backbone.norm_f.weight", 0, H);
    double *head = c->jamba ? ref_tensor("lm_head.weight", 0, (size_t)V * H) : emb; /* Mamba: tied */
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, fn, H, eps);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    if (head != emb) free(head);
    free(fn); free(emb); free(x); free(hn); free(o);
}

/* The case's config.json: its extra keys first (cJSON takes the first of a repeated key). */
static void config(char *cfg, size_t cap, const m1_case *c) {
    if (c->jamba)
        snprintf(cfg, cap,
                 "{\"_\":0%s,\"architectures\":[\"JambaForCausalLM\"],\"model_type\":\"jamba\",\"hidden_size\":64,\"intermediate_size\":96,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":256,\"num_hidden_layers\":4,\"rms_norm_eps\":1e-5,"
                 "\"tie_word_embeddings\":false,\"bos_token_id\":1,\"eos_token_id\":2,\"hidden_act\":\"silu\",\"attn_layer_period\":2,"
                 "\"attn_layer_offset\":1,\"mamba_d_state\":%d,\"mamba_d_conv\":%d,\"mamba_expand\":2,\"mamba_dt_rank\":%d,"
                 "\"mamba_conv_bias\":true,\"mamba_proj_bias\":false,\"use_mamba_kernels\":false}",
                 c->cfg_extra, c->N, c->K, c->R);
    else
        snprintf(cfg, cap,
                 "{\"_\":0%s,\"architectures\":[\"%s\"],\"model_type\":\"%s\",\"hidden_size\":64,\"intermediate_size\":128,\"vocab_size\":256,"
                 "\"num_hidden_layers\":4,\"layer_norm_epsilon\":1e-5,\"expand\":2,\"conv_kernel\":4,\"use_bias\":false,"
                 "\"use_conv_bias\":true,\"hidden_act\":\"silu\",\"bos_token_id\":0,\"eos_token_id\":0,\"residual_in_fp32\":true}",
                 c->cfg_extra, c->falcon ? "FalconMambaForCausalLM" : "MambaForCausalLM", c->falcon ? "falcon_mamba" : "mamba");
}

static void check_case(const m1_case *c) {
    char cfg[2048];
    config(cfg, sizeof cfg, c);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    ref_synth_check(cfg, 53, c->name, reference, c, ids, P, G, V, 4, 1); /* and as llama.cpp's mamba / jamba GGUF */
}

static void test_mamba(void) {
    check_case(&CASES[0]);
    check_case(&CASES[1]);
}
static void test_falcon_mamba(void) { check_case(&CASES[2]); }
static void test_jamba(void) {
    check_case(&CASES[3]);
    check_case(&CASES[4]);
}

/* Bad configs: an error naming config.json and the problem. */
static void test_bad_configs(void) {
    static const struct { int c; const char *extra, *want; } BAD[] = {
        {0, ",\"use_bias\":true", "\"use_bias\" true"},
        {3, ",\"attn_layer_offset\":3", "\"attn_layer_offset\" 3 must be below \"attn_layer_period\" 2"},
        {3, ",\"mamba_proj_bias\":true", "\"mamba_proj_bias\" true"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        char cfg[2048], extra[512];
        m1_case c = CASES[BAD[i].c];
        snprintf(extra, sizeof extra, "%s%s", BAD[i].extra, c.cfg_extra);
        c.cfg_extra = extra;
        config(cfg, sizeof cfg, &c);
        ref_config_refused(cfg, BAD[i].want, BAD[i].extra);
    }
}

int main(void) {
    RUN(test_mamba);
    RUN(test_falcon_mamba);
    RUN(test_jamba);
    RUN(test_bad_configs);
    TEST_END();
}
