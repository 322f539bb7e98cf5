/* The one decoder block: reads the model description and runs the token mixer + MLP (or, in a
 * Nemotron-H layer, one of them) for T tokens,
 * whatever the family, through the backend ops. Weights are views into the layer image. */
#include "engine/model.h"
#include "engine/deltanet.h"
#include "engine/mla.h"
#include "engine/moe.h"
#include "util/err.h"

/* A weight view of a layer role: pointer into the layer image and its dtype. */
typedef struct { const void *p; rl_dtype dt; int present; } wview;

static wview Wm(rl_model *m, const rl_stage *s, const uint8_t *buf, int role) {
    rl_wref r = rl_stage_weight(m, s, buf, role);
    return (wview){r.p, r.dt, r.p != NULL};
}
#define W(s, buf, role) Wm(m, s, buf, role)

/* Small vector weight as f32 into dst (n floats); NULL if absent. */
static const float *vec(rl_model *m, float *dst, wview w, int64_t n) {
    return w.present ? rl_vec_f32(m, dst, w.p, w.dt, n) : NULL;
}

/* Row view: rows [r0, ...) of a 2-D weight with `cols` columns. */
static const void *rows(wview w, int64_t r0, int64_t cols) {
    return (const uint8_t *)w.p + (size_t)r0 * rl_dtype_row_bytes(w.dt, cols);
}

static void norm(rl_model *m, float *out, const float *x, const float *w, const float *b, int T, int n) {
    if (m->d.no_pre_norms) { /* the sublayer reads the residual stream itself */
        size_t rb = (size_t)n * sizeof(float);
        m->be->ops->copy2d(m->be, out, rb, x, rb, rb, T);
    } else if (m->d.norm == RL_NORM_LAYER) m->be->ops->layernorm(m->be, out, x, w, b, T, n, m->d.norm_eps);
    else m->be->ops->rmsnorm(m->be, out, x, w, T, n, m->d.norm_eps, m->d.norm_one_plus);
}

/* y = x W^T + b for a weight view. */
static void mm(rl_model *m, float *y, const float *x, const void *w, rl_dtype dt, const float *b, int T, int in, int out) {
    m->be->ops->matmul(m->be, y, x, w, dt, b, T, in, out);
}

/* q, k, v projections of the normed input (fused, grouped or separate; gated queries). */
static void qkv(rl_model *m, const rl_stage *s, const uint8_t *buf, int T, float *w2) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int H = d->hidden, hd = d->head_dim, nh = d->n_heads, nkv = d->n_kv_heads, qd = nh * hd, kvd = nkv * hd;
    if (s->t[W_QKV] && d->qkv_grouped) { /* InternLM2: per kv head [q..q, k, v] rows */
        wview f = W(s, buf, W_QKV);
        int group = nh / nkv, width = qd + 2 * kvd;
        mm(m, m->qkv_tmp, m->xb, f.p, f.dt, vec(m, w2, W(s, buf, W_QKV_B), width), T, H, width);
        size_t F = sizeof(float), gb = (size_t)group * hd * F, hb = (size_t)hd * F, rs = (size_t)width * F;
        for (int g = 0; g < nkv; g++) {
            const float *src = m->qkv_tmp + (size_t)g * (group + 2) * hd;
            be->ops->copy2d(be, m->q + (size_t)g * group * hd, (size_t)qd * F, src, rs, gb, T);
            be->ops->copy2d(be, m->k + (size_t)g * hd, (size_t)kvd * F, src + (size_t)group * hd, rs, hb, T);
            be->ops->copy2d(be, m->v + (size_t)g * hd, (size_t)kvd * F, src + (size_t)(group + 1) * hd, rs, hb, T);
        }
    } else if (s->t[W_QKV]) {
        wview f = W(s, buf, W_QKV);
        const float *b = vec(m, w2, W(s, buf, W_QKV_B), qd + 2 * kvd);
        mm(m, m->q, m->xb, rows(f, 0, H), f.dt, b, T, H, qd);
        mm(m, m->k, m->xb, rows(f, qd, H), f.dt, b ? b + qd : NULL, T, H, kvd);
        mm(m, m->v, m->xb, rows(f, qd + kvd, H), f.dt, b ? b + qd + kvd : NULL, T, H, kvd);
    } else {
        wview wq = W(s, buf, W_Q), wk = W(s, buf, W_K), wv = W(s, buf, W_V);
        if (d->attn_out_gate) { /* q_proj rows per head: [query, gate] */
            mm(m, m->qgate, m->xb, wq.p, wq.dt, NULL, T, H, 2 * qd);
            rl_qgate_split(m, T);
        } else
            mm(m, m->q, m->xb, wq.p, wq.dt, vec(m, w2, W(s, buf, W_Q_B), qd), T, H, qd);
        mm(m, m->k, m->xb, wk.p, wk.dt, vec(m, w2, W(s, buf, W_K_B), kvd), T, H, kvd);
        mm(m, m->v, m->xb, wv.p, wv.dt, vec(m, w2, W(s, buf, W_V_B), kvd), T, H, kvd);
    }
}

/* One sequence's n query rows at positions pos0.. attending over its cache view kv (the rows just
 * stored): compact / ring caches through attention_kv, f32 linear caches through attention. */
static void attend(rl_model *m, float *out, const float *q, const rl_kv_view *kv, int n, int pos0, int window) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int hd = d->head_dim, nh = d->n_heads, nkv = d->n_kv_heads;
    if (be->ops->attention_kv) be->ops->attention_kv(be, out, q, kv, n, pos0, nh, nkv, hd, hd, d->attn_scale, d->attn_softcap, window);
    else be->ops->attention(be, out, q, kv->k, kv->v, n, pos0, nh, nkv, hd, hd, d->attn_scale, d->attn_softcap, window);
}

/* Chunked attention (Llama 4): the rows of each chunk of attn_chunk positions attend over the
 * keys of their own chunk only — the cache view moved to the chunk's first row, so that the
 * backend's causal attention sees exactly [chunk start, p]. A ring (engine.c: a whole number of
 * chunks) holds each chunk in consecutive rows: the view is a linear one from the chunk's row. */
static void attend_chunked(rl_model *m, float *out, const float *q, const rl_kv_view *kv, int n, int pos0) {
    const rl_model_desc *d = &m->d;
    int C = d->attn_chunk, qd = d->n_heads * d->head_dim;
    size_t kb = rl_dtype_row_bytes(kv->dt, kv->k_width), vb = rl_dtype_row_bytes(kv->dt, kv->v_width);
    for (int r = 0; r < n;) {
        int p = pos0 + r, cs = p - p % C, run = cs + C - p < n - r ? cs + C - p : n - r;
        rl_kv_view c = *kv;
        size_t row = kv->ring ? (size_t)(cs % kv->ring) : (size_t)cs;
        c.ring = 0;
        c.k = (uint8_t *)kv->k + row * kb;
        c.v = (uint8_t *)kv->v + row * vb;
        attend(m, out + (size_t)r * qd, q + (size_t)r * qd, &c, run, p - cs, 0);
        r += run;
    }
}

/* Softmax attention (GQA, windows, soft-cap) of layer l: q/k/v of the normed input, rope, each
 * sequence's rows appended to its cache and attending over its own past; output to m->o. */
/* The per-head q / k RMSNorms (Qwen3 and most: before the rotary embedding; Hunyuan: after). */
static void qk_head_norms(rl_model *m, const rl_stage *s, const uint8_t *buf, int T, float *w0) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int hd = d->head_dim;
    be->ops->rmsnorm(be, m->q, m->q, vec(m, w0, W(s, buf, W_Q_NORM), hd), T * d->n_heads, hd, d->norm_eps, d->norm_one_plus);
    be->ops->rmsnorm(be, m->k, m->k, vec(m, w0, W(s, buf, W_K_NORM), hd), T * d->n_kv_heads, hd, d->norm_eps, d->norm_one_plus);
}

static int attention(rl_model *m, int l, const rl_stage *s, const uint8_t *buf, int T, float *w0, float *w1, float *w2) {
    const rl_model_desc *d = &m->d;
    const rl_layer_desc *ld = &d->layers[l];
    rl_backend *be = m->be;
    int hd = d->head_dim, nh = d->n_heads, nkv = d->n_kv_heads, qd = nh * hd, kvd = nkv * hd;
    qkv(m, s, buf, T, w2);
    if (d->clip_qkv > 0) { /* OLMo: clip_qkv */
        be->ops->clamp(be, m->q, d->clip_qkv, (int64_t)T * qd);
        be->ops->clamp(be, m->k, d->clip_qkv, (int64_t)T * kvd);
        be->ops->clamp(be, m->v, d->clip_qkv, (int64_t)T * kvd);
    }
    if (d->mup.attn_in) { /* Falcon-H1: q, k, v of the input times attn_in (no biases), keys times key too */
        be->ops->scale(be, m->q, d->mup.attn_in, (int64_t)T * qd);
        be->ops->scale(be, m->k, d->mup.attn_in * d->mup.key, (int64_t)T * kvd);
        be->ops->scale(be, m->v, d->mup.attn_in, (int64_t)T * kvd);
    }
    if (d->qk_norm && d->qk_norm_full) { /* over the whole projection (OLMo 2/3) */
        be->ops->rmsnorm(be, m->q, m->q, vec(m, w0, W(s, buf, W_Q_NORM), qd), T, qd, d->norm_eps, d->norm_one_plus);
        be->ops->rmsnorm(be, m->k, m->k, vec(m, w0, W(s, buf, W_K_NORM), kvd), T, kvd, d->norm_eps, d->norm_one_plus);
    } else if (d->qk_norm && !d->qk_norm_after_rope)
        qk_head_norms(m, s, buf, T, w0);
    size_t rt = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * (size_t)ld->rope;
    be->ops->rope(be, &d->ropes[ld->rope], m->q, T, nh, hd, m->rope_cos + rt, m->rope_sin + rt);
    be->ops->rope(be, &d->ropes[ld->rope], m->k, T, nkv, hd, m->rope_cos + rt, m->rope_sin + rt);
    if (d->qk_norm && !d->qk_norm_full && d->qk_norm_after_rope) qk_head_norms(m, s, buf, T, w0); /* Hunyuan */
    if (ld->qk_l2) { /* Llama 4: per head, no weight (rotations keep the norm: before or after rope alike) */
        be->ops->rmsnorm(be, m->q, m->q, NULL, T * nh, hd, d->norm_eps, 0);
        be->ops->rmsnorm(be, m->k, m->k, NULL, T * nkv, hd, d->norm_eps, 0);
    }
    if (ld->temp_tuned && m->attn_temp) be->ops->scale_rows(be, m->q, m->attn_temp, T, qd); /* Llama 4's NoPE layers */
    RL_TRACE(m, l, "q", m->q, T, qd);
    RL_TRACE(m, l, "k", m->k, T, kvd);
    RL_TRACE(m, l, "v", m->v, T, kvd);
    int slot = m->kv_slot[l], window = ld->kind == RL_LAYER_SLIDING ? ld->window : 0;
    int chunked = ld->chunked && d->attn_chunk > 0 && m->ctx > d->attn_chunk; /* (a context within one chunk: plain) */
    if (chunked && m->tree_parent) return rl_err("%s: chunked attention verifies chains only", m->dir);
    const float *sinks = d->attn_sinks ? vec(m, w1, W(s, buf, W_SINKS), nh) : NULL; /* (w1: free after the norm) */
    if (sinks && !be->ops->attention_kv) return rl_err("%s: backend %s has no attention over compact caches, which attention sinks need", m->dir, be->ops->name);
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        rl_kv_view kv = rl_kv_layer(&m->kv, slot, sg->seq);
        kv.sinks = sinks;
        const float *k = m->k + (size_t)sg->row0 * kvd, *v = m->v + (size_t)sg->row0 * kvd;
        float *out = m->att + (size_t)sg->row0 * qd;
        const float *q = m->q + (size_t)sg->row0 * qd;
        if (m->tree_parent) { /* token-tree verification: each node sees the prefix and its ancestors */
            be->ops->kv_store(be, &kv, sg->pos0, k, v, sg->n);
            be->ops->attention_tree(be, out, q, &kv, m->tree_parent_dev + sg->row0, sg->n, sg->pos0, nh, nkv, hd, hd, d->attn_scale,
                                    d->attn_softcap, window);
        } else {
            if (be->ops->attention_kv) /* compact / ring caches */
                be->ops->kv_store(be, &kv, sg->pos0, k, v, sg->n);
            else { /* f32 linear caches */
                size_t rb = (size_t)kvd * sizeof(float);
                be->ops->copy2d(be, (float *)kv.k + (size_t)sg->pos0 * kvd, rb, k, rb, rb, sg->n);
                be->ops->copy2d(be, (float *)kv.v + (size_t)sg->pos0 * kvd, rb, v, rb, rb, sg->n);
            }
            if (chunked) attend_chunked(m, out, q, &kv, sg->n, sg->pos0);
            else attend(m, out, q, &kv, sg->n, sg->pos0, window);
        }
    }
    if (d->attn_out_gate) rl_qgate_apply(m, T); /* output * sigmoid(gate) */
    RL_TRACE(m, l, "attn_out", m->att, T, qd);
    wview wo = W(s, buf, W_O);
    mm(m, m->o, m->att, wo.p, wo.dt, vec(m, w2, W(s, buf, W_O_B), d->hidden), T, qd, d->hidden);
    return 0;
}

/* The dense MLP of layer l on m->xb, output to m->o. */
static int mlp(rl_model *m, const rl_stage *s, const uint8_t *buf, int T, float *w2) {
    const rl_model_desc *d = &m->d;
    int H = d->hidden, I = d->intermediate;
    if (s->t[W_GATE_UP]) {
        wview f = W(s, buf, W_GATE_UP);
        mm(m, m->hb, m->xb, rows(f, 0, H), f.dt, NULL, T, H, I);
        mm(m, m->hb2, m->xb, rows(f, I, H), f.dt, NULL, T, H, I);
    } else {
        wview wu = W(s, buf, W_UP);
        if (d->mlp_gated) {
            wview wg = W(s, buf, W_GATE);
            mm(m, m->hb, m->xb, wg.p, wg.dt, NULL, T, H, I);
            mm(m, m->hb2, m->xb, wu.p, wu.dt, vec(m, w2, W(s, buf, W_UP_B), I), T, H, I);
        } else
            mm(m, m->hb, m->xb, wu.p, wu.dt, vec(m, w2, W(s, buf, W_UP_B), I), T, H, I);
    }
    if (d->act == RL_ACT_SILU && !d->mlp_gated) return rl_err("%s: plain (ungated) SiLU MLP is not supported", m->dir);
    if (d->mup.mlp_gate) m->be->ops->scale(m->be, m->hb, d->mup.mlp_gate, (int64_t)T * I); /* Falcon-H1: inside the SiLU */
    rl_act_mul_rows(m->be, d->act, m->hb, d->mlp_gated ? m->hb2 : NULL, T, I);
    wview wd = W(s, buf, W_DOWN);
    mm(m, m->o, m->hb, wd.p, wd.dt, vec(m, w2, W(s, buf, W_DOWN_B), H), T, I, H);
    if (d->mup.mlp_down) m->be->ops->scale(m->be, m->o, d->mup.mlp_down, (int64_t)T * H);
    return 0;
}

/* The token-mixer sublayer of layer l: its norm, attention / linear attention / MLA, the post
 * norm and residual multiplier, the residual add. */
static int mixer_sublayer(rl_model *m, int l, const rl_stage *s, const uint8_t *buf, int T, float *w0, float *w1, float *w2) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int H = d->hidden;
    norm(m, m->xb, m->x, vec(m, w0, W(s, buf, W_ATTN_NORM), H), vec(m, w1, W(s, buf, W_ATTN_NORM_B), H), T, H);
    RL_TRACE(m, l, "attn_norm", m->xb, T, H);
    if (d->layers[l].kind == RL_LAYER_LINEAR) { /* Gated DeltaNet / Mamba-2 instead of attention (deltanet.c) */
        if (rl_deltanet_forward(m, l, buf, T)) return -1;
    } else if (d->layers[l].ssm_too) { /* Falcon-H1: the Mamba-2 mixer, then attention, on the same normed input, summed */
        if (rl_deltanet_forward(m, l, buf, T)) return -1;
        if (d->mup.ssm_out) be->ops->scale(be, m->o, d->mup.ssm_out, (int64_t)T * H);
        RL_TRACE(m, l, "ssm_out", m->o, T, H);
        be->ops->add(be, m->x, m->o, (int64_t)T * H);
        if (attention(m, l, s, buf, T, w0, w1, w2)) return -1;
        if (d->mup.attn_out) be->ops->scale(be, m->o, d->mup.attn_out, (int64_t)T * H);
    } else if (d->mla) { /* multi-head latent attention (mla.c) */
        if (rl_mla_forward(m, l, buf, T)) return -1;
    } else if (attention(m, l, s, buf, T, w0, w1, w2))
        return -1;
    if (d->post_norms) be->ops->rmsnorm(be, m->o, m->o, vec(m, w0, W(s, buf, W_POST_ATTN_NORM), H), T, H, d->norm_eps, d->norm_one_plus);
    if (d->resid_mult && d->resid_mult != 1.0f) be->ops->scale(be, m->o, d->resid_mult, (int64_t)T * H);
    RL_TRACE(m, l, "mixer_out", m->o, T, H);
    if (d->parallel_block == 2) /* GPT-NeoX: the MLP's own norm of the layer input, before the attention joins it */
        norm(m, m->xb, m->x, vec(m, w0, W(s, buf, W_MLP_NORM), H), vec(m, w1, W(s, buf, W_MLP_NORM_B), H), T, H);
    be->ops->add(be, m->x, m->o, (int64_t)T * H);
    return 0;
}

/* The MLP sublayer of layer l (parallel block: on xb, the mixer's normed input still intact or, 2,
 * the MLP's own norm of the layer input written there by mixer_sublayer):
 * its norm, the dense MLP or the experts, the post norm and residual multiplier, the residual add. */
static int mlp_sublayer(rl_model *m, int l, const rl_stage *s, const uint8_t *buf, int T, float *w0, float *w1, float *w2) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int H = d->hidden;
    if (!d->parallel_block)
        norm(m, m->xb, m->x, vec(m, w0, W(s, buf, W_MLP_NORM), H), vec(m, w1, W(s, buf, W_MLP_NORM_B), H), T, H);
    RL_TRACE(m, l, "ffn_norm", m->xb, T, H);
    if (d->n_experts > 0 && d->layer_moe[l]) { /* mixture of experts (moe.c) */
        if (rl_moe_forward(m, l, buf, m->xb, m->o, T)) return -1;
    } else if (mlp(m, s, buf, T, w2))
        return -1;
    if (d->post_norms) be->ops->rmsnorm(be, m->o, m->o, vec(m, w0, W(s, buf, W_POST_MLP_NORM), H), T, H, d->norm_eps, d->norm_one_plus);
    if (d->resid_mult && d->resid_mult != 1.0f) be->ops->scale(be, m->o, d->resid_mult, (int64_t)T * H);
    RL_TRACE(m, l, "ffn_out", m->o, T, H);
    be->ops->add(be, m->x, m->o, (int64_t)T * H);
    return 0;
}

int rl_block_forward(rl_model *m, int l, const uint8_t *buf, int T) {
    const rl_model_desc *d = &m->d;
    const rl_stage *s = &m->stages[l];
    int H = d->hidden, hd = d->head_dim, I = d->intermediate;
    int wstride = H > I ? H : I;
    if (d->n_heads * hd + 2 * d->n_kv_heads * hd > wstride) wstride = d->n_heads * hd + 2 * d->n_kv_heads * hd;
    float *w0 = m->wv, *w1 = m->wv + wstride, *w2 = m->wv + 2 * wstride;
    /* a Nemotron-H layer has only one of the two */
    if (!d->layers[l].no_mixer && mixer_sublayer(m, l, s, buf, T, w0, w1, w2)) return -1;
    if (!d->layers[l].no_mlp && mlp_sublayer(m, l, s, buf, T, w0, w1, w2)) return -1;
    RL_TRACE(m, l, "layer_out", m->x, T, H);
    return 0;
}
