/* What the tests that check a family against a reference written in the test share — families
 * with no llama.cpp golden in ../shared (test_gpt_oss.c, test_post_norm.c, test_cohere.c): a
 * checkpoint's tensors as doubles for the reference, its plain pieces (a linear map, windowed
 * GQA attention with optional sinks), the reference's logits of a prompt and of its own greedy
 * continuation, and the engine against them on the cpu, cpu-staged and the GPU backends that
 * open (golden_compare: every row within 1e-3, the same greedy ids). */
#ifndef RL_TEST_REFCHECK_H
#define RL_TEST_REFCHECK_H
#include "golden_cmp.h"
#include "format/checkpoint.h"
#include "quant/gguf_export.h"
#include "model/config.h"
#include "model/synth.h"
#include "util/fileio.h"
#include <unistd.h>

static rl_checkpoint *REF_CK; /* the checkpoint the reference reads */

/* Tensor fmt (%d: layer l) of REF_CK as n doubles (F32 / F16 / BF16); a failed check if absent. */
static inline double *ref_tensor(const char *fmt, int l, size_t n) {
    char name[160];
    snprintf(name, sizeof name, fmt, l);
    const rl_tensor_info *t = rl_ckpt_find(REF_CK, name);
    CHECK(t != NULL, "tensor %s", name);
    double *o = calloc(n, sizeof *o);
    if (!t || !o) return o;
    uint8_t *b = malloc(t->nbytes);
    CHECK(b && rl_ckpt_read(REF_CK, t, b) == 0 && t->nbytes == n * RL_DTYPES[t->dtype].size, "read %s", name);
    for (size_t i = 0; b && i < n && i < t->nbytes / RL_DTYPES[t->dtype].size; i++)
        o[i] = t->dtype == RL_DT_BF16 ? rl_bf16_to_f32(((uint16_t *)b)[i]) : t->dtype == RL_DT_F16 ? rl_f16_to_f32(((uint16_t *)b)[i])
             : t->dtype == RL_DT_F32 ? ((float *)b)[i] : NAN;
    free(b);
    return o;
}

/* o = x / sqrt(mean(x^2) + eps) * w (w NULL: 1), n values; o may be x. */
static inline void ref_rmsnorm(double *o, const double *x, const double *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) o[i] = x[i] * r * (w ? w[i] : 1);
}

/* o = (x - mean) / sqrt(var + eps) * w + b (LayerNorm with weight and bias), n values. */
static inline void ref_layernorm(double *o, const double *x, const double *w, const double *b, int n, double eps) {
    double mu = 0, var = 0;
    for (int i = 0; i < n; i++) mu += x[i];
    mu /= n;
    for (int i = 0; i < n; i++) var += (x[i] - mu) * (x[i] - mu);
    double r = 1.0 / sqrt(var / n + eps);
    for (int i = 0; i < n; i++) o[i] = (x[i] - mu) * r * w[i] + b[i];
}

/* y = W x + b (b may be NULL), W [out, in]. */
static inline void ref_linear(double *y, const double *W, const double *b, const double *x, int out, int in) {
    for (int o = 0; o < out; o++) {
        double a = b ? b[o] : 0;
        for (int i = 0; i < in; i++) a += W[(size_t)o * in + i] * x[i];
        y[o] = a;
    }
}

/* A layer's attention and gated-MLP projections under transformers' Llama names, as doubles:
 * q [nq, h], k / v [nkv, h], o [h, nq], gate / up [inter, h], down [h, inter]. */
typedef struct { double *wq, *wk, *wv, *wo, *wg, *wu, *wd; int h, nq, nkv, inter; } ref_proj;

/* The gated MLP only (q / k / v / o NULL: ref_attention_layer reads the attention). */
static inline ref_proj ref_mlp_load(int l, int h, int inter) {
    ref_proj w = {NULL, NULL, NULL, NULL, ref_tensor("model.layers.%d.mlp.gate_proj.weight", l, (size_t)inter * h),
                  ref_tensor("model.layers.%d.mlp.up_proj.weight", l, (size_t)inter * h),
                  ref_tensor("model.layers.%d.mlp.down_proj.weight", l, (size_t)h * inter), h, 0, 0, inter};
    return w;
}
static inline ref_proj ref_proj_load(int l, int h, int nq, int nkv, int inter) {
    ref_proj w = ref_mlp_load(l, h, inter);
    w.wq = ref_tensor("model.layers.%d.self_attn.q_proj.weight", l, (size_t)nq * h);
    w.wk = ref_tensor("model.layers.%d.self_attn.k_proj.weight", l, (size_t)nkv * h);
    w.wv = ref_tensor("model.layers.%d.self_attn.v_proj.weight", l, (size_t)nkv * h);
    w.wo = ref_tensor("model.layers.%d.self_attn.o_proj.weight", l, (size_t)h * nq);
    w.nq = nq;
    w.nkv = nkv;
    return w;
}
static inline void ref_proj_free(ref_proj *w) { free(w->wq); free(w->wk); free(w->wv); free(w->wo); free(w->wg); free(w->wu); free(w->wd); }
/* q, k, v of one token's (normed) input x */
static inline void ref_proj_qkv(const ref_proj *w, const double *x, double *q, double *k, double *v) {
    ref_linear(q, w->wq, NULL, x, w->nq, w->h);
    ref_linear(k, w->wk, NULL, x, w->nkv, w->h);
    ref_linear(v, w->wv, NULL, x, w->nkv, w->h);
}
/* y = down(silu(gate x) * up x) */
static inline void ref_proj_mlp(const ref_proj *w, const double *x, double *y) {
    double *gt = malloc(sizeof *gt * (size_t)w->inter), *up = malloc(sizeof *up * (size_t)w->inter);
    ref_linear(gt, w->wg, NULL, x, w->inter, w->h);
    ref_linear(up, w->wu, NULL, x, w->inter, w->h);
    for (int i = 0; i < w->inter; i++) gt[i] = gt[i] / (1 + exp(-gt[i])) * up[i];
    ref_linear(y, w->wd, NULL, gt, w->h, w->inter);
    free(gt);
    free(up);
}

/* y (h) = down(silu(gate x) * up x) with the matrices named names[0..2] (gate [ff, h], up [ff, h],
 * down [h, ff]; %d: the layer l). */
static inline void ref_swiglu(double *y, const double *x, const char *const names[3], int l, int h, int ff) {
    ref_proj w = {NULL, NULL, NULL, NULL, ref_tensor(names[0], l, (size_t)ff * h), ref_tensor(names[1], l, (size_t)ff * h),
                  ref_tensor(names[2], l, (size_t)h * ff), h, 0, 0, ff};
    ref_proj_mlp(&w, x, y);
    ref_proj_free(&w);
}

/* A MoE router for one token x (h values) over E experts: scores = softmax, or sigmoid (sig), of the
 * router matrix (name router, %d: layer l) times x; the top k by score + bias (tensor `bias`, NULL:
 * none) — the lower expert first on ties —; w[e] (E values) = each chosen expert's score, over their
 * sum + eps when norm, times scale; 0 for the others. */
static inline void ref_route(double *w, const double *x, int l, const char *router, const char *bias, int E, int k, int h, int sig, int norm,
                             double eps, double scale) {
    double *wg = ref_tensor(router, l, (size_t)E * h), *eb = bias ? ref_tensor(bias, l, (size_t)E) : NULL;
    double *s = malloc(sizeof *s * (size_t)E), mx = -INFINITY, z = 0, sum = 0;
    int *chosen = calloc((size_t)E, sizeof *chosen);
    ref_linear(s, wg, NULL, x, E, h);
    for (int e = 0; e < E; e++) mx = fmax(mx, s[e]);
    for (int e = 0; e < E; e++) { s[e] = sig ? 1 / (1 + exp(-s[e])) : exp(s[e] - mx); z += s[e]; }
    for (int e = 0; !sig && e < E; e++) s[e] /= z;
    for (int j = 0; j < k; j++) {
        int b = -1;
        for (int e = 0; e < E; e++)
            if (!chosen[e] && (b < 0 || s[e] + (eb ? eb[e] : 0) > s[b] + (eb ? eb[b] : 0))) b = e;
        chosen[b] = 1;
        sum += s[b];
    }
    for (int e = 0; e < E; e++) w[e] = chosen[e] ? s[e] / (norm ? sum + eps : 1) * scale : 0;
    free(wg); free(eb); free(s); free(chosen);
}

/* y (h) = the sum of w[e] x expert e's SwiGLU of x over the experts with w[e] != 0; fmt: the gate /
 * up / down names with %%d (the layer, filled last) and %d (the expert). */
static inline void ref_experts(double *y, const double *x, const double *w, const char *const fmt[3], int l, int E, int h, int ff) {
    double *o = malloc(sizeof *o * (size_t)h);
    memset(y, 0, sizeof *y * (size_t)h);
    for (int e = 0; e < E; e++) {
        if (w[e] == 0) continue;
        char n[3][160];
        for (int i = 0; i < 3; i++) snprintf(n[i], sizeof n[i], fmt[i], e);
        const char *const names[3] = {n[0], n[1], n[2]};
        ref_swiglu(o, x, names, l, h, ff);
        for (int i = 0; i < h; i++) y[i] += w[e] * o[i];
    }
    free(o);
}

/* The rotary embedding of one head z (hd values) at position t: angle t * theta^(-2i/hd) / div for
 * pair i, pairs (i, i + hd/2) (rotate_half) or, interleaved, (2i, 2i + 1). */
static inline void ref_rope(double *z, int hd, int t, double theta, double div, int interleaved) {
    for (int i = 0; i < hd / 2; i++) {
        double f = pow(theta, -2.0 * i / hd) / div, cs = cos(t * f), sn = sin(t * f);
        int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + hd / 2;
        double u = z[a], w = z[b];
        z[a] = u * cs - w * sn;
        z[b] = w * cs + u * sn;
    }
}

/* Softmax attention of position t's nh query heads (q: rows of nh * hd per position) over the
 * keys / values of positions j0..t (nkv heads each, head h reading h / (nh / nkv)); ref_attend:
 * j0 = t - window + 1 when window > 0; scale 1/sqrt(hd); sinks (may be NULL): one more logit per
 * head whose value is zero (gpt-oss). out: nh * hd. */
static inline void ref_attend_from(double *out, const double *q, const double *k, const double *v, int t, int j0, int nh, int nkv,
                                   int hd, const double *sinks) {
    double *s = malloc(sizeof *s * (size_t)(t + 1));
    for (int h = 0; s && h < nh; h++) {
        int g = h / (nh / nkv);
        double mx = sinks ? sinks[h] : -INFINITY, sum = 0;
        for (int j = j0; j <= t; j++) {
            double d = 0;
            for (int e = 0; e < hd; e++) d += q[((size_t)t * nh + h) * hd + e] * k[((size_t)j * nkv + g) * hd + e];
            s[j] = d / sqrt((double)hd);
            mx = fmax(mx, s[j]);
        }
        if (sinks) sum = exp(sinks[h] - mx);
        for (int j = j0; j <= t; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
        for (int e = 0; e < hd; e++) {
            double a = 0;
            for (int j = j0; j <= t; j++) a += s[j] * v[((size_t)j * nkv + g) * hd + e];
            out[h * hd + e] = a / sum;
        }
    }
    free(s);
}
static inline void ref_attend(double *out, const double *q, const double *k, const double *v, int t, int nh, int nkv, int hd,
                              int window, const double *sinks) {
    ref_attend_from(out, q, k, v, t, window > 0 && t - window + 1 > 0 ? t - window + 1 : 0, nh, nkv, hd, sinks);
}

/* An attention sublayer: q / k / v / o projections named prefix + "q_proj.weight" ... (%d: the
 * layer), rotary embeddings of theta on the first rot dims of each head (0: none; pairs (i, i +
 * rot/2), or interleaved (2i, 2i + 1)), causal GQA attention over the last `window` positions (0:
 * all) with softmax scale `scale`. Optional: q / k RMSNorms (eps norm_eps) before the rotary
 * embeddings, weights prefix + q_norm / k_norm, per head (qk_full 0; 2: after the rotary embeddings,
 * Hunyuan) or (qk_full 1) over the whole projection;
 * the output projection named o_name (NULL: "o_proj.weight"); bias: q / k / v / o biases (".bias");
 * clip > 0: q / k / v clamped to [-clip, clip] after their projections (OLMo's clip_qkv). */
typedef struct {
    const char *prefix;
    int hidden, heads, kv_heads, head_dim, rot;
    double theta, scale;
    int interleaved, window;
    const char *q_norm, *k_norm;
    int qk_full;
    double norm_eps;
    const char *o_name;
    int bias;
    double clip;
} ref_attn;

/* The sublayer a of layer l over the n normed rows hn (n, hidden) into out (n, hidden). */
static inline void ref_attention_layer(const ref_attn *at, int l, const double *hn, int n, double *out) {
    char f[6][160];
    const char *const T[6] = {"q_proj.weight", "k_proj.weight", "v_proj.weight", at->o_name ? at->o_name : "o_proj.weight",
                              at->q_norm ? at->q_norm : "", at->k_norm ? at->k_norm : ""};
    for (int i = 0; i < 6; i++) snprintf(f[i], sizeof f[i], "%s%s", at->prefix, T[i]);
    int nh = at->heads, nkv = at->kv_heads, hd = at->head_dim, hidden = at->hidden;
    size_t qd = (size_t)nh * hd, kd = (size_t)nkv * hd, H = (size_t)hidden;
    double *q = malloc(sizeof *q * (size_t)n * qd), *k = malloc(sizeof *k * (size_t)n * kd), *v = malloc(sizeof *v * (size_t)n * kd);
    double *a = malloc(sizeof *a * qd), *wq = ref_tensor(f[0], l, qd * H), *wk = ref_tensor(f[1], l, kd * H);
    double *wv = ref_tensor(f[2], l, kd * H), *wo = ref_tensor(f[3], l, H * qd);
    double *qn = at->q_norm ? ref_tensor(f[4], l, at->qk_full == 1 ? qd : (size_t)hd) : NULL;
    double *kn = at->k_norm ? ref_tensor(f[5], l, at->qk_full == 1 ? kd : (size_t)hd) : NULL;
    double *bq = NULL, *bk = NULL, *bv = NULL, *bo = NULL;
    if (at->bias) { /* the weights' names with .bias */
        char b[4][160];
        for (int i = 0; i < 4; i++) snprintf(b[i], sizeof b[i], "%.*s.bias", (int)strlen(f[i]) - 7, f[i]);
        bq = ref_tensor(b[0], l, qd); bk = ref_tensor(b[1], l, kd); bv = ref_tensor(b[2], l, kd); bo = ref_tensor(b[3], l, H);
    }
    for (int t = 0; t < n; t++) {
        ref_linear(q + t * qd, wq, bq, hn + t * H, (int)qd, hidden);
        ref_linear(k + t * kd, wk, bk, hn + t * H, (int)kd, hidden);
        ref_linear(v + t * kd, wv, bv, hn + t * H, (int)kd, hidden);
        for (size_t i = 0; at->clip > 0 && i < qd; i++) q[t * qd + i] = fmin(fmax(q[t * qd + i], -at->clip), at->clip);
        for (size_t i = 0; at->clip > 0 && i < kd; i++) {
            k[t * kd + i] = fmin(fmax(k[t * kd + i], -at->clip), at->clip);
            v[t * kd + i] = fmin(fmax(v[t * kd + i], -at->clip), at->clip);
        }
        if (qn && at->qk_full == 1) ref_rmsnorm(q + t * qd, q + t * qd, qn, (int)qd, at->norm_eps);
        if (kn && at->qk_full == 1) ref_rmsnorm(k + t * kd, k + t * kd, kn, (int)kd, at->norm_eps);
        for (int pass = 0; pass < 2; pass++) { /* per-head norms before the rotary embeddings (qk_full 0) or after (2) */
            for (int r = 0; qn && at->qk_full == 2 * pass && r < nh; r++) ref_rmsnorm(q + t * qd + (size_t)r * hd, q + t * qd + (size_t)r * hd, qn, hd, at->norm_eps);
            for (int r = 0; kn && at->qk_full == 2 * pass && r < nkv; r++) ref_rmsnorm(k + t * kd + (size_t)r * hd, k + t * kd + (size_t)r * hd, kn, hd, at->norm_eps);
            for (int r = 0; !pass && at->rot && r < nh + nkv; r++)
                ref_rope(r < nh ? q + t * qd + (size_t)r * hd : k + t * kd + (size_t)(r - nh) * hd, at->rot, t, at->theta, 1, at->interleaved);
        }
        for (size_t i = 0; i < qd; i++) q[t * qd + i] *= at->scale * sqrt((double)hd); /* ref_attend divides by sqrt(hd) */
    }
    for (int t = 0; t < n; t++) {
        ref_attend(a, q, k, v, t, nh, nkv, hd, at->window, NULL);
        ref_linear(out + (size_t)t * H, wo, bo, a, hidden, (int)qd);
    }
    free(q); free(k); free(v); free(a); free(wq); free(wk); free(wv); free(wo); free(qn); free(kn); free(bq); free(bk); free(bv); free(bo);
}

/* A pre-norm decoder as doubles, the shape most families keep: the embedding rows (emb), then per
 * layer x += mixer(RMSNorm_n1(x)) over all rows and x += ffn(RMSNorm_n2(x)) row by row, the final
 * RMSNorm (fn) and the head (NULL: tied to emb). Names with %d: the layer. */
typedef struct {
    int hidden, vocab, layers;
    double eps;
    const char *emb, *n1, *n2, *fn, *head;
    void (*mixer)(const void *arg, int l, const double *hn, int n, double *out);
    void (*ffn)(const void *arg, int l, const double *x, double *y);
    const void *arg;
} ref_decoder;

/* logits (n, vocab) of the tokens ids[0..n) through decoder dc. */
static inline void ref_decoder_logits(const ref_decoder *dc, const int32_t *ids, int n, double *lg) {
    size_t H = (size_t)dc->hidden;
    double *emb = ref_tensor(dc->emb, 0, (size_t)dc->vocab * H), *x = calloc((size_t)n * H, sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H), *y = malloc(sizeof *y * H);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    for (int l = 0; l < dc->layers; l++) {
        double *n1 = ref_tensor(dc->n1, l, H), *n2 = ref_tensor(dc->n2, l, H);
        for (int t = 0; t < n; t++) ref_rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n1, (int)H, dc->eps);
        dc->mixer(dc->arg, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(hn, x + (size_t)t * H, n2, (int)H, dc->eps);
            dc->ffn(dc->arg, l, hn, y);
            for (size_t i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        free(n1); free(n2);
    }
    double *fn = ref_tensor(dc->fn, 0, H), *head = dc->head ? ref_tensor(dc->head, 0, (size_t)dc->vocab * H) : emb;
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(hn, x + (size_t)t * H, fn, (int)H, dc->eps);
        ref_linear(lg + (size_t)t * dc->vocab, head, NULL, hn, dc->vocab, (int)H);
    }
    if (head != emb) free(head);
    free(fn); free(emb); free(x); free(hn); free(o); free(y);
}

/* A Mamba-2 mixer (transformers' Mamba2Mixer family, recurrent form) as doubles. */
typedef struct {
    const char *prefix;       /* tensor names, %d: the layer ("model.layers.%d.mamba.") */
    int hidden, heads, head_dim, groups, state, conv, norm_groups; /* norm_groups 0: no norm, y * SiLU(z) */
    double dt_min, dt_max, eps;
    const double *mup;        /* NULL, or Falcon-H1's multipliers of the in_proj slices z, x, B, C, dt */
} ref_mamba2_dims;

/* The mixer of layer l over the n normed rows hn (n, hidden) into out (n, hidden), from zero
 * state: in_proj into z / xBC / dt; xBC through the causal depthwise conv with bias and SiLU into
 * x / B / C; per head h (group h / (heads / groups)) dt = clamp(softplus(dt + dt_bias)), S =
 * exp(dt A) S + dt x B^T with A = -exp(A_log), y = S C + D x; RMSNorm_w(y SiLU(z)) over each of
 * norm_groups groups of channels (none: y SiLU(z)); out_proj. */
static inline void ref_mamba2(const ref_mamba2_dims *m, int l, const double *hn, int n, double *out) {
    int H = m->hidden, NH = m->heads, P = m->head_dim, Gr = m->groups, N = m->state, K = m->conv, I = NH * P;
    int C = I + 2 * Gr * N, W = I + C + NH, gw = m->norm_groups ? I / m->norm_groups : I;
    char f[8][160];
    static const char *const T[8] = {"in_proj.weight", "conv1d.weight", "conv1d.bias", "A_log", "dt_bias", "D", "norm.weight", "out_proj.weight"};
    for (int i = 0; i < 8; i++) snprintf(f[i], sizeof f[i], "%s%s", m->prefix, T[i]);
    double *win = ref_tensor(f[0], l, (size_t)W * H), *cw = ref_tensor(f[1], l, (size_t)C * K), *cb = ref_tensor(f[2], l, (size_t)C);
    double *alog = ref_tensor(f[3], l, (size_t)NH), *dtb = ref_tensor(f[4], l, (size_t)NH), *D = ref_tensor(f[5], l, (size_t)NH);
    double *nw = m->norm_groups ? ref_tensor(f[6], l, (size_t)I) : NULL, *wo = ref_tensor(f[7], l, (size_t)H * I);
    double *proj = malloc(sizeof *proj * (size_t)n * W), *S = calloc((size_t)I * N, sizeof *S);
    double *xc = malloc(sizeof *xc * (size_t)C), *y = malloc(sizeof *y * (size_t)I);
    for (int t = 0; t < n; t++) ref_linear(proj + (size_t)t * W, win, NULL, hn + (size_t)t * H, W, H);
    for (int t = 0; m->mup && t < n; t++) /* the slices z, x, B, C, dt */
        for (int i = 0; i < W; i++)
            proj[(size_t)t * W + i] *= m->mup[i < I ? 0 : i < 2 * I ? 1 : i < 2 * I + Gr * N ? 2 : i < 2 * I + 2 * Gr * N ? 3 : 4];
    for (int t = 0; t < n; t++) {
        const double *z = proj + (size_t)t * W, *dtr = z + I + C;
        for (int ch = 0; ch < C; ch++) { /* causal conv: taps k over rows t - (K-1) + k */
            double a = cb[ch];
            for (int k = 0; k < K; k++) {
                int s = t - (K - 1) + k;
                if (s >= 0) a += cw[ch * K + k] * proj[(size_t)s * W + I + ch];
            }
            xc[ch] = a / (1 + exp(-a));
        }
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / Gr);
            double dt = fmin(fmax(log1p(exp(dtr[h] + dtb[h])), m->dt_min), m->dt_max), dA = exp(dt * -exp(alog[h]));
            for (int p = 0; p < P; p++) {
                double xv = xc[h * P + p], acc = 0, zv = z[h * P + p];
                for (int s = 0; s < N; s++) {
                    double *st = &S[((size_t)h * P + p) * N + s];
                    *st = *st * dA + dt * xc[I + g * N + s] * xv;
                    acc += *st * xc[I + Gr * N + g * N + s];
                }
                y[h * P + p] = (acc + D[h] * xv) * zv / (1 + exp(-zv));
            }
        }
        for (int g = 0; g < m->norm_groups; g++) {
            double ss = 0;
            for (int i = g * gw; i < (g + 1) * gw; i++) ss += y[i] * y[i];
            double r = 1.0 / sqrt(ss / gw + m->eps);
            for (int i = g * gw; i < (g + 1) * gw; i++) y[i] *= r * nw[i];
        }
        ref_linear(out + (size_t)t * H, wo, NULL, y, H, I);
    }
    free(win); free(cw); free(cb); free(alog); free(dtb); free(D); free(nw); free(wo); free(proj); free(S); free(xc); free(y);
}

/* config.json text cfg loaded into d (calloc'd; free it) from a temporary folder, removed after;
 * rl_config_load's return. */
static inline int ref_config_load(const char *cfg, rl_model_desc **d) {
    char dir[64] = "/tmp/rl_refcfg_XXXXXX", path[128], cmd[128];
    *d = calloc(1, sizeof **d);
    CHECK(*d && mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK(rl_write_file_atomic(path, cfg, strlen(cfg)) == 0, "write %s", path);
    int rc = *d ? rl_config_load(dir, *d) : -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return rc;
}

/* config.json text cfg refused with an error naming config.json and holding `want` (what: the case). */
static inline void ref_config_refused(const char *cfg, const char *want, const char *what) {
    rl_model_desc *d;
    int rc = ref_config_load(cfg, &d);
    CHECK(rc != 0 && strstr(rl_last_error(), want) && strstr(rl_last_error(), "config.json"), "%s: %s", what, rc ? rl_last_error() : "accepted");
    free(d);
}

/* The reference: logits of every position of ids[0..n) into lg (n, V). */
typedef void (*ref_fn)(const void *arg, const int32_t *ids, int n, double *lg);

/* ids[0..P) the prompt; ids[P..P+G) become the reference's greedy continuation (each fed back);
 * returns the reference's P + G rows of V logits as f32 (malloc'd). */
static inline float *ref_logits(ref_fn f, const void *arg, int32_t *ids, int P, int G, int V) {
    double *lg = malloc(sizeof *lg * (size_t)(P + G) * V);
    float *gl = malloc(sizeof *gl * (size_t)(P + G) * V);
    if (!lg || !gl) { free(lg); free(gl); return NULL; }
    f(arg, ids, P, lg);
    for (int g = 0; g < G; g++) {
        int b = 0;
        for (int i = 1; i < V; i++) if (lg[(size_t)(P + g - 1) * V + i] > lg[(size_t)(P + g - 1) * V + b]) b = i;
        ids[P + g] = b;
        f(arg, ids, P + g + 1, lg);
    }
    for (size_t i = 0; i < (size_t)(P + G) * V; i++) gl[i] = (float)lg[i];
    free(lg);
    return gl;
}

/* The model in dir against those rows on every backend, the prompt in one sweep and (mb > 0) in
 * sweeps of mb. */
static inline void ref_compare(const char *dir, const char *name, const int32_t *ids, int P, int G, const float *gl, int V, int mb) {
    const char *be[4] = {"cpu", "cpu-staged"};
    int nb = gpu_backends(be, 2);
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < (mb ? 2 : 1); k++) {
            rl_model_opts o = {.backend = be[b], .max_batch = k ? mb : 0};
            rl_model *m = rl_model_open(dir, &o);
            CHECK(m != NULL, "%s: open on %s: %s", name, be[b], rl_last_error());
            if (!m) continue;
            char what[128];
            snprintf(what, sizeof what, "%s [%s, batch %d]", name, be[b], k ? mb : 0);
            double w = golden_compare(m, what, ids, P, ids + P, G, gl, P + G, V);
            fprintf(stderr, "  %s: max abs diff %.2g vs the reference\n", what, w);
            rl_model_close(m);
        }
}

/* gguf 1: the checkpoint in dir written as F32 GGUF (`quantize --gguf`, llama.cpp's layout) against
 * the reference's rows gl as ref_compare; -1: its export refused with an error naming llama.cpp
 * (what GGUF cannot say); 0: nothing. */
static inline void ref_gguf_check(const char *dir, const char *name, const int32_t *ids, int P, int G, const float *gl, int V, int mb,
                                  int gguf) {
    if (!gguf) return;
    char path[512], what[128];
    snprintf(path, sizeof path, "%s.gguf", dir);
    snprintf(what, sizeof what, "%s as GGUF", name);
    int rc = rl_gguf_export(dir, path, RL_GX_F32, NULL, NULL, NULL);
    if (gguf > 0) {
        CHECK(rc == 0, "%s: quantize --gguf: %s", name, rl_last_error());
        if (!rc) ref_compare(path, what, ids, P, G, gl, V, mb);
    } else {
        CHECK(rc != 0 && strstr(rl_last_error(), "llama.cpp"), "%s: export refused: %s", name, rc ? rl_last_error() : "written");
    }
    unlink(path);
}

/* The model in dir against the reference f reading dir's checkpoint: the prompt ids[0..P), G
 * greedy steps (ids has room for them), every backend, sweeps of mb too; as GGUF too
 * (ref_gguf_check). */
static inline void ref_check(const char *dir, const char *name, ref_fn f, const void *arg, int32_t *ids, int P, int G, int V, int mb,
                             int gguf) {
    CHECK((REF_CK = rl_ckpt_open(dir)) != NULL, "%s: open checkpoint: %s", name, rl_last_error());
    float *gl = REF_CK ? ref_logits(f, arg, ids, P, G, V) : NULL;
    if (gl) ref_compare(dir, name, ids, P, G, gl, V, mb);
    if (gl) ref_gguf_check(dir, name, ids, P, G, gl, V, mb, gguf);
    rl_ckpt_close(REF_CK);
    REF_CK = NULL;
    free(gl);
}

/* A synthetic BF16 checkpoint of config cfg (seed) checked as ref_check does; its directory removed
 * after. fg (may be NULL): the GGUF export (gguf 1) checked against this second reference instead —
 * what llama.cpp computes where it departs from transformers (GELU's tanh form, ...). */
static inline void ref_synth_check_g(const char *cfg, uint64_t seed, const char *name, ref_fn f, const void *arg, ref_fn fg, const void *argg,
                                     int32_t *ids, int P, int G, int V, int mb, int gguf) {
    char dir[64] = "/tmp/rl_refcheck_XXXXXX", path[160], m_dir[160], cmd[200];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/in.json", dir);
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp && fputs(cfg, fp) >= 0 && fclose(fp) == 0, "write %s", path);
    rl_synth_opts so = {.dtype = RL_DT_BF16, .seed = seed};
    CHECK(rl_synth_write(path, m_dir, &so) == 0, "%s: synth: %s", name, rl_last_error());
    ref_check(m_dir, name, f, arg, ids, P, G, V, mb, fg ? 0 : gguf);
    if (fg && gguf) {
        CHECK((REF_CK = rl_ckpt_open(m_dir)) != NULL, "%s: open checkpoint: %s", name, rl_last_error());
        float *gl = REF_CK ? ref_logits(fg, argg, ids, P, G, V) : NULL;
        if (gl) ref_gguf_check(m_dir, name, ids, P, G, gl, V, mb, gguf);
        rl_ckpt_close(REF_CK);
        REF_CK = NULL;
        free(gl);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}
static inline void ref_synth_check(const char *cfg, uint64_t seed, const char *name, ref_fn f, const void *arg, int32_t *ids, int P, int G,
                                   int V, int mb, int gguf) {
    ref_synth_check_g(cfg, seed, name, f, arg, NULL, NULL, ids, P, G, V, mb, gguf);
}

#endif
