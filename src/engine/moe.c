/* Mixture-of-experts MLP with expert streaming (see moe.h). Per layer: the router runs on the
 * normed input (backend ops), the chosen experts come back to the host, their byte ranges are
 * handed to the expert reader in batches (two buffers), the shared expert computes while the
 * first batch is read, then each batch's experts run on the rows routed to them (gathered and
 * scattered on the backend). No allocation per call: everything is in the memory plan. */
#include "engine/moe.h"
#include "io/coalesce.h"
#include "io/expert_reader.h"
#include "model/weights_moe.h"
#include "util/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

/* Pieces of one expert: tensor k (0 gate (fused: gate_up), 1 up (fused: unused), 2 down) is
 * piece k * XA, and a composite (pre-quantized) tensor's extra tensors are pieces k * XA + 1 + a. */
#define XA (1 + RL_QAUX)
#define XP (3 * XA)
typedef struct {
    int file[XP];
    uint64_t off[XP], len[XP];
    rl_dtype dt[3];           /* composite dtype where the checkpoint is pre-quantized */
} expert_loc;

struct rl_moe_state {
    int E, k, I, Is, H, max_T, n_layers;
    expert_loc *loc;          /* (n_layers, E); only MoE layers filled */
    rl_stage_qrole *qt;       /* (n_layers, 3): composite expert tensors' format (aux presence, params) */
    size_t ex_bytes;          /* buffer bytes of one expert (aligned pieces) */
    int per_batch;            /* experts per reader buffer */
    rl_expert_reader *xr;
    rl_route_params rp;
    /* host */
    int32_t *top_idx;         /* (max_T, k) chosen experts */
    float *top_w;             /* (max_T, k) their weights */
    int *cnt, *start;         /* (E), (E+1) tokens per expert, prefix sums */
    int32_t *tok_of;          /* (max_T*k) token of each assignment, grouped by expert */
    float *w_of;              /* (max_T*k) its weight */
    int *needed;              /* (E) experts used this call, ascending */
    rl_xr_range *ranges;      /* (E*XP) */
    rl_xr_batch *batches;     /* (E) */
    size_t *t_off;            /* (E*XP) piece k of needed[j] at t_off[j*XP+k] in its batch buffer */
    /* device */
    float *logits;            /* (max_T, E) router logits, then scores */
    int32_t *d_idx;           /* (max_T, k) */
    float *d_w;               /* (max_T, k) */
    int32_t *d_tok;           /* (max_T*k) tok_of */
    float *d_wof;             /* (max_T*k) w_of */
    float *xe, *g, *u, *y;    /* (max_T, H), (max_T, max(I, Is)) x2, (max_T, H) */
    float *vb;                /* f32 vectors: correction bias (E), shared gate weights (H) */
    uint8_t *xdev[2];         /* device copies of the two expert batches (NULL if host_shared) */
    uint64_t *bytes, *total;  /* per layer: expert bytes read, expert bytes on disk */
    double *wait;             /* per layer: time waited for experts */
};

static void *zalloc(size_t n) { return calloc(n ? n : 1, 1); }

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
            if (!(t = rl_ckpt_find(m->ck, name))) return rl_err("%s: missing tensor %s", dir, name);
            if (!rl_dtype_is_weight(t->dtype))
                return rl_err("%s: tensor %s has dtype %s; experts must be F32, F16, BF16, Q8_0 or Q4_1", dir, t->name, RL_DTYPES[t->dtype].st_name);
            uint64_t slice = (uint64_t)rows * rl_dtype_row_bytes(t->dtype, cols);
            if (d->moe_fused) {
                if (t->ndim != 3 || t->shape[0] != S->E || t->shape[1] != rows || t->shape[2] != cols)
                    return rl_err("%s: tensor %s: expected shape [%d, %lld, %lld] from config.json", dir, t->name, S->E, (long long)rows, (long long)cols);
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

int rl_moe_plan(rl_model *m) {
    const rl_model_desc *d = &m->d;
    int any = 0;
    for (int l = 0; l < d->n_layers; l++) any |= d->n_experts > 0 && d->layer_moe[l];
    if (!any) return 0;
    if (d->moe_fused && d->ename[1]) return rl_err("%s: fused experts take gate_up and down only", m->dir);
    if (d->n_experts > RL_MOE_MAX_EXPERTS) return rl_err("%s: %d experts exceed the supported %d", m->dir, d->n_experts, RL_MOE_MAX_EXPERTS);
    struct rl_moe_state *S = zalloc(sizeof *S);
    if (!S) return rl_err("out of memory");
    m->moe = S;
    S->E = d->n_experts; S->k = d->n_experts_used; S->I = d->moe_inter; S->Is = d->moe_shared_inter;
    S->H = d->hidden; S->max_T = m->max_T; S->n_layers = d->n_layers;
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
        if (d->layer_moe[l] && resolve_layer(m, l)) return -1;
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
    S->needed = zalloc(E * sizeof(int));
    S->ranges = zalloc(E * XP * sizeof *S->ranges);
    S->batches = zalloc(E * sizeof *S->batches);
    S->t_off = zalloc(E * XP * sizeof(size_t));
    if (!S->top_idx || !S->top_w || !S->cnt || !S->start || !S->tok_of || !S->w_of || !S->needed || !S->ranges ||
        !S->batches || !S->t_off)
        return rl_err("%s: out of memory for the MoE scratch", m->dir);
    rl_plan *p = &m->plan;
    rl_plan_add(p, "moe router logits", RL_MEM_DEVICE, T * E * F, (void **)&S->logits);
    rl_plan_add(p, "moe choices", RL_MEM_DEVICE, T * K * 4, (void **)&S->d_idx);
    rl_plan_add(p, "moe choice weights", RL_MEM_DEVICE, T * K * F, (void **)&S->d_w);
    rl_plan_add(p, "moe rows by expert", RL_MEM_DEVICE, T * K * 4, (void **)&S->d_tok);
    rl_plan_add(p, "moe row weights", RL_MEM_DEVICE, T * K * F, (void **)&S->d_wof);
    rl_plan_add(p, "moe gathered rows", RL_MEM_DEVICE, T * H * F, (void **)&S->xe);
    rl_plan_add(p, "moe expert gate", RL_MEM_DEVICE, T * Imax * F, (void **)&S->g);
    rl_plan_add(p, "moe expert up", RL_MEM_DEVICE, T * Imax * F, (void **)&S->u);
    rl_plan_add(p, "moe expert output", RL_MEM_DEVICE, T * H * F, (void **)&S->y);
    rl_plan_add(p, "moe small weights", RL_MEM_DEVICE, (E + H) * F, (void **)&S->vb);
    if (!m->be->ops->host_shared) {
        rl_plan_add(p, "moe expert batches on device (2)", RL_MEM_DEVICE, pb * S->ex_bytes, (void **)&S->xdev[0]);
        rl_plan_add(p, "", RL_MEM_DEVICE, pb * S->ex_bytes, (void **)&S->xdev[1]);
    }
    rl_plan_add(p, "moe expert batches (2)", RL_MEM_HOST, 2 * pb * S->ex_bytes, NULL);
    return 0;
}

int rl_moe_open(rl_model *m) {
    struct rl_moe_state *S = m->moe;
    if (!S) return 0;
    if (!(S->xr = rl_xr_new(m->ck, (size_t)S->per_batch * S->ex_bytes, &m->hm))) return -1;
    return 0;
}

void rl_moe_close(rl_model *m) {
    struct rl_moe_state *S = m ? m->moe : NULL;
    if (!S) return;
    rl_xr_free(S->xr);
    free(S->loc); free(S->qt); free(S->bytes); free(S->total); free(S->wait);
    free(S->top_idx); free(S->top_w); free(S->cnt); free(S->start);
    free(S->tok_of); free(S->w_of); free(S->needed); free(S->ranges); free(S->batches); free(S->t_off);
    free(S);
    m->moe = NULL;
}

/* One expert's gated MLP on its gathered rows: y = down(act(gate x) * up x). */
static void expert_mlp(rl_model *m, struct rl_moe_state *S, const void *wg, rl_dtype dg, const void *wu, rl_dtype du,
                       const void *wd, rl_dtype dd, const float *x, int n, int I, float *y) {
    rl_backend *be = m->be;
    int H = S->H;
    be->ops->matmul(be, S->g, x, wg, dg, NULL, n, H, I);
    be->ops->matmul(be, S->u, x, wu, du, NULL, n, H, I);
    rl_act_mul_rows(be, m->d.act, S->g, S->u, n, I);
    be->ops->matmul(be, y, S->g, wd, dd, NULL, n, I, H);
}

/* Groups the T*K choices by expert (host): cnt/start/needed/tok_of/w_of; returns experts used. */
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
            S->w_of[at] = S->top_w[t * K + j];
        }
    return n_need;
}

/* Lays the needed experts out in nb batches of `per`, each expert at its own slot of the batch
 * buffer with its tensors coalesced into as few reads as possible (io/coalesce.h); returns the
 * bytes to read. */
static uint64_t plan_batches(struct rl_moe_state *S, int l, int n_need, int nb, int per) {
    int nr = 0;
    uint64_t bytes = 0;
    for (int b = 0; b < nb; b++) {
        S->batches[b].ranges = S->ranges + nr;
        int r0 = nr;
        uint64_t bb = 0;
        for (int j = b * per; j < n_need && j < (b + 1) * per; j++) {
            const expert_loc *x = &S->loc[(size_t)l * S->E + S->needed[j]];
            rl_span sp[XP];
            size_t so[XP], end;
            int kk[XP], n = 0;
            for (int k = 0; k < XP; k++)
                if (x->len[k]) { sp[n] = (rl_span){x->file[k], x->off[k], x->len[k]}; kk[n++] = k; bb += x->len[k]; }
            nr += rl_coalesce(sp, n, (size_t)(j - b * per) * S->ex_bytes, S->ranges + nr, so, &end, 0);
            for (int i = 0; i < n; i++) S->t_off[j * XP + kk[i]] = so[i];
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
    int E = S->E, K = S->k, H = S->H, I = S->I;

    /* router on the backend; the choices come back to pick the experts to read */
    rl_wref wr = rl_stage_weight(m, s, buf, W_MOE_ROUTER), wb = rl_stage_weight(m, s, buf, W_MOE_ROUTER_BIAS);
    be->ops->matmul(be, S->logits, xn, wr.p, wr.dt, NULL, T, H, E);
    const float *bias = wb.p ? rl_vec_f32(m, S->vb, wb.p, wb.dt, E) : NULL;
    be->ops->moe_route(be, S->logits, bias, T, &S->rp, S->d_idx, S->d_w);
    RL_TRACE(m, l, "moe_scores", S->logits, T, E);
    if (be->ops->download(be, S->top_idx, S->d_idx, (size_t)T * K * sizeof(int32_t)) ||
        be->ops->download(be, S->top_w, S->d_w, (size_t)T * K * sizeof(float)))
        return -1;
    int n_need = group_by_expert(S, T);
    if (be->ops->upload(be, S->d_tok, S->tok_of, (size_t)T * K * sizeof(int32_t)) ||
        be->ops->upload(be, S->d_wof, S->w_of, (size_t)T * K * sizeof(float)))
        return -1;

    /* batches of needed experts: at least two when possible, so reading overlaps computing */
    int nb = (n_need + S->per_batch - 1) / S->per_batch;
    if (nb < 2 && n_need >= 2) nb = 2;
    int per = (n_need + nb - 1) / nb;
    nb = (n_need + per - 1) / per;
    uint64_t bytes = plan_batches(S, l, n_need, nb, per);
    rl_xr_start(S->xr, S->batches, nb);

    /* shared expert while the first batch is read */
    if (s->t[W_SHX_DOWN]) {
        rl_wref g = rl_stage_weight(m, s, buf, W_SHX_GATE), u = rl_stage_weight(m, s, buf, W_SHX_UP);
        rl_wref dn = rl_stage_weight(m, s, buf, W_SHX_DOWN), gw = rl_stage_weight(m, s, buf, W_SHX_GATE_W);
        expert_mlp(m, S, g.p, g.dt, u.p, u.dt, dn.p, dn.dt, xn, T, S->Is, out);
        if (gw.p) be->ops->row_gate(be, out, xn, rl_vec_f32(m, S->vb + E, gw.p, gw.dt, H), T, H);
    } else
        be->ops->zero(be, out, (size_t)T * H * sizeof(float));

    /* routed experts, batch by batch */
    for (int b = 0; b < nb; b++) {
        const uint8_t *hb = rl_xr_wait(S->xr, b, &S->wait[l]);
        const uint8_t *xb = hb;
        if (hb && !be->ops->host_shared) {
            xb = S->xdev[b & 1];
            if (be->ops->upload(be, (void *)xb, hb, (size_t)per * S->ex_bytes)) xb = NULL;
        }
        if (!xb) { rl_xr_finish(S->xr); return -1; }
        for (int j = b * per; j < n_need && j < (b + 1) * per; j++) {
            int e = S->needed[j], n = S->start[e + 1] - S->start[e];
            const expert_loc *x = &S->loc[(size_t)l * E + e];
            be->ops->gather_rows(be, S->xe, xn, S->d_tok + S->start[e], n, H);
            const void *pg = xb + S->t_off[j * XP + 0], *pd = xb + S->t_off[j * XP + 2 * XA];
            const void *pu = d->moe_fused ? (const uint8_t *)pg + (size_t)I * rl_dtype_row_bytes(x->dt[0], H) : xb + S->t_off[j * XP + XA];
            rl_dtype du = d->moe_fused ? x->dt[0] : x->dt[1];
            rl_qweight qw[3]; /* composite experts: host descriptors of the batch's device pointers */
            const void **pp[3] = {&pg, &pu, &pd};
            for (int k = 0; k < 3; k++)
                if (rl_dtype_is_composite(x->dt[k])) {
                    rl_stage_qrole q = S->qt[(size_t)l * 3 + k];
                    for (int a = 0; a < RL_QAUX; a++) q.aux_off[a] = S->t_off[j * XP + k * XA + 1 + a];
                    rl_stage_qweight(&q, xb + S->t_off[j * XP + k * XA], xb, &qw[k]);
                    *pp[k] = &qw[k];
                }
            expert_mlp(m, S, pg, x->dt[0], pu, du, pd, x->dt[2], S->xe, n, I, S->y);
            be->ops->scatter_add_rows(be, out, S->y, S->d_tok + S->start[e], S->d_wof + S->start[e], n, H);
        }
        /* the host buffer goes back to the reader: a device copy must have been consumed */
        if (!be->ops->host_shared && be->ops->wait(be, be->ops->fence(be))) { rl_xr_finish(S->xr); return -1; }
        rl_xr_release(S->xr, b);
    }
    rl_xr_finish(S->xr);
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
