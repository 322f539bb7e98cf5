/* Gated DeltaNet and Mamba-2 token mixers and gated attention (see deltanet.h), through the
 * backend. Gated DeltaNet:
 *   [q|k|v] = SiLU(causal depthwise conv_k(in_proj_qkv x)),  z = in_proj_z x,
 *   b = in_proj_b x, a = in_proj_a x, then the gated delta rule per value head (dn_recur),
 *   out = out_proj(RMSNorm_w(o) * SiLU(z)).
 * Mamba-2 (lin_kind RL_LIN_MAMBA2; transformers' GraniteMoeHybridMambaLayer):
 *   [z | xBC | dt] = in_proj x,  [x|B|C] = SiLU(conv_k(xBC) + conv_b), the selective state
 *   update per head (ssm_scan: y = S C + D x), out = out_proj(RMSNorm_w(y * SiLU(z))).
 * The two share the conv and state machinery: Mamba-2's groups / d_state / heads / head_dim sit
 * in the key heads / key dim / value heads / value dim of the description (desc.h). */
#include "engine/deltanet.h"
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
    float *w;                /* f32: conv weight (conv_dim*k), A_log, dt_bias (v heads), norm (v dim);
                                Mamba-2: then D (heads), conv bias (conv_dim), norm over all v heads */
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

static int conv_dim(const rl_model_desc *d) { return 2 * d->lin_k_heads * d->lin_k_dim + d->lin_v_heads * d->lin_v_dim; }

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
        m->lin_slot[l] = lin ? nlin++ : -1;
    }
    m->n_lin = nlin;
    if (!nlin) return 0;
    int dk = d->lin_k_dim, dv = d->lin_v_dim, nv = d->lin_v_heads, K = d->lin_conv_k, C = conv_dim(d);
    if (dk > DN_MAX_HD || dv > DN_MAX_HD)
        return rl_err("%s: linear attention head dims %d/%d exceed the supported %d", m->dir, dk, dv, DN_MAX_HD);
    int mamba = d->lin_kind == RL_LIN_MAMBA2; /* (its families check the conv's activation: SiLU) */
    if (!mamba && d->act != RL_ACT_SILU) return rl_err("%s: the Gated DeltaNet needs hidden_act silu", m->dir);
    if (mamba && (d->lin_norm_groups <= 0 || (nv * dv) % d->lin_norm_groups || d->lin_k_heads <= 0 || nv % d->lin_k_heads))
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
    S->state_bytes = (size_t)nlin * nv * dk * dv * F;
    S->conv_bytes = (size_t)nlin * (K - 1) * C * F;
    rl_plan_add(p, "deltanet recurrent state", RL_MEM_DEVICE, (size_t)m->n_seq * S->state_bytes, (void **)&S->state);
    rl_plan_add(p, "deltanet conv state", RL_MEM_DEVICE, (size_t)m->n_seq * S->conv_bytes, (void **)&S->conv_state);
    size_t nck = (size_t)m->n_seq * RL_CKPT_SLOTS; /* a turn's and speculation's checkpoint per sequence */
    rl_plan_add(p, "deltanet checkpoint state", RL_MEM_DEVICE, nck * S->state_bytes, (void **)&S->ckpt_state);
    rl_plan_add(p, "deltanet checkpoint conv state", RL_MEM_DEVICE, nck * S->conv_bytes, (void **)&S->ckpt_conv);
    rl_plan_add(p, "deltanet qkv", RL_MEM_DEVICE, T * C * F, (void **)&S->qkv);
    rl_plan_add(p, "deltanet conv input", RL_MEM_DEVICE, (T + K - 1) * C * F, (void **)&S->in);
    rl_plan_add(p, "deltanet conv output", RL_MEM_DEVICE, T * C * F, (void **)&S->conv);
    rl_plan_add(p, "deltanet z", RL_MEM_DEVICE, T * nv * dv * F, (void **)&S->z);
    rl_plan_add(p, "deltanet b", RL_MEM_DEVICE, T * nv * F, (void **)&S->b);
    rl_plan_add(p, "deltanet a", RL_MEM_DEVICE, T * nv * F, (void **)&S->a);
    rl_plan_add(p, "deltanet core", RL_MEM_DEVICE, T * nv * dv * F, (void **)&S->core);
    rl_plan_add(p, "deltanet small weights", RL_MEM_DEVICE, ((size_t)C * K + 2 * nv + dv + (mamba ? (size_t)nv * (1 + dv) + C : 0)) * F,
                (void **)&S->w);
    if (mamba) rl_plan_add(p, "mamba in_proj output", RL_MEM_DEVICE, T * ((size_t)nv * dv + C + nv) * F, (void **)&S->mix);
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

int rl_dn_open(rl_model *m) {
    if (m->dn) rl_dn_reset(m);
    if (m->dn && m->d.lin_fused && fused_split_tables(m)) return -1;
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
    m->be->ops->zero(m->be, (uint8_t *)S->state + (size_t)seq * S->state_bytes, S->state_bytes);
    m->be->ops->zero(m->be, (uint8_t *)S->conv_state + (size_t)seq * S->conv_bytes, S->conv_bytes);
}

/* Saves (restore 0) or restores (restore 1) sequence seq's recurrent and conv state in / from
 * its checkpoint slot. */
static void ckpt_copy(rl_model *m, int seq, int slot, int restore) {
    struct rl_dn_state *S = m->dn;
    if (!S || seq < 0 || seq >= m->n_seq || slot < 0 || slot >= RL_CKPT_SLOTS) return;
    size_t so = (size_t)seq * S->state_bytes, co = (size_t)seq * S->conv_bytes, k = (size_t)seq * RL_CKPT_SLOTS + (size_t)slot;
    uint8_t *st = (uint8_t *)S->state + so, *cs = (uint8_t *)S->conv_state + co;
    uint8_t *ks = (uint8_t *)S->ckpt_state + k * S->state_bytes, *kc = (uint8_t *)S->ckpt_conv + k * S->conv_bytes;
    m->be->ops->copy2d(m->be, restore ? st : ks, S->state_bytes, restore ? ks : st, S->state_bytes, S->state_bytes, 1);
    m->be->ops->copy2d(m->be, restore ? cs : kc, S->conv_bytes, restore ? kc : cs, S->conv_bytes, S->conv_bytes, 1);
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

/* Rows [r0, r0 + n) of the sweep through one sequence's recurrent state st (sd: Mamba-2). */
static void recur_rows(rl_backend *be, const rl_dn_dims *dd, const rl_ssm_dims *sd, struct rl_dn_state *S, float *st, size_t r0,
                       int n, const dn_small *w, int nv, int VD, int C) {
    if (sd) be->ops->ssm_scan(be, sd, st, S->conv + r0 * C, S->a + r0 * nv, w->a_log, w->dt_bias, w->d_skip, S->core + r0 * VD, n);
    else be->ops->dn_recur(be, dd, st, S->conv + r0 * C, S->b + r0 * nv, S->a + r0 * nv, S->z + r0 * VD, w->a_log, w->dt_bias,
                           w->norm_w, S->core + r0 * VD, n);
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
    int mamba = d->lin_kind == RL_LIN_MAMBA2;
    float *wconv = S->w, *a_log = wconv + (size_t)C * K, *dt_bias = a_log + nv, *norm_w = dt_bias + nv;
    dn_small sw = {a_log, dt_bias, norm_w, NULL, NULL};
    be->ops->convert(be, wconv, DN_T(W_LIN_CONV), (int64_t)C * K);
    be->ops->convert(be, a_log, DN_T(W_LIN_A_LOG), nv);
    be->ops->convert(be, dt_bias, DN_T(W_LIN_DT_BIAS), nv);
    be->ops->convert(be, norm_w, DN_T(W_LIN_NORM), mamba ? VD : dv);
    if (mamba) { /* D, then the conv bias */
        float *ds = norm_w + VD, *cb = ds + nv;
        be->ops->convert(be, ds, DN_T(W_LIN_D), nv);
        if (d->lin_conv_bias) be->ops->convert(be, cb, DN_T(W_LIN_CONV_B), C);
        sw.d_skip = ds;
        sw.conv_b = d->lin_conv_bias ? cb : NULL;
    }

    /* projections of the whole sweep; one sequence's qkv rows go straight behind its conv state
     * rows in the conv input, several sequences' into qkv and then, in turn, into the input */
    float *qkv = m->n_seg == 1 ? S->in + (size_t)(K - 1) * C : S->qkv;
    if (mamba) { /* in_proj rows [z | xBC | dt] */
        size_t W = (size_t)VD + C + nv, FS = sizeof(float);
        be->ops->matmul(be, S->mix, m->xb, DN_T(W_LIN_QKV), NULL, T, H, (int)W);
        be->ops->copy2d(be, S->z, VD * FS, S->mix, W * FS, VD * FS, T);
        be->ops->copy2d(be, qkv, CB, S->mix + VD, W * FS, CB, T);
        be->ops->copy2d(be, S->a, nv * FS, S->mix + VD + C, W * FS, nv * FS, T);
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
    /* each sequence's rows through its own conv and recurrent state: the conv input is its K-1
     * rows of conv state, then its qkv rows; the last K-1 input rows become the conv state */
    rl_dn_dims dd = {d->lin_k_heads, nv, dk, dv, K, d->norm_eps, d->lin_v_tiled, d->lin_a_direct};
    rl_ssm_dims sd = {d->lin_k_heads, nv, dk, dv, d->lin_dt_min, d->lin_dt_max, d->lin_a_direct};
    const rl_ssm_dims *sdp = mamba ? &sd : NULL;
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        float *cst = (float *)((uint8_t *)S->conv_state + (size_t)sg->seq * S->conv_bytes) + (size_t)slot * (size_t)(K - 1) * C;
        float *st = (float *)((uint8_t *)S->state + (size_t)sg->seq * S->state_bytes) + (size_t)slot * nv * dk * dv;
        size_t r0 = (size_t)sg->row0;
        be->ops->copy2d(be, S->in, CB, cst, CB, CB, K - 1);
        if (qkv == S->qkv) be->ops->copy2d(be, S->in + (size_t)(K - 1) * C, CB, S->qkv + r0 * C, CB, CB, sg->n);
        be->ops->dn_conv(be, S->conv + r0 * C, S->in, wconv, sw.conv_b, sg->n, C, K);
        /* deferred checkpoints (rl_model_seq_checkpoint_slot) after row r of this segment, in
         * ascending r: the conv state then is input rows r..r+K-2, the recurrent state the one
         * after row r */
        int done = 0, ck[RL_CKPT_SLOTS], cr[RL_CKPT_SLOTS], nc = 0;
        for (int k = 0; k < RL_CKPT_SLOTS; k++) {
            int cp = m->ckpt_pend[sg->seq * RL_CKPT_SLOTS + k], r = cp - sg->pos0;
            if (cp < 0 || r < 0 || r > sg->n) continue;
            int j = nc++;
            for (; j > 0 && cr[j - 1] > r; j--) { ck[j] = ck[j - 1]; cr[j] = cr[j - 1]; }
            ck[j] = k; cr[j] = r;
        }
        for (int j = 0; j < nc; j++) {
            size_t sb = (size_t)nv * dk * dv * sizeof(float), kk = (size_t)sg->seq * RL_CKPT_SLOTS + (size_t)ck[j];
            size_t so = kk * S->state_bytes + (size_t)slot * sb, co = kk * S->conv_bytes + (size_t)slot * (K - 1) * CB;
            if (cr[j] > done) recur_rows(be, &dd, sdp, S, st, r0 + done, cr[j] - done, &sw, nv, VD, C);
            be->ops->copy2d(be, (uint8_t *)S->ckpt_conv + co, CB, S->in + (size_t)cr[j] * C, CB, CB, K - 1);
            be->ops->copy2d(be, (uint8_t *)S->ckpt_state + so, sb, st, sb, sb, 1);
            done = cr[j];
        }
        be->ops->copy2d(be, cst, CB, S->in + (size_t)sg->n * C, CB, CB, K - 1);
        if (sg->n > done) recur_rows(be, &dd, sdp, S, st, r0 + done, sg->n - done, &sw, nv, VD, C);
    }
    if (mamba) { /* the gated RMSNorm: RMSNorm_w(y * SiLU(z)) over all of y, or over each of lin_norm_groups groups */
        be->ops->act_mul(be, RL_ACT_SILU, S->z, S->core, (int64_t)T * VD);
        int ng = d->lin_norm_groups, gw = VD / ng;
        if (ng == 1) be->ops->rmsnorm(be, S->core, S->z, norm_w, T, VD, d->norm_eps, 0);
        else /* group g's columns of every row into the free qkv scratch, normed there, back into core */
            for (int g = 0; g < ng; g++) {
                size_t GB = (size_t)gw * sizeof(float), RB = (size_t)VD * sizeof(float);
                be->ops->copy2d(be, S->qkv, GB, S->z + (size_t)g * gw, RB, GB, T);
                be->ops->rmsnorm(be, S->qkv, S->qkv, norm_w + (size_t)g * gw, T, gw, d->norm_eps, 0);
                be->ops->copy2d(be, S->core + (size_t)g * gw, RB, S->qkv, GB, GB, T);
            }
    }
    RL_TRACE(m, l, "dn_conv", S->conv, T, C);
    RL_TRACE(m, l, "dn_core", S->core, T, VD);
    be->ops->matmul(be, m->o, S->core, DN_T(W_LIN_OUT), NULL, T, VD, H);
#undef DN_T
    return 0;
}
