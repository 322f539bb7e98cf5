/* Mixture-of-experts MLP with expert streaming (see moe.h). Per layer: the router runs on the
 * normed input (backend ops), the chosen experts come back to the host and are placed
 * (moe_place.c: cached, or read from disk and then cached, uploaded or run on the CPU); the
 * byte ranges of those not cached are handed to the expert reader in batches (two buffers),
 * the shared expert and the cached experts compute while the first batch is read, then each
 * batch's experts run on the rows routed to them; every expert's outputs are added into the sum
 * at the end in ascending expert order. No allocation per call: everything is in the plan. */
#include "engine/moe.h"
#include "engine/moe_state.h"
#include "io/coalesce.h"
#include "io/stage.h"
#include "model/weights_moe.h"
#include "util/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static void *zalloc(size_t n) { return calloc(n ? n : 1, 1); }

/* Fused MXFP4 experts (gpt-oss): piece k of expert e from <name>_blocks [E, rows, cols/32, 16] and
 * <name>_scales [E, rows, cols/32] (U8). 0 / -1 + rl_err. */
static int mxfp4_piece(rl_model *m, int l, int e, int k, const char *name, int64_t rows, int64_t cols, expert_loc *x) {
    struct rl_moe_state *S = m->moe;
    char bn[340], sn[340];
    snprintf(bn, sizeof bn, "%s_blocks", name);
    snprintf(sn, sizeof sn, "%s_scales", name);
    const rl_tensor_info *tb = rl_find_tensor(&m->d, m->ck, bn), *ts = rl_find_tensor(&m->d, m->ck, sn);
    if (!tb && rl_find_tensor(&m->d, m->ck, name))
        return rl_err("%s: tensor %s is plain, but quantization_config says MXFP4 (%s_blocks / _scales)", m->dir, name, name);
    if (!tb || !ts) return rl_err("%s: missing tensor %s", m->dir, tb ? sn : bn);
    int64_t E = S->E, G = cols / 32;
    if (cols % 32) return rl_err("%s: tensor %s: %lld inputs are not whole MXFP4 blocks of 32", m->dir, bn, (long long)cols);
    if (tb->dtype != RL_DT_U8 || tb->ndim != 4 || tb->shape[0] != E || tb->shape[1] != rows || tb->shape[2] != G || tb->shape[3] != 16)
        return rl_err("%s: tensor %s: expected U8 [%lld, %lld, %lld, 16] (MXFP4 blocks)", m->dir, bn, (long long)E, (long long)rows, (long long)G);
    if (ts->dtype != RL_DT_U8 || ts->ndim != 3 || ts->shape[0] != E || ts->shape[1] != rows || ts->shape[2] != G)
        return rl_err("%s: tensor %s: expected U8 [%lld, %lld, %lld] (MXFP4 scales)", m->dir, sn, (long long)E, (long long)rows, (long long)G);
    if (!m->be->ops->supports(m->be, RL_DT_MXFP4))
        return rl_err("%s: tensor %s: MXFP4 weights are not supported by backend %s", m->dir, bn, m->be->ops->name);
    rl_stage_qrole *qt = &S->qt[(size_t)l * 3 + k];
    if (e == 0) {
        memset(qt, 0, sizeof *qt);
        qt->dt = RL_DT_MXFP4;
        qt->aux[0] = ts;
        qt->p = (rl_qweight){.scale_dt = RL_DT_U8, .rows = (int)rows, .cols = (int)cols, .bits = 4, .group = 32};
    }
    uint64_t nb = (uint64_t)rows * (uint64_t)cols / 2, ns = (uint64_t)rows * (uint64_t)G;
    x->dt[k] = RL_DT_MXFP4;
    x->file[k * XA] = tb->file;
    x->off[k * XA] = tb->offset + nb * (uint64_t)e;
    x->len[k * XA] = nb;
    x->file[k * XA + 1] = ts->file;
    x->off[k * XA + 1] = ts->offset + ns * (uint64_t)e;
    x->len[k * XA + 1] = ns;
    return 0;
}

/* The bias of expert tensor k (ename_b[k]: [E, rows]; fused: gate_up's 2I rows) as piece XB(k) of expert e. */
static int bias_piece(rl_model *m, int l, int e, int k, int64_t rows, expert_loc *x) {
    const rl_model_desc *d = &m->d;
    char name[320];
    if (!d->ename_b[k]) return 0;
    snprintf(name, sizeof name, d->ename_b[k], l);
    const rl_tensor_info *t = rl_find_tensor(d, m->ck, name);
    if (!t) return rl_err("%s: missing tensor %s", m->dir, name);
    if ((t->dtype != RL_DT_F32 && t->dtype != RL_DT_BF16 && t->dtype != RL_DT_F16) || t->ndim != 2 || t->shape[0] != m->moe->E ||
        t->shape[1] != rows)
        return rl_err("%s: tensor %s: expected F32 / BF16 / F16 [%d, %lld] (expert biases)", m->dir, name, m->moe->E, (long long)rows);
    uint64_t n = (uint64_t)rows * RL_DTYPES[t->dtype].size;
    x->bdt[k] = t->dtype;
    x->file[XB(k)] = t->file;
    x->off[XB(k)] = t->offset + n * (uint64_t)e;
    x->len[XB(k)] = n;
    return 0;
}

static int resolve_layer(rl_model *m, int l) {
    const rl_model_desc *d = &m->d;
    struct rl_moe_state *S = m->moe;
    const char *dir = m->dir;
    for (int e = 0; e < S->E; e++) {
        expert_loc *x = &S->loc[(size_t)l * S->E + e];
        for (int k = 0; k < 3; k++) {
            char name[320];
            int64_t rows, cols;
            x->len[k * XA] = 0;
            if (rl_moe_expert_name(d, l, e, k, name, sizeof name, &rows, &cols)) return rl_err("%s: expert tensor name too long", dir);
            if (!name[0]) continue;
            if (bias_piece(m, l, e, k, rows, x)) return -1;
            if (d->moe_fused && d->quant.method == RL_QM_MXFP4) {
                if (mxfp4_piece(m, l, e, k, name, rows, cols, x)) return -1;
                continue;
            }
            const rl_tensor_info *t = NULL;
            rl_stage_qrole q;
            int qr = d->moe_fused ? 0 : rl_stage_quant_role(d, m->ck, name, rows, cols, dir, &t, &q);
            if (qr < 0) return -1;
            x->dt[k] = t ? q.dt : RL_DT_F32;
            if (qr && !m->be->ops->supports(m->be, q.dt))
                return rl_err("%s: tensor %s: %s weights are not supported by backend %s", dir, name, RL_DTYPES[q.dt].st_name, m->be->ops->name);
            if (qr) { /* pre-quantized expert: its codes and extra tensors are pieces of the expert */
                rl_stage_qrole *qt = &S->qt[(size_t)l * 3 + k];
                if (e == 0) *qt = q;
                for (int a = 0; a < RL_QAUX; a++) {
                    if (!q.aux[a] != !qt->aux[a] || q.dt != qt->dt) return rl_err("%s: tensor %s: quantized differently from expert 0", dir, name);
                    x->file[k * XA + 1 + a] = q.aux[a] ? q.aux[a]->file : 0;
                    x->off[k * XA + 1 + a] = q.aux[a] ? q.aux[a]->offset : 0;
                    x->len[k * XA + 1 + a] = q.aux[a] ? q.aux[a]->nbytes : 0;
                }
                x->file[k * XA] = t->file;
                x->off[k * XA] = t->offset;
                x->len[k * XA] = t->nbytes;
                continue;
            }
            if (!(t = rl_find_tensor(d, m->ck, name))) return rl_err("%s: missing tensor %s", dir, name);
            if (!rl_dtype_is_weight(t->dtype))
                return rl_err("%s: tensor %s has dtype %s; experts must be F32, F16, BF16, Q8_0 or Q4_1", dir, t->name, RL_DTYPES[t->dtype].st_name);
            uint64_t slice = (uint64_t)rows * rl_dtype_row_bytes(t->dtype, cols);
            if (d->moe_fused) {
                int64_t r0 = d->moe_transposed ? cols : rows, c0 = d->moe_transposed ? rows : cols; /* [E, in, out] when transposed */
                if (t->ndim != 3 || t->shape[0] != S->E || t->shape[1] != r0 || t->shape[2] != c0)
                    return rl_err("%s: tensor %s: expected shape [%d, %lld, %lld] from config.json%s", dir, t->name, S->E, (long long)r0,
                                  (long long)c0, d->moe_transposed ? " (experts stored [E, in, out])" : "");
                if (d->moe_transposed) slice = (uint64_t)cols * rl_dtype_row_bytes(t->dtype, rows);
                x->off[k * XA] = t->offset + slice * (uint64_t)e;
            } else {
                if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
                    return rl_err("%s: tensor %s: expected shape [%lld, %lld] from config.json", dir, t->name, (long long)rows, (long long)cols);
                x->off[k * XA] = t->offset;
            }
            x->file[k * XA] = t->file;
            x->len[k * XA] = slice;
            x->dt[k] = t->dtype;
        }
        size_t need = 64;
        for (int p = 0; p < XP; p++) { need += ALIGN64(x->len[p]); S->total[l] += x->len[p]; }
        if (need > S->ex_bytes) S->ex_bytes = need;
    }
    return 0;
}

/* Fused experts with per-expert names to fall back on (ename_split): a checkpoint without the fused
 * tensor of its first MoE layer stores them per expert, [out, in] each. */
static void split_experts(rl_model *m) {
    rl_model_desc *d = &m->d;
    int l = 0;
    while (l < d->n_layers && !d->layer_moe[l]) l++;
    char name[320];
    if (!d->moe_fused || !d->ename_split[0] || l == d->n_layers || snprintf(name, sizeof name, d->ename[0], l) >= (int)sizeof name ||
        rl_find_tensor(d, m->ck, name))
        return;
    for (int k = 0; k < 3; k++) d->ename[k] = d->ename_split[k];
    d->moe_fused = d->moe_transposed = 0;
}

int rl_moe_plan(rl_model *m) {
    const rl_model_desc *d = &m->d;
    int any = 0;
    for (int l = 0; l < d->n_layers; l++) any |= d->n_experts > 0 && d->layer_moe[l];
    if (!any) return 0;
    split_experts(m);
    if (d->moe_fused && d->ename[1]) return rl_err("%s: fused experts take gate_up and down only", m->dir);
    if (d->moe_ungated && (d->moe_fused || d->moe_interleaved || d->moe_transposed || d->ename[0] || !d->ename[1]))
        return rl_err("%s: ungated experts take up and down tensors only", m->dir);
    if (d->moe_transposed && !m->be->ops->matmul_t) return rl_err("%s: experts stored [E, in, out] need matmul_t, which backend %s lacks", m->dir, m->be->ops->name);
    if (d->n_experts > RL_MOE_MAX_EXPERTS) return rl_err("%s: %d experts exceed the supported %d", m->dir, d->n_experts, RL_MOE_MAX_EXPERTS);
    struct rl_moe_state *S = zalloc(sizeof *S);
    if (!S) return rl_err("out of memory");
    m->moe = S;
    S->E = d->n_experts; S->k = d->n_experts_used; S->I = d->moe_inter; S->Is = d->moe_shared_inter;
    S->H = d->moe_latent > 0 ? d->moe_latent : d->hidden; S->Hm = d->hidden; S->max_T = m->max_T; S->n_layers = d->n_layers;
    S->rp = (rl_route_params){d->n_experts, d->n_experts_used, d->moe_sigmoid, d->moe_n_group, d->moe_topk_group,
                              d->moe_group_top2, d->moe_norm_topk, d->moe_scale};
    size_t E = (size_t)S->E, T = (size_t)m->max_T, H = (size_t)S->H, K = (size_t)S->k, F = sizeof(float);
    size_t Imax = (size_t)(S->I > S->Is ? S->I : S->Is);
    S->loc = zalloc((size_t)d->n_layers * E * sizeof *S->loc);
    S->qt = zalloc((size_t)d->n_layers * 3 * sizeof *S->qt);
    S->bytes = zalloc((size_t)d->n_layers * sizeof *S->bytes);
    S->total = zalloc((size_t)d->n_layers * sizeof *S->total);
    S->wait = zalloc((size_t)d->n_layers * sizeof *S->wait);
    if (!S->loc || !S->qt || !S->bytes || !S->total || !S->wait) return rl_err("out of memory");
    for (int l = 0; l < d->n_layers; l++)
        if (d->layer_moe[l]) {
            if (resolve_layer(m, l)) return -1;
            S->n_moe += l >= m->l0 && l < m->l1; /* this process's MoE layers (an MPI pipeline rank's) */
        }
    /* experts per buffer: the top-k of one token at least, and ~64 MiB worth when experts are small */
    size_t pb = (64u << 20) / S->ex_bytes;
    if (pb < K) pb = K;
    if (pb > E) pb = E;
    S->per_batch = (int)pb;
    S->top_idx = zalloc(T * K * sizeof(int32_t));
    S->top_w = zalloc(T * K * sizeof(float));
    S->cnt = zalloc(E * sizeof(int));
    S->start = zalloc((E + 1) * sizeof(int));
    S->tok_of = zalloc(T * K * sizeof(int32_t));
    S->w_of = zalloc(T * K * sizeof(float));
    if (d->moe_input_scaled && !(S->w_in = zalloc(T * K * sizeof(float)))) return rl_err("%s: out of memory for the MoE scratch", m->dir);
    S->needed = zalloc(E * sizeof(int));
    S->kind = zalloc(E);
    S->slot = zalloc(E * sizeof(int));
    S->rd = zalloc(E * sizeof(int));
    S->ranges = zalloc(E * XP * sizeof *S->ranges);
    S->batches = zalloc(E * sizeof *S->batches);
    S->t_off = zalloc(E * XP * sizeof(size_t));
    if (!S->top_idx || !S->top_w || !S->cnt || !S->start || !S->tok_of || !S->w_of || !S->needed || !S->ranges ||
        !S->batches || !S->t_off || !S->kind || !S->slot || !S->rd)
        return rl_err("%s: out of memory for the MoE scratch", m->dir);
    rl_plan *p = &m->plan;
    rl_plan_add(p, "moe router logits", RL_MEM_DEVICE, T * E * F, (void **)&S->logits);
    rl_plan_add(p, "moe choices", RL_MEM_DEVICE, T * K * 4, (void **)&S->d_idx);
    rl_plan_add(p, "moe choice weights", RL_MEM_DEVICE, T * K * F, (void **)&S->d_w);
    rl_plan_add(p, "moe rows by expert", RL_MEM_DEVICE, T * K * 4, (void **)&S->d_tok);
    rl_plan_add(p, "moe row weights", RL_MEM_DEVICE, T * K * F, (void **)&S->d_wof);
    if (d->moe_input_scaled) rl_plan_add(p, "moe input row weights", RL_MEM_DEVICE, T * K * F, (void **)&S->d_win);
    rl_plan_add(p, "moe gathered rows", RL_MEM_DEVICE, T * H * F, (void **)&S->xe);
    rl_plan_add(p, "moe expert gate", RL_MEM_DEVICE, T * Imax * F, (void **)&S->g);
    rl_plan_add(p, "moe expert up", RL_MEM_DEVICE, T * Imax * F, (void **)&S->u);
    rl_plan_add(p, "moe expert outputs", RL_MEM_DEVICE, T * K * H * F, (void **)&S->y);
    rl_plan_add(p, "moe small weights", RL_MEM_DEVICE, (2 * E + (size_t)S->Hm) * F, (void **)&S->vb);
    if (d->moe_latent > 0) {
        rl_plan_add(p, "moe latent input", RL_MEM_DEVICE, T * H * F, (void **)&S->xl);
        rl_plan_add(p, "moe latent sum", RL_MEM_DEVICE, T * H * F, (void **)&S->sum_l);
        rl_plan_add(p, "moe latent output", RL_MEM_DEVICE, T * (size_t)S->Hm * F, (void **)&S->lat_y);
    }
    if (d->moe_interleaved || d->moe_transposed) rl_plan_add(p, "moe expert gate_up", RL_MEM_DEVICE, 2 * T * Imax * F, (void **)&S->gu);
    if (d->ename_b[0] || d->ename_b[1] || d->ename_b[2]) rl_plan_add(p, "moe expert biases", RL_MEM_DEVICE, (2 * Imax + H) * F, (void **)&S->xbias);
    if (!m->be->ops->host_shared) {
        rl_plan_add(p, "moe expert batches on device (2)", RL_MEM_DEVICE, pb * S->ex_bytes, (void **)&S->xdev[0]);
        rl_plan_add(p, "", RL_MEM_DEVICE, pb * S->ex_bytes, (void **)&S->xdev[1]);
    }
    rl_plan_add(p, "moe expert batches (2)", RL_MEM_HOST, 2 * pb * S->ex_bytes, NULL);
    return rl_moe_place_plan(m, p);
}

int rl_moe_open(rl_model *m) {
    struct rl_moe_state *S = m->moe;
    if (!S) return 0;
    if (!(S->xr = rl_xr_new(m->ck, (size_t)S->per_batch * S->ex_bytes, &m->hm))) return -1;
    return rl_moe_place_open(m);
}

void rl_moe_close(rl_model *m) {
    struct rl_moe_state *S = m ? m->moe : NULL;
    if (!S) return;
    rl_xr_free(S->xr);
    rl_moe_place_close(m);
    free(S->loc); free(S->qt); free(S->bytes); free(S->total); free(S->wait);
    free(S->top_idx); free(S->top_w); free(S->cnt); free(S->start);
    free(S->tok_of); free(S->w_of); free(S->w_in); free(S->needed); free(S->kind); free(S->slot); free(S->rd); free(S->ranges); free(S->batches); free(S->t_off);
    free(S);
    m->moe = NULL;
}

/* One expert's weights: gate (fused: gate_up), up, down, and their biases (or NULL; fused: b[0] holds gate_up's). */
typedef struct { const void *w[3]; rl_dtype dt[3]; const void *b[3]; rl_dtype bdt[3]; } expert_w;

/* How an expert's fused tensors are laid out: gate_up rows interleaved; stored [in, out]. */
typedef struct { int interleaved, transposed; } expert_form;

/* One expert's gated MLP on its gathered rows x: y = down(act(gate x) * up x) (+ biases). With
 * interleaved gate_up rows (gpt-oss) one matmul into r->gu, split into r->g / r->u by copies;
 * transposed tensors ([in, out]) by matmul_t, gate_up into r->gu and split (gate, then up). */
static void expert_mlp(rl_backend *be, rl_act_kind act, expert_form f, const expert_w *w, const rl_moe_run *r,
                       const float *x, int n, int H, int I, float *y) {
    const size_t F = sizeof(float);
    const float *bgu = NULL, *bd = NULL;
    int interleaved = f.interleaved;
    if (!w->w[0]) { /* ungated (Nemotron-H): down(act(up x)) */
        if (w->b[1]) be->ops->convert(be, r->bias + I, w->b[1], w->bdt[1], I);
        if (w->b[2]) { be->ops->convert(be, r->bias + 2 * (size_t)I, w->b[2], w->bdt[2], H); bd = r->bias + 2 * (size_t)I; }
        be->ops->matmul(be, r->g, x, w->w[1], w->dt[1], w->b[1] ? r->bias + I : NULL, n, H, I);
        rl_act_mul_rows(be, act, r->g, NULL, n, I);
        be->ops->matmul(be, y, r->g, w->w[2], w->dt[2], bd, n, I, H);
        return;
    }
    if (w->b[0]) { be->ops->convert(be, r->bias, w->b[0], w->bdt[0], (w->b[1] ? 1 : 2) * (int64_t)I); bgu = r->bias; }
    if (w->b[1]) be->ops->convert(be, r->bias + I, w->b[1], w->bdt[1], I); /* separate up biases (GGUF gpt-oss) */
    if (w->b[2]) { be->ops->convert(be, r->bias + 2 * (size_t)I, w->b[2], w->bdt[2], H); bd = r->bias + 2 * (size_t)I; }
    if (f.transposed) { /* matmul_t has no bias: added row by row */
        be->ops->matmul_t(be, r->gu, x, w->w[0], w->dt[0], n, H, 2 * I);
        for (int t = 0; bgu && t < n; t++) be->ops->add(be, r->gu + (size_t)t * 2 * I, bgu, 2 * (int64_t)I);
        if (interleaved) {
            be->ops->copy2d(be, r->g, F, r->gu, 2 * F, F, n * I);
            be->ops->copy2d(be, r->u, F, r->gu + 1, 2 * F, F, n * I);
        } else {
            be->ops->copy2d(be, r->g, I * F, r->gu, 2 * I * F, I * F, n);
            be->ops->copy2d(be, r->u, I * F, r->gu + I, 2 * I * F, I * F, n);
        }
        rl_act_mul_rows(be, act, r->g, r->u, n, I);
        be->ops->matmul_t(be, y, r->g, w->w[2], w->dt[2], n, I, H);
        for (int t = 0; bd && t < n; t++) be->ops->add(be, y + (size_t)t * H, bd, H);
        return;
    }
    if (interleaved) { /* rows 2j gate j, 2j+1 up j */
        be->ops->matmul(be, r->gu, x, w->w[0], w->dt[0], bgu, n, H, 2 * I);
        be->ops->copy2d(be, r->g, F, r->gu, 2 * F, F, n * I);
        be->ops->copy2d(be, r->u, F, r->gu + 1, 2 * F, F, n * I);
    } else {
        be->ops->matmul(be, r->g, x, w->w[0], w->dt[0], bgu, n, H, I);
        be->ops->matmul(be, r->u, x, w->w[1], w->dt[1], w->b[1] || bgu ? r->bias + I : NULL, n, H, I);
    }
    rl_act_mul_rows(be, act, r->g, r->u, n, I);
    be->ops->matmul(be, y, r->g, w->w[2], w->dt[2], bd, n, I, H);
}

/* Expert e on its rows (see moe_state.h): gathered from r->xn, the MLP into y. r says where it
 * runs: the model's backend, or the CPU backend on host copies of the rows (moe_place.c). */
void rl_moe_run_expert(rl_model *m, const rl_moe_run *r, int l, int e, const uint8_t *base, const size_t *off,
                       const int32_t *rows, int n, float *y) {
    const rl_model_desc *d = &m->d;
    struct rl_moe_state *S = m->moe;
    const expert_loc *x = &S->loc[(size_t)l * S->E + e];
    int H = S->H, I = S->I;
    const void *pg = d->moe_ungated ? NULL : base + off[0], *pd = base + off[2 * XA];
    const void *pu = d->moe_fused ? (const uint8_t *)pg + (size_t)I * rl_dtype_row_bytes(x->dt[0], H) : base + off[XA];
    rl_dtype du = d->moe_fused ? x->dt[0] : x->dt[1];
    rl_qweight qw[3]; /* composite experts: host descriptors of the pieces' backend pointers */
    const void **pp[3] = {&pg, &pu, &pd};
    for (int k = 0; k < 3; k++)
        if (rl_dtype_is_composite(x->dt[k])) {
            rl_stage_qrole q = S->qt[(size_t)l * 3 + k];
            for (int a = 0; a < RL_QAUX; a++) q.aux_off[a] = off[k * XA + 1 + a];
            rl_stage_qweight(&q, base + off[k * XA], base, &qw[k]);
            *pp[k] = &qw[k];
        }
    expert_w w = {{pg, pu, pd}, {x->dt[0], du, x->dt[2]}, {NULL, NULL, NULL}, {x->bdt[0], x->bdt[1], x->bdt[2]}};
    for (int k = 0; k < 3; k++)
        if (x->len[XB(k)]) w.b[k] = base + off[XB(k)];
    rl_backend *be = r->be;
    be->ops->gather_rows(be, r->xe, r->xn, rows, n, H);
    if (r->w_in) be->ops->scale_rows(be, r->xe, r->w_in + S->start[e], n, H); /* Llama 4: the weight on the input */
    expert_form f = {d->moe_interleaved, d->moe_transposed && !rl_dtype_is_composite(x->dt[0])};
    expert_mlp(be, d->act, f, &w, r, r->xe, n, H, I, y);
}

/* Groups the T*K choices by expert (host): cnt/start/needed/tok_of/w_of; returns experts used
 * (cnt[e] is then the rows routed to e). */
static int group_by_expert(struct rl_moe_state *S, int T) {
    int E = S->E, K = S->k, n_need = 0;
    memset(S->cnt, 0, (size_t)E * sizeof(int));
    for (int i = 0; i < T * K; i++) S->cnt[S->top_idx[i]]++;
    S->start[0] = 0;
    for (int e = 0; e < E; e++) {
        S->start[e + 1] = S->start[e] + S->cnt[e];
        if (S->cnt[e]) S->needed[n_need++] = e;
        S->cnt[e] = 0;
    }
    for (int t = 0; t < T; t++)
        for (int j = 0; j < K; j++) {
            int e = S->top_idx[t * K + j], at = S->start[e] + S->cnt[e]++;
            S->tok_of[at] = t;
            S->w_of[at] = S->w_in ? 1.0f : S->top_w[t * K + j];
            if (S->w_in) S->w_in[at] = S->top_w[t * K + j];
        }
    return n_need;
}

/* Lays the experts to read (needed[rd[i]], i < n_rd) out in nb batches of `per`, each expert at
 * its own ex_bytes region of the batch buffer with its tensors coalesced into as few reads as
 * possible (io/coalesce.h); returns the bytes to read. */
static uint64_t plan_batches(struct rl_moe_state *S, int l, int n_rd, int nb, int per) {
    int nr = 0;
    uint64_t bytes = 0;
    for (int b = 0; b < nb; b++) {
        S->batches[b].ranges = S->ranges + nr;
        int r0 = nr;
        uint64_t bb = 0;
        for (int i = b * per; i < n_rd && i < (b + 1) * per; i++) {
            const expert_loc *x = &S->loc[(size_t)l * S->E + S->needed[S->rd[i]]];
            rl_span sp[XP];
            size_t so[XP], end;
            int kk[XP], n = 0;
            for (int k = 0; k < XP; k++) {
                S->t_off[i * XP + k] = (size_t)(i - b * per) * S->ex_bytes; /* absent pieces: the region's start */
                if (x->len[k]) { sp[n] = (rl_span){x->file[k], x->off[k], x->len[k]}; kk[n++] = k; bb += x->len[k]; }
            }
            nr += rl_coalesce(sp, n, (size_t)(i - b * per) * S->ex_bytes, S->ranges + nr, so, &end, 0);
            for (int q = 0; q < n; q++) S->t_off[i * XP + kk[q]] = so[q];
        }
        S->batches[b].n_ranges = nr - r0;
        S->batches[b].bytes = bb;
        bytes += bb;
    }
    return bytes;
}

int rl_moe_forward(rl_model *m, int l, const uint8_t *buf, const float *xn, float *out, int T) {
    const rl_model_desc *d = &m->d;
    struct rl_moe_state *S = m->moe;
    const rl_stage *s = &m->stages[l];
    rl_backend *be = m->be;
    if (!S || !d->layer_moe[l]) return rl_err("%s: layer %d is not a MoE layer", m->dir, l);
    if (T > S->max_T) return rl_err("moe: %d tokens exceed the %d sized at open", T, S->max_T);
    int E = S->E, K = S->k, H = S->H, Hm = S->Hm; /* (H: the routed experts' width; Hm: the model's) */

    /* router on the backend; the choices come back to pick the experts to read */
    rl_wref wr = rl_stage_weight(m, s, buf, W_MOE_ROUTER), wb = rl_stage_weight(m, s, buf, W_MOE_ROUTER_BIAS);
    rl_wref wlb = rl_stage_weight(m, s, buf, W_MOE_ROUTER_B); /* the router Linear's own bias (gpt-oss) */
    be->ops->matmul(be, S->logits, xn, wr.p, wr.dt, wlb.p ? rl_vec_f32(m, S->vb + E + Hm, wlb.p, wlb.dt, E) : NULL, T, Hm, E);
    const float *bias = wb.p ? rl_vec_f32(m, S->vb, wb.p, wb.dt, E) : NULL;
    be->ops->moe_route(be, S->logits, bias, T, &S->rp, S->d_idx, S->d_w);
    RL_TRACE(m, l, "moe_scores", S->logits, T, E);
    if (be->ops->download(be, S->top_idx, S->d_idx, (size_t)T * K * sizeof(int32_t)) ||
        be->ops->download(be, S->top_w, S->d_w, (size_t)T * K * sizeof(float)))
        return -1;
    int n_need = group_by_expert(S, T);
    if (be->ops->upload(be, S->d_tok, S->tok_of, (size_t)T * K * sizeof(int32_t)) ||
        be->ops->upload(be, S->d_wof, S->w_of, (size_t)T * K * sizeof(float)) ||
        (S->w_in && be->ops->upload(be, S->d_win, S->w_in, (size_t)T * K * sizeof(float))))
        return -1;

    /* where each expert runs (moe_place.c): from the cache, or read from disk and then taken into
     * the cache, run from the batch buffer (uploaded into a device slot), or run on the CPU */
    int n_rd = rl_moe_place(m, l, n_need);
    const float *xr = xn; /* the routed experts' input rows */
    if (S->xl) { /* latent MoE: into the experts' width */
        rl_wref li = rl_stage_weight(m, s, buf, W_MOE_LAT_IN);
        be->ops->matmul(be, S->xl, xn, li.p, li.dt, NULL, T, Hm, H);
        be->ops->zero(be, S->sum_l, (size_t)T * H * sizeof(float));
        xr = S->xl;
    }
    if (rl_moe_cpu_begin(m, xr, n_need, T)) return -1; /* the CPU experts' rows come down first */

    /* batches of experts to read: at least two when possible, so reading overlaps computing */
    int nb = n_rd ? (n_rd + S->per_batch - 1) / S->per_batch : 0;
    if (nb < 2 && n_rd >= 2) nb = 2;
    int per = nb ? (n_rd + nb - 1) / nb : 1;
    nb = (n_rd + per - 1) / per;
    uint64_t bytes = plan_batches(S, l, n_rd, nb, per);
    if (nb) rl_xr_start(S->xr, S->batches, nb);

    /* the shared expert and the cached experts while the first batch is read */
    rl_moe_run dev = {be, xr, S->xe, S->g, S->u, S->gu, S->xbias, S->d_win};
    if (s->t[W_SHX_DOWN]) { /* (on the model's width) */
        rl_wref g = rl_stage_weight(m, s, buf, W_SHX_GATE), u = rl_stage_weight(m, s, buf, W_SHX_UP);
        rl_wref dn = rl_stage_weight(m, s, buf, W_SHX_DOWN), gw = rl_stage_weight(m, s, buf, W_SHX_GATE_W);
        if (d->moe_shared_fused) u = (rl_wref){(const uint8_t *)g.p + (size_t)S->Is * rl_dtype_row_bytes(g.dt, Hm), g.dt}; /* up rows after gate's */
        expert_w sw = {{g.p, u.p, dn.p}, {g.dt, u.dt, dn.dt}, {NULL, NULL, NULL}, {RL_DT_F32, RL_DT_F32, RL_DT_F32}};
        expert_mlp(be, d->act, (expert_form){0, 0}, &sw, &dev, xn, T, Hm, S->Is, out);
        if (gw.p) be->ops->row_gate(be, out, xn, rl_vec_f32(m, S->vb + E, gw.p, gw.dt, Hm), T, Hm);
    } else
        be->ops->zero(be, out, (size_t)T * Hm * sizeof(float));
    int n_up = 0; /* RAM-tier experts uploaded for this sweep: into the batch buffers' regions in
                     turn (the device's queue orders each upload after the ops reading it before) */
    for (int j = 0; j < n_need; j++) {
        int e = S->needed[j];
        const uint8_t *base;
        const size_t *off;
        if (S->kind[j] == XK_HIT) {
            base = rl_moe_slot_mem(m, l, S->slot[j]);
            off = rl_moe_slot_off(m, l, S->slot[j]);
        } else if (S->hslot[j] < 0 || S->kind[j] == XK_CPU) {
            continue;
        } else if (S->kind[j] == XK_ADMIT) { /* from the RAM tier into its device slot */
            if (rl_moe_slot_fill(m, l, S->slot[j], rl_moe_ram_mem(m, l, S->hslot[j]), 0, rl_moe_ram_off(m, l, S->hslot[j]))) {
                if (nb) rl_xr_finish(S->xr); /* the reader is already reading this sweep's batches */
                return -1;
            }
            base = rl_moe_slot_mem(m, l, S->slot[j]);
            off = rl_moe_slot_off(m, l, S->slot[j]);
        } else { /* XK_DEV from the RAM tier, for this sweep */
            base = rl_moe_ram_mem(m, l, S->hslot[j]);
            off = rl_moe_ram_off(m, l, S->hslot[j]);
            if (!be->ops->host_shared) {
                uint8_t *dst = S->xdev[(n_up / S->per_batch) & 1] + (size_t)(n_up % S->per_batch) * S->ex_bytes;
                n_up++;
                if (be->ops->upload(be, dst, base, S->ex_bytes)) {
                    if (nb) rl_xr_finish(S->xr);
                    return -1;
                }
                base = dst;
                S->n_dev++;
            }
        }
        rl_moe_run_expert(m, &dev, l, e, base, off, S->d_tok + S->start[e], S->start[e + 1] - S->start[e],
                          S->y + (size_t)S->start[e] * H);
    }
    if (S->n_ct) be->ops->fence(be); /* submits the device's work: it runs while the CPU computes */
    for (int j = 0; j < n_need; j++) /* the CPU's experts that the RAM tier holds */
        if (S->kind[j] == XK_CPU && S->hslot[j] >= 0)
            rl_moe_cpu_expert(m, l, S->needed[j], rl_moe_ram_mem(m, l, S->hslot[j]), rl_moe_ram_off(m, l, S->hslot[j]));

    /* the experts read from disk, batch by batch: the device's first (queued and submitted),
     * then the CPU's while the device runs them */
    for (int b = 0; b < nb; b++) {
        const uint8_t *hb = rl_xr_wait(S->xr, b, &S->wait[l]);
        if (!hb) { rl_xr_finish(S->xr); return -1; }
        int uploaded = 0, submitted = 0;
        for (int pass = 0; pass < 2; pass++)
        for (int i = b * per; i < n_rd && i < (b + 1) * per; i++) {
            int j = S->rd[i], e = S->needed[j], n = S->start[e + 1] - S->start[e];
            size_t reg = (size_t)(i - b * per) * S->ex_bytes, *off = &S->t_off[i * XP];
            if ((S->kind[j] == XK_CPU) != pass) continue;
            if (S->hfill[j] >= 0) rl_moe_ram_fill(m, l, S->hfill[j], hb, reg, off); /* into the RAM tier too */
            if (pass) {
                if (uploaded && !submitted++) be->ops->fence(be); /* submits the device's share */
                rl_moe_cpu_expert(m, l, e, hb, off);
                continue;
            }
            const uint8_t *base = hb;
            size_t rel[XP];
            if (S->kind[j] == XK_ADMIT) { /* into its cache slot, run from there */
                if (rl_moe_slot_fill(m, l, S->slot[j], hb, reg, off)) { rl_xr_finish(S->xr); return -1; }
                base = rl_moe_slot_mem(m, l, S->slot[j]);
                off = rl_moe_slot_off(m, l, S->slot[j]);
                uploaded = 1;
            } else if (!be->ops->host_shared) { /* this expert's region into the device batch */
                uint8_t *dst = S->xdev[b & 1] + reg;
                if (be->ops->upload(be, dst, hb + reg, S->ex_bytes)) { rl_xr_finish(S->xr); return -1; }
                for (int p = 0; p < XP; p++) rel[p] = off[p] - reg;
                base = dst; off = rel;
                uploaded = 1;
                S->n_dev++;
            }
            rl_moe_run_expert(m, &dev, l, e, base, off, S->d_tok + S->start[e], n, S->y + (size_t)S->start[e] * H);
        }
        /* the host buffer goes back to the reader: a device copy must have been consumed */
        if (uploaded && !be->ops->host_shared && be->ops->wait(be, be->ops->fence(be))) { rl_xr_finish(S->xr); return -1; }
        rl_xr_release(S->xr, b);
    }
    if (nb) rl_xr_finish(S->xr);
    if (rl_moe_cpu_end(m, n_need)) return -1;
    /* the weighted outputs into the sum in ascending expert order, wherever each expert ran
     * (latent MoE: summed in the latent width, then projected back once) */
    for (int j = 0; j < n_need; j++) {
        int e = S->needed[j];
        be->ops->scatter_add_rows(be, S->sum_l ? S->sum_l : out, S->y + (size_t)S->start[e] * H, S->d_tok + S->start[e],
                                  S->d_wof + S->start[e], S->start[e + 1] - S->start[e], H);
    }
    if (S->sum_l) {
        rl_wref lo = rl_stage_weight(m, s, buf, W_MOE_LAT_OUT);
        be->ops->matmul(be, S->lat_y, S->sum_l, lo.p, lo.dt, NULL, T, H, Hm);
        be->ops->add(be, out, S->lat_y, (int64_t)T * Hm);
    }
    S->bytes[l] += bytes;
    return 0;
}

uint64_t rl_moe_layer_bytes(const rl_model *m, int l) { return m->moe ? m->moe->bytes[l] : 0; }
double rl_moe_layer_wait_s(const rl_model *m, int l) { return m->moe ? m->moe->wait[l] : 0; }
uint64_t rl_moe_layer_total_bytes(const rl_model *m, int l) { return m->moe ? m->moe->total[l] : 0; }
void rl_moe_reset_stats(rl_model *m) {
    if (!m->moe) return;
    memset(m->moe->bytes, 0, (size_t)m->moe->n_layers * sizeof(uint64_t));
    memset(m->moe->wait, 0, (size_t)m->moe->n_layers * sizeof(double));
}
