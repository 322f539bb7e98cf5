/* Gated DeltaNet and Mamba-2 token mixers and gated attention (see deltanet.h), through the
 * backend. Gated DeltaNet:
 *   [q|k|v] = SiLU(causal depthwise conv_k(in_proj_qkv x)),  z = in_proj_z x,
 *   b = in_proj_b x, a = in_proj_a x, then the gated delta rule per value head (dn_recur),
 *   out = out_proj(RMSNorm_w(o) * SiLU(z)).
 * Mamba-2 (lin_kind RL_LIN_MAMBA2; transformers' GraniteMoeHybridMambaLayer):
 *   [z | xBC | dt] = in_proj x,  [x|B|C] = SiLU(conv_k(xBC) + conv_b), the selective state
 *   update per head (ssm_scan: y = S C + D x), out = out_proj(RMSNorm_w(y * SiLU(z))).
 * Mamba-1 (RL_LIN_MAMBA1; transformers' MambaMixer, FalconMamba's, Jamba's):
 *   [x | z] = in_proj h,  x = SiLU(conv_k(x) + conv_b),  [dt | B | C] = x_proj x (RMS-normalised:
 *   Jamba with weights, FalconMamba without), dt = dt_proj.weight dt, the selective state update per
 *   channel and state (ssm_scan, a_state: dt = softplus(dt + dt_proj.bias), y = S C + D x),
 *   out = out_proj(y * SiLU(z)).
 * LFM2's short conv (RL_LIN_SHORTCONV; transformers' Lfm2ShortConv):
 *   [B | C | x] = in_proj h,  y = C * conv_k(B * x) (no activation),  out = out_proj y:
 *   the conv state only.
 * They share the conv and state machinery: Mamba's groups / d_state / heads / head_dim sit in the
 * key heads / key dim / value heads / value dim of the description (desc.h; Mamba-1: one group, a
 * head of dim 1 per channel). */
#include "engine/deltanet.h"
#include "model/weights.h"
#include "util/err.h"
#include <stdlib.h>

#define DN_MAX_HD 1024

struct rl_dn_state {
    float *state;            /* (n_seq, n_lin, v_heads, k_dim, v_dim) recurrent state */
    float *conv_state;       /* (n_seq, n_lin, conv_k-1, conv_dim) last conv inputs */
    float *ckpt_state, *ckpt_conv; /* (n_seq, RL_CKPT_SLOTS, ...) the states saved by rl_dn_checkpoint */
    float *qkv;              /* in_proj_qkv rows of a sweep of several sequences (T, conv_dim) */
    float *in;               /* one segment's conv input: state rows then its qkv rows (conv_k-1+T, conv_dim) */
    float *conv;             /* conv + SiLU output (T, conv_dim) */
    float *z;                /* (T, v_heads*v_dim) output gate */
    float *b, *a;            /* (T, v_heads); Mamba-2: a holds dt before softplus */
    float *core;             /* (T, v_heads*v_dim) */
    float *w;                /* f32: conv weight (conv_dim*k), A_log (v heads; Mamba-1 x d_state), dt_bias (v heads),
                                norm (v dim; Mamba-2: over all v heads), then (Mamba) D (heads), conv bias (conv_dim),
                                then (Mamba-1) the dt / B / C norms (dt_rank + 2 d_state) */
    float *dbc;              /* Mamba-1: x_proj output (T, dt_rank + 2 d_state) */
    float *dtl;              /* Mamba-1: one of its pieces made contiguous (T, max(dt_rank, d_state)) */
    float *xbc;              /* Mamba-1: ssm_scan's rows [x | B | C] (T, I + 2 d_state) */
    float *mup_conv;         /* Falcon-H1: per conv channel, the multiplier of its in_proj output (ssm_in x the x / B / C
                                one), applied to the conv weights (the conv is linear per channel) */
    size_t state_bytes, conv_bytes; /* of one sequence (every linear layer) */
    /* Qwen3-Next (d->lin_fused): the fused projections' rows of a sweep, and where each unit of
     * the split rows comes from (gather_rows; built for max_T tokens at open) */
    float *mix;              /* (T, conv_dim + v_heads*v_dim) in_proj_qkvz output, per key-head group;
                                Mamba-2: (T, I + conv_dim + heads) in_proj output */
    float *mba;              /* (T, 2*v_heads) in_proj_ba output */
    int32_t *g_qkv, *g_z;    /* (max_T * conv_dim / W), (max_T * v_heads*v_dim / W): rows of W floats of mix */
    int32_t *g_b, *g_a;      /* (max_T * v_heads): single floats of mba */
    int unit;                /* W = gcd(k_dim, v_dim) */
};

static int conv_dim(const rl_model_desc *d) { return rl_lin_conv_dim(d); }

int rl_dn_plan(rl_model *m) {
    const rl_model_desc *d = &m->d;
    size_t L = (size_t)d->n_layers, T = (size_t)m->max_T, F = sizeof(float);
    m->kv_slot = malloc(L * sizeof(int) + 1);
    m->lin_slot = malloc(L * sizeof(int) + 1);
    if (!m->kv_slot || !m->lin_slot) return rl_err("%s: out of memory", m->dir);
    int nkv = 0, nlin = 0;
    for (int l = 0; l < d->n_layers; l++) {
        int lin = d->layers[l].kind == RL_LAYER_LINEAR;
        m->kv_slot[l] = lin || d->layers[l].no_mixer || l < m->l0 || l >= m->l1 ? -1 : nkv++; /* this stage's attention layers only */
        m->lin_slot[l] = lin || d->layers[l].ssm_too ? nlin++ : -1; /* (Falcon-H1: both) */
    }
    m->n_lin = nlin;
    if (!nlin) return 0;
    int dk = d->lin_k_dim, dv = d->lin_v_dim, nv = d->lin_v_heads, K = d->lin_conv_k, C = conv_dim(d);
    if (dk > DN_MAX_HD || dv > DN_MAX_HD)
        return rl_err("%s: linear attention head dims %d/%d exceed the supported %d", m->dir, dk, dv, DN_MAX_HD);
    int mamba = d->lin_kind == RL_LIN_MAMBA2, mamba1 = d->lin_kind == RL_LIN_MAMBA1; /* (their families check the conv's activation: SiLU) */
    int sconv = d->lin_kind == RL_LIN_SHORTCONV;
    if (!mamba && !mamba1 && !sconv && d->act != RL_ACT_SILU) return rl_err("%s: the Gated DeltaNet needs hidden_act silu", m->dir);
    if (sconv && (d->lin_v_dim != 1 || d->lin_v_heads != d->hidden || K < 1))
        return rl_err("%s: the short conv needs one channel per hidden unit and a kernel of at least 1", m->dir);
    if (mamba1 && (d->lin_k_heads != 1 || dv != 1 || d->lin_dt_rank <= 0))
        return rl_err("%s: Mamba-1 needs one B / C group, a channel per head and a positive dt_rank", m->dir);
    if (mamba && (d->lin_norm_groups < 0 || (d->lin_norm_groups && (nv * dv) % d->lin_norm_groups) || d->lin_k_heads <= 0 || nv % d->lin_k_heads))
        return rl_err("%s: Mamba-2 with %d norm groups / %d B,C groups of %d heads x %d is not supported (heads a multiple of the "
                      "B,C groups, channels of the norm groups)", m->dir, d->lin_norm_groups, d->lin_k_heads, nv, dv);
    for (int l = 0; l < d->n_layers; l++) {
        if (m->lin_slot[l] < 0) continue;
        const rl_tensor_info *t = m->stages[l].t[W_LIN_CONV];
        if (!t) return rl_err("%s: layer %d: missing the linear attention conv1d weight", m->dir, l);
        int ok = (t->ndim == 3 && t->shape[0] == C && t->shape[1] == 1 && t->shape[2] == K) ||
                 (t->ndim == 2 && t->shape[0] == C && t->shape[1] == K);
        if (!ok) return rl_err("%s: tensor %s: expected shape [%d, 1, %d] from config.json", m->dir, t->name, C, K);
    }
    struct rl_dn_state *S = calloc(1, sizeof *S);
    if (!S) return rl_err("out of memory");
    m->dn = S;
    rl_plan *p = &m->plan;
    S->state_bytes = sconv ? 0 : (size_t)nlin * nv * dk * dv * F; /* (the short conv: none) */
    S->conv_bytes = (size_t)nlin * (K - 1) * C * F;
    size_t nck = (size_t)m->n_seq * RL_CKPT_SLOTS; /* a turn's and speculation's checkpoint per sequence */
    if (S->state_bytes) {
        rl_plan_add(p, "deltanet recurrent state", RL_MEM_DEVICE, (size_t)m->n_seq * S->state_bytes, (void **)&S->state);
        rl_plan_add(p, "deltanet checkpoint state", RL_MEM_DEVICE, nck * S->state_bytes, (void **)&S->ckpt_state);
    }
    if (S->conv_bytes) {
        rl_plan_add(p, "deltanet conv state", RL_MEM_DEVICE, (size_t)m->n_seq * S->conv_bytes, (void **)&S->conv_state);
        rl_plan_add(p, "deltanet checkpoint conv state", RL_MEM_DEVICE, nck * S->conv_bytes, (void **)&S->ckpt_conv);
    }
    rl_plan_add(p, "deltanet qkv", RL_MEM_DEVICE, T * C * F, (void **)&S->qkv);
    rl_plan_add(p, "deltanet conv input", RL_MEM_DEVICE, (T + K - 1) * C * F, (void **)&S->in);
    rl_plan_add(p, "deltanet conv output", RL_MEM_DEVICE, T * C * F, (void **)&S->conv);
    rl_plan_add(p, sconv ? "short conv x / C" : "deltanet core", RL_MEM_DEVICE, T * nv * dv * F, (void **)&S->core);
    if (sconv) {
        rl_plan_add(p, "short conv in_proj output", RL_MEM_DEVICE, T * 3 * C * F, (void **)&S->mix);
        rl_plan_add(p, "short conv weights", RL_MEM_DEVICE, (size_t)C * (K + 1) * F, (void **)&S->w); /* conv, bias */
        return 0;
    }
    rl_plan_add(p, "deltanet z", RL_MEM_DEVICE, T * nv * dv * F, (void **)&S->z);
    rl_plan_add(p, "deltanet b", RL_MEM_DEVICE, T * nv * F, (void **)&S->b);
    rl_plan_add(p, "deltanet a", RL_MEM_DEVICE, T * nv * F, (void **)&S->a);
    size_t R = (size_t)d->lin_dt_rank, N = (size_t)dk, VD = (size_t)nv * dv;
    size_t small = (size_t)C * K + (size_t)nv * (mamba1 ? N : 1) + nv + (mamba ? VD : (size_t)dv);
    if (mamba || mamba1) small += nv + (size_t)C; /* D, conv bias */
    if (mamba1) small += R + 2 * N;
    rl_plan_add(p, "deltanet small weights", RL_MEM_DEVICE, small * F, (void **)&S->w);
    if (mamba) rl_plan_add(p, "mamba in_proj output", RL_MEM_DEVICE, T * (VD + C + nv) * F, (void **)&S->mix);
    if (mamba && d->mup.ssm_in) rl_plan_add(p, "mamba conv multipliers", RL_MEM_DEVICE, (size_t)C * F, (void **)&S->mup_conv);
    if (mamba1) {
        rl_plan_add(p, "mamba in_proj output", RL_MEM_DEVICE, T * 2 * VD * F, (void **)&S->mix);
        rl_plan_add(p, "mamba x_proj output", RL_MEM_DEVICE, T * (R + 2 * N) * F, (void **)&S->dbc);
        rl_plan_add(p, "mamba dt / B / C piece", RL_MEM_DEVICE, T * (R > N ? R : N) * F, (void **)&S->dtl);
        rl_plan_add(p, "mamba scan rows", RL_MEM_DEVICE, T * (VD + 2 * N) * F, (void **)&S->xbc);
    }
    if (d->lin_fused) { /* Qwen3-Next: the split of in_proj_qkvz (lin_fused 1) / in_proj_ba */
        int W = dk;
        for (int b = dv; b;) { int t = W % b; W = b; b = t; }
        S->unit = W;
        size_t VD = (size_t)nv * dv, I = sizeof(int32_t);
        if (d->lin_fused == 1) {
            rl_plan_add(p, "deltanet qkvz", RL_MEM_DEVICE, T * (C + VD) * F, (void **)&S->mix);
            rl_plan_add(p, "deltanet qkv split", RL_MEM_DEVICE, T * (C / W) * I, (void **)&S->g_qkv);
            rl_plan_add(p, "deltanet z split", RL_MEM_DEVICE, T * (VD / W) * I, (void **)&S->g_z);
        }
        rl_plan_add(p, "deltanet ba", RL_MEM_DEVICE, T * 2 * nv * F, (void **)&S->mba);
        rl_plan_add(p, "deltanet b split", RL_MEM_DEVICE, T * nv * I, (void **)&S->g_b);
        rl_plan_add(p, "deltanet a split", RL_MEM_DEVICE, T * nv * I, (void **)&S->g_a);
    }
    return 0;
}

/* The split of Qwen3-Next's fused projections (HF's fix_query_key_value_ordering): per key-head
 * group g of G = 2 k_dim + 2 r v_dim values (r = v_heads / k_heads value heads each): q_g, k_g,
 * then the group's value heads' v rows and z rows; in_proj_ba per group: r b values, r a values.
 * The split rows are q of every head, k of every head, v of every value head (the conv input),
 * z of every value head; b and a per value head. Units of W floats (W divides every piece). */
static int fused_split_tables(rl_model *m) {
    const rl_model_desc *d = &m->d;
    struct rl_dn_state *S = m->dn;
    int nk = d->lin_k_heads, nv = d->lin_v_heads, dk = d->lin_k_dim, dv = d->lin_v_dim, r = nv / nk, W = S->unit;
    int C = conv_dim(d), VD = nv * dv, G = 2 * dk + 2 * r * dv, T = m->max_T;
    size_t nq = (size_t)T * (C / W), nz = (size_t)T * (VD / W), nb = (size_t)T * nv;
    int32_t *h = malloc((nq + nz + 2 * nb) * sizeof *h);
    if (!h) return rl_err("out of memory");
    int32_t *hq = h, *hz = hq + nq, *hb = hz + nz, *ha = hb + nb;
    for (int t = 0; t < T; t++) {
        int32_t row0 = (int32_t)((int64_t)t * (C + VD) / W), *q = hq + (size_t)t * (C / W), *z = hz + (size_t)t * (VD / W);
        for (int e = 0; e < C; e += W) { /* e: offset in the token's [q | k | v] row */
            int f;
            if (e < 2 * nk * dk) { int x = e % (nk * dk); f = x / dk * G + (e >= nk * dk ? dk : 0) + x % dk; }
            else { int x = e - 2 * nk * dk, vh = x / dv; f = vh / r * G + 2 * dk + vh % r * dv + x % dv; }
            q[e / W] = row0 + f / W;
        }
        for (int e = 0; e < VD; e += W) { int vh = e / dv; z[e / W] = row0 + (vh / r * G + 2 * dk + r * dv + vh % r * dv + e % dv) / W; }
        for (int vh = 0; vh < nv; vh++) {
            hb[(size_t)t * nv + vh] = t * 2 * nv + vh / r * 2 * r + vh % r;
            ha[(size_t)t * nv + vh] = t * 2 * nv + vh / r * 2 * r + r + vh % r;
        }
    }
    rl_backend *be = m->be;
    int qkvz = d->lin_fused == 1;
    int rc = (qkvz && be->ops->upload(be, S->g_qkv, hq, nq * sizeof *h)) || (qkvz && be->ops->upload(be, S->g_z, hz, nz * sizeof *h)) ||
             be->ops->upload(be, S->g_b, hb, nb * sizeof *h) || be->ops->upload(be, S->g_a, ha, nb * sizeof *h) ||
             be->ops->wait(be, be->ops->fence(be));
    free(h);
    return rc ? -1 : 0;
}

/* Falcon-H1: per conv channel (x, B, C) the product of ssm_in and its slice's multiplier. */
static int mup_conv_table(rl_model *m) {
    const rl_model_desc *d = &m->d;
    int C = conv_dim(d), I = d->lin_v_heads * d->lin_v_dim, GN = d->lin_k_heads * d->lin_k_dim;
    float *h = malloc((size_t)C * sizeof *h);
    if (!h) return rl_err("out of memory");
    for (int c = 0; c < C; c++) h[c] = d->mup.ssm_in * d->mup.ssm[c < I ? 1 : c < I + GN ? 2 : 3];
    rl_backend *be = m->be;
    int rc = be->ops->upload(be, m->dn->mup_conv, h, (size_t)C * sizeof *h) || be->ops->wait(be, be->ops->fence(be));
    free(h);
    return rc ? -1 : 0;
}

int rl_dn_open(rl_model *m) {
    if (m->dn) rl_dn_reset(m);
    if (m->dn && m->d.lin_fused && fused_split_tables(m)) return -1;
    if (m->dn && m->dn->mup_conv && mup_conv_table(m)) return -1;
    return 0;
}

void rl_dn_close(rl_model *m) {
    free(m->lin_slot); free(m->kv_slot); free(m->dn);
    m->lin_slot = m->kv_slot = NULL;
    m->dn = NULL;
}

void rl_dn_reset(rl_model *m) {
    for (int s = 0; s < m->n_seq; s++) rl_dn_reset_seq(m, s);
}

void rl_dn_reset_seq(rl_model *m, int seq) {
    struct rl_dn_state *S = m->dn;
    if (!S || seq < 0 || seq >= m->n_seq) return;
    if (S->state_bytes) m->be->ops->zero(m->be, (uint8_t *)S->state + (size_t)seq * S->state_bytes, S->state_bytes);
    if (S->conv_bytes) m->be->ops->zero(m->be, (uint8_t *)S->conv_state + (size_t)seq * S->conv_bytes, S->conv_bytes);
}

/* Saves (restore 0) or restores (restore 1) sequence seq's recurrent and conv state in / from
 * its checkpoint slot. */
static void ckpt_copy(rl_model *m, int seq, int slot, int restore) {
    struct rl_dn_state *S = m->dn;
    if (!S || seq < 0 || seq >= m->n_seq || slot < 0 || slot >= RL_CKPT_SLOTS) return;
    size_t so = (size_t)seq * S->state_bytes, co = (size_t)seq * S->conv_bytes, k = (size_t)seq * RL_CKPT_SLOTS + (size_t)slot;
    if (S->state_bytes) {
        uint8_t *st = (uint8_t *)S->state + so, *ks = (uint8_t *)S->ckpt_state + k * S->state_bytes;
        m->be->ops->copy2d(m->be, restore ? st : ks, S->state_bytes, restore ? ks : st, S->state_bytes, S->state_bytes, 1);
    }
    if (S->conv_bytes) {
        uint8_t *cs = (uint8_t *)S->conv_state + co, *kc = (uint8_t *)S->ckpt_conv + k * S->conv_bytes;
        m->be->ops->copy2d(m->be, restore ? cs : kc, S->conv_bytes, restore ? kc : cs, S->conv_bytes, S->conv_bytes, 1);
    }
}
void rl_dn_checkpoint(rl_model *m, int seq, int slot) { ckpt_copy(m, seq, slot, 0); }
void rl_dn_restore(rl_model *m, int seq, int slot) { ckpt_copy(m, seq, slot, 1); }

void rl_qgate_split(rl_model *m, int T) {
    size_t hd = (size_t)m->d.head_dim * sizeof(float);
    int rows = T * m->d.n_heads;
    m->be->ops->copy2d(m->be, m->q, hd, m->qgate, 2 * hd, hd, rows);
    m->be->ops->copy2d(m->be, m->gate, hd, (const char *)m->qgate + hd, 2 * hd, hd, rows);
}

void rl_qgate_apply(rl_model *m, int T) {
    m->be->ops->sigmoid_mul(m->be, m->att, m->gate, (int64_t)T * m->d.n_heads * m->d.head_dim);
}

/* The small per-layer weights as f32 (rl_dn_state.w). */
typedef struct { const float *a_log, *dt_bias, *norm_w, *d_skip, *conv_b; } dn_small;

/* Rows [r0, r0 + n) of the sweep through one sequence's recurrent state st (sd: Mamba, its scan
 * rows xbc of xw floats each). */
static void recur_rows(rl_backend *be, const rl_dn_dims *dd, const rl_ssm_dims *sd, struct rl_dn_state *S, float *st, size_t r0,
                       int n, const dn_small *w, int nv, int VD, const float *xbc, size_t xw) {
    if (sd) be->ops->ssm_scan(be, sd, st, xbc + r0 * xw, S->a + r0 * nv, w->a_log, w->dt_bias, w->d_skip, S->core + r0 * VD, n);
    else be->ops->dn_recur(be, dd, st, S->conv + r0 * xw, S->b + r0 * nv, S->a + r0 * nv, S->z + r0 * VD, w->a_log, w->dt_bias,
                           w->norm_w, S->core + r0 * VD, n);
}

/* The deferred checkpoints (rl_model_seq_checkpoint_slot) that fall inside segment sg, after its
 * row cr[j] (ascending) into slot ck[j]; returns how many. */
static int seg_checkpoints(const rl_model *m, const rl_segment *sg, int *ck, int *cr) {
    int nc = 0;
    for (int k = 0; k < RL_CKPT_SLOTS; k++) {
        int cp = m->ckpt_pend[sg->seq * RL_CKPT_SLOTS + k], r = cp - sg->pos0;
        if (cp < 0 || r < 0 || r > sg->n) continue;
        int j = nc++;
        for (; j > 0 && cr[j - 1] > r; j--) { ck[j] = ck[j - 1]; cr[j] = cr[j - 1]; }
        ck[j] = k; cr[j] = r;
    }
    return nc;
}

/* Mamba-1 between the conv and the scan: x_proj of the conv output into dt | B | C, their RMS
 * norms (Jamba: weights nw (dt_rank + 2 d_state); FalconMamba: none), dt_proj's matmul into S->a,
 * and the scan rows [x | B | C] into S->xbc. */
static void mamba1_params(rl_model *m, const rl_stage *s, const uint8_t *buf, int T, const float *nw) {
    const rl_model_desc *d = &m->d;
    struct rl_dn_state *S = m->dn;
    rl_backend *be = m->be;
    size_t I = (size_t)d->lin_v_heads, N = (size_t)d->lin_k_dim, R = (size_t)d->lin_dt_rank, W = R + 2 * N, X = I + 2 * N, F = sizeof(float);
    rl_wref xp = rl_stage_weight(m, s, buf, W_LIN_B), dp = rl_stage_weight(m, s, buf, W_LIN_A);
    be->ops->matmul(be, S->dbc, S->conv, xp.p, xp.dt, NULL, T, (int)I, (int)W);
    be->ops->copy2d(be, S->xbc, X * F, S->conv, I * F, I * F, T);
    /* the pieces: dt (R at 0) into dtl, then B (N at R) and C (N at R + N) through dtl into the scan rows */
    for (int k = 2; k >= 0; k--) {
        size_t off = k ? R + (size_t)(k - 1) * N : 0, n = k ? N : R;
        be->ops->copy2d(be, S->dtl, n * F, S->dbc + off, W * F, n * F, T);
        if (d->lin_dtbc_norm) be->ops->rmsnorm(be, S->dtl, S->dtl, nw ? nw + off : NULL, T, (int)n, d->lin_dtbc_eps, 0);
        if (k) be->ops->copy2d(be, S->xbc + I + (size_t)(k - 1) * N, X * F, S->dtl, n * F, n * F, T);
    }
    be->ops->matmul(be, S->a, S->dtl, dp.p, dp.dt, NULL, T, (int)R, (int)I); /* (dt_proj.bias: inside ssm_scan's softplus) */
}

/* Each sequence's rows of the sweep through its own conv into S->conv: the conv input is its K-1
 * rows of conv state, then its rows of qkv (one sequence: already in place behind them); the last
 * K-1 input rows become the conv state. A deferred checkpoint after row r saves input rows
 * r..r+K-2 as the conv state (the recurrent state: rl_deltanet_forward). */
static void conv_segments(rl_model *m, int slot, const float *qkv, const float *wconv, const float *conv_b, int silu) {
    struct rl_dn_state *S = m->dn;
    rl_backend *be = m->be;
    int K = m->d.lin_conv_k, C = conv_dim(&m->d);
    size_t CB = (size_t)C * sizeof(float);
    int ck[RL_CKPT_SLOTS], cr[RL_CKPT_SLOTS];
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        float *cst = K > 1 ? (float *)((uint8_t *)S->conv_state + (size_t)sg->seq * S->conv_bytes) + (size_t)slot * (size_t)(K - 1) * C : NULL;
        size_t r0 = (size_t)sg->row0;
        if (cst) be->ops->copy2d(be, S->in, CB, cst, CB, CB, K - 1);
        if (qkv == S->qkv) be->ops->copy2d(be, S->in + (size_t)(K - 1) * C, CB, S->qkv + r0 * C, CB, CB, sg->n);
        be->ops->dn_conv(be, S->conv + r0 * C, S->in, wconv, conv_b, sg->n, C, K, silu);
        int nc = cst ? seg_checkpoints(m, sg, ck, cr) : 0;
        for (int j = 0; j < nc; j++) {
            size_t kk = (size_t)sg->seq * RL_CKPT_SLOTS + (size_t)ck[j], co = kk * S->conv_bytes + (size_t)slot * (K - 1) * CB;
            be->ops->copy2d(be, (uint8_t *)S->ckpt_conv + co, CB, S->in + (size_t)cr[j] * C, CB, CB, K - 1);
        }
        if (cst) be->ops->copy2d(be, cst, CB, S->in + (size_t)sg->n * C, CB, CB, K - 1);
    }
}

/* LFM2's short conv over the sweep: [B | C | x] = in_proj h, the conv of B * x (with its bias, no
 * activation), times C, out_proj into m->o. wconv holds the conv weights (f32). */
static int short_conv(rl_model *m, int l, const uint8_t *buf, int T, float *wconv) {
    const rl_model_desc *d = &m->d;
    const rl_stage *s = &m->stages[l];
    struct rl_dn_state *S = m->dn;
    rl_backend *be = m->be;
    int H = d->hidden, C = conv_dim(d), K = d->lin_conv_k;
    size_t CB = (size_t)C * sizeof(float);
    float *cb = wconv + (size_t)C * K;
    rl_wref in = rl_stage_weight(m, s, buf, W_LIN_QKV), out = rl_stage_weight(m, s, buf, W_LIN_OUT);
    if (d->lin_conv_bias) {
        rl_wref b = rl_stage_weight(m, s, buf, W_LIN_CONV_B);
        be->ops->convert(be, cb, b.p, b.dt, C);
    }
    float *bx = m->n_seg == 1 ? S->in + (size_t)(K - 1) * C : S->qkv; /* the conv input rows B * x (conv_segments) */
    be->ops->matmul(be, S->mix, m->xb, in.p, in.dt, NULL, T, H, 3 * C);
    be->ops->copy2d(be, bx, CB, S->mix, 3 * CB, CB, T);
    be->ops->copy2d(be, S->core, CB, S->mix + 2 * (size_t)C, 3 * CB, CB, T);
    be->ops->act_mul(be, RL_ACT_IDENTITY, bx, S->core, (int64_t)T * C);
    conv_segments(m, m->lin_slot[l], bx, wconv, d->lin_conv_bias ? cb : NULL, 0);
    be->ops->copy2d(be, S->core, CB, S->mix + C, 3 * CB, CB, T);
    be->ops->act_mul(be, RL_ACT_IDENTITY, S->core, S->conv, (int64_t)T * C);
    RL_TRACE(m, l, "dn_conv", S->conv, T, C);
    be->ops->matmul(be, m->o, S->core, out.p, out.dt, NULL, T, C, H);
    return 0;
}

int rl_deltanet_forward(rl_model *m, int l, const uint8_t *buf, int T) {
    const rl_model_desc *d = &m->d;
    const rl_stage *s = &m->stages[l];
    struct rl_dn_state *S = m->dn;
    rl_backend *be = m->be;
    int slot = m->lin_slot ? m->lin_slot[l] : -1;
    if (slot < 0 || !S) return rl_err("%s: layer %d is not a linear-attention layer", m->dir, l);
    int H = d->hidden, nv = d->lin_v_heads, dk = d->lin_k_dim, dv = d->lin_v_dim, K = d->lin_conv_k, C = conv_dim(d);
    int VD = nv * dv;
    size_t CB = (size_t)C * sizeof(float);
#define DN_T(role) rl_stage_weight(m, s, buf, role).p, rl_stage_weight(m, s, buf, role).dt
    int mamba = d->lin_kind == RL_LIN_MAMBA2, mamba1 = d->lin_kind == RL_LIN_MAMBA1, sconv = d->lin_kind == RL_LIN_SHORTCONV;
    float *wconv = S->w;
    be->ops->convert(be, wconv, DN_T(W_LIN_CONV), (int64_t)C * K);
    if (sconv) return short_conv(m, l, buf, T, wconv);
    int na = nv * (mamba1 ? dk : 1); /* Mamba-1: A per channel and state */
    float *a_log = wconv + (size_t)C * K, *dt_bias = a_log + na, *norm_w = dt_bias + nv;
    float *ds = norm_w + (mamba ? VD : dv), *cb = ds + nv, *dtbc = cb + C;
    dn_small sw = {a_log, dt_bias, norm_w, NULL, NULL};
    if (S->mup_conv) be->ops->scale_rows(be, wconv, S->mup_conv, C, K); /* Falcon-H1: x / B / C multipliers */
    be->ops->convert(be, a_log, DN_T(W_LIN_A_LOG), na);
    be->ops->convert(be, dt_bias, DN_T(W_LIN_DT_BIAS), nv);
    if (!mamba1 && !(mamba && !d->lin_norm_groups)) be->ops->convert(be, norm_w, DN_T(W_LIN_NORM), mamba ? VD : dv);
    if (mamba || mamba1) { /* D, then the conv bias */
        be->ops->convert(be, ds, DN_T(W_LIN_D), nv);
        if (d->lin_conv_bias) be->ops->convert(be, cb, DN_T(W_LIN_CONV_B), C);
        sw.d_skip = ds;
        sw.conv_b = d->lin_conv_bias ? cb : NULL;
    }
    if (mamba1 && d->lin_dtbc_norm == 1) { /* Jamba's dt / B / C norm weights, in x_proj's order */
        be->ops->convert(be, dtbc, DN_T(W_LIN_DT_NORM), d->lin_dt_rank);
        be->ops->convert(be, dtbc + d->lin_dt_rank, DN_T(W_LIN_B_NORM), dk);
        be->ops->convert(be, dtbc + d->lin_dt_rank + dk, DN_T(W_LIN_C_NORM), dk);
    }

    /* projections of the whole sweep; one sequence's qkv rows go straight behind its conv state
     * rows in the conv input, several sequences' into qkv and then, in turn, into the input */
    float *qkv = m->n_seg == 1 ? S->in + (size_t)(K - 1) * C : S->qkv;
    if (mamba || mamba1) { /* in_proj rows [z | xBC | dt] (Mamba-1: [x | z]) */
        size_t W = mamba ? (size_t)VD + C + nv : 2 * (size_t)VD, FS = sizeof(float), zo = mamba ? 0 : (size_t)VD;
        be->ops->matmul(be, S->mix, m->xb, DN_T(W_LIN_QKV), NULL, T, H, (int)W);
        be->ops->copy2d(be, S->z, VD * FS, S->mix + zo, W * FS, VD * FS, T);
        be->ops->copy2d(be, qkv, CB, S->mix + (mamba ? VD : 0), W * FS, CB, T);
        if (mamba) be->ops->copy2d(be, S->a, nv * FS, S->mix + VD + C, W * FS, nv * FS, T);
        if (mamba && d->mup.ssm_in) { /* Falcon-H1: z and dt slices times their multipliers (x, B, C: the conv's weights) */
            be->ops->scale(be, S->z, d->mup.ssm_in * d->mup.ssm[0], (int64_t)T * VD);
            be->ops->scale(be, S->a, d->mup.ssm_in * d->mup.ssm[4], (int64_t)T * nv);
        }
    } else if (d->lin_fused == 1) { /* Qwen3-Next: one projection each, split per key-head group (fused_split_tables) */
        int W = S->unit;
        be->ops->matmul(be, S->mix, m->xb, DN_T(W_LIN_QKV), NULL, T, H, C + VD);
        be->ops->matmul(be, S->mba, m->xb, DN_T(W_LIN_B), NULL, T, H, 2 * nv);
        be->ops->gather_rows(be, qkv, S->mix, S->g_qkv, T * (C / W), W);
        be->ops->gather_rows(be, S->z, S->mix, S->g_z, T * (VD / W), W);
        be->ops->gather_rows(be, S->b, S->mba, S->g_b, T * nv, 1);
        be->ops->gather_rows(be, S->a, S->mba, S->g_a, T * nv, 1);
    } else if (d->lin_fused == 2) { /* GGUF qwen3next: q / k / v and z plain, b and a fused per group (ssm_ba) */
        be->ops->matmul(be, qkv, m->xb, DN_T(W_LIN_QKV), NULL, T, H, C);
        be->ops->matmul(be, S->z, m->xb, DN_T(W_LIN_Z), NULL, T, H, VD);
        be->ops->matmul(be, S->mba, m->xb, DN_T(W_LIN_B), NULL, T, H, 2 * nv);
        be->ops->gather_rows(be, S->b, S->mba, S->g_b, T * nv, 1);
        be->ops->gather_rows(be, S->a, S->mba, S->g_a, T * nv, 1);
    } else {
        be->ops->matmul(be, qkv, m->xb, DN_T(W_LIN_QKV), NULL, T, H, C);
        be->ops->matmul(be, S->z, m->xb, DN_T(W_LIN_Z), NULL, T, H, VD);
        be->ops->matmul(be, S->b, m->xb, DN_T(W_LIN_B), NULL, T, H, nv);
        be->ops->matmul(be, S->a, m->xb, DN_T(W_LIN_A), NULL, T, H, nv);
    }
    /* each sequence's rows through its own conv (conv_segments) */
    conv_segments(m, slot, qkv, wconv, sw.conv_b, 1);
    int ck[RL_CKPT_SLOTS], cr[RL_CKPT_SLOTS];
    if (mamba1) mamba1_params(m, s, buf, T, d->lin_dtbc_norm == 1 ? dtbc : NULL);
    /* then through its recurrent state, saved at the deferred checkpoints */
    rl_dn_dims dd = {d->lin_k_heads, nv, dk, dv, K, d->norm_eps, d->lin_v_tiled, d->lin_a_direct};
    rl_ssm_dims sd = {d->lin_k_heads, nv, dk, dv, d->lin_dt_min, d->lin_dt_max, d->lin_a_direct, mamba1};
    const rl_ssm_dims *sdp = mamba || mamba1 ? &sd : NULL;
    const float *xbc = mamba1 ? S->xbc : S->conv;
    size_t xw = mamba1 ? (size_t)VD + 2 * (size_t)dk : (size_t)C;
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        float *st = (float *)((uint8_t *)S->state + (size_t)sg->seq * S->state_bytes) + (size_t)slot * nv * dk * dv;
        size_t r0 = (size_t)sg->row0;
        int done = 0, nc = seg_checkpoints(m, sg, ck, cr);
        for (int j = 0; j < nc; j++) {
            size_t sb = (size_t)nv * dk * dv * sizeof(float), kk = (size_t)sg->seq * RL_CKPT_SLOTS + (size_t)ck[j];
            size_t so = kk * S->state_bytes + (size_t)slot * sb;
            if (cr[j] > done) recur_rows(be, &dd, sdp, S, st, r0 + done, cr[j] - done, &sw, nv, VD, xbc, xw);
            be->ops->copy2d(be, (uint8_t *)S->ckpt_state + so, sb, st, sb, sb, 1);
            done = cr[j];
        }
        if (sg->n > done) recur_rows(be, &dd, sdp, S, st, r0 + done, sg->n - done, &sw, nv, VD, xbc, xw);
    }
    const float *out_in = S->core;
    if (mamba) { /* the gated RMSNorm: RMSNorm_w(y * SiLU(z)) over all of y, or over each of lin_norm_groups groups */
        be->ops->act_mul(be, RL_ACT_SILU, S->z, S->core, (int64_t)T * VD);
        int ng = d->lin_norm_groups, gw = ng ? VD / ng : VD;
        if (ng == 0) out_in = S->z; /* no norm: out_proj(y * SiLU(z)) */
        else if (ng == 1) be->ops->rmsnorm(be, S->core, S->z, norm_w, T, VD, d->norm_eps, 0);
        else /* group g's columns of every row into the free qkv scratch, normed there, back into core */
            for (int g = 0; g < ng; g++) {
                size_t GB = (size_t)gw * sizeof(float), RB = (size_t)VD * sizeof(float);
                be->ops->copy2d(be, S->qkv, GB, S->z + (size_t)g * gw, RB, GB, T);
                be->ops->rmsnorm(be, S->qkv, S->qkv, norm_w + (size_t)g * gw, T, gw, d->norm_eps, 0);
                be->ops->copy2d(be, S->core + (size_t)g * gw, RB, S->qkv, GB, GB, T);
            }
    } else if (mamba1) { /* y * SiLU(z) */
        be->ops->act_mul(be, RL_ACT_SILU, S->z, S->core, (int64_t)T * VD);
        out_in = S->z;
    }
    RL_TRACE(m, l, "dn_conv", S->conv, T, C);
    RL_TRACE(m, l, "dn_core", S->core, T, VD);
    be->ops->matmul(be, m->o, out_in, DN_T(W_LIN_OUT), NULL, T, VD, H);
#undef DN_T
    return 0;
}
