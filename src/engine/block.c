/* The one decoder block: reads the model description and runs attention + MLP for T tokens,
 * whatever the family. Weights are views into the loaded layer image. */
#include "engine/model.h"
#include "engine/dense_ext.h"
#include "engine/deltanet.h"
#include "engine/mla.h"
#include "engine/moe.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "model/rope.h"
#include "util/err.h"
#include <string.h>

/* A weight view of a layer role: pointer into the layer image and its dtype. */
typedef struct { const void *p; rl_dtype dt; int present; } wview;

static wview W(const rl_stage *s, const uint8_t *buf, int role) {
    wview w = {0, RL_DT_F32, 0};
    if (s->t[role]) { w.p = buf + s->off[role]; w.dt = s->t[role]->dtype; w.present = 1; }
    return w;
}

/* Small vector weight as f32 into dst (n floats); NULL if absent. */
static const float *vec(float *dst, wview w, int64_t n) {
    if (!w.present) return NULL;
    rl_convert_to_f32(dst, w.p, w.dt, n);
    return dst;
}

/* Row view: rows [r0, ...) of a 2-D weight with `cols` columns. */
static const void *rows(wview w, int64_t r0, int64_t cols) {
    return (const uint8_t *)w.p + (size_t)r0 * rl_dtype_row_bytes(w.dt, cols);
}

static void norm(const rl_model *m, float *out, const float *x, const float *w, const float *b, int T, int n) {
    if (m->d.norm == RL_NORM_LAYER) rl_layernorm(out, x, w, b, T, n, m->d.norm_eps);
    else rl_rmsnorm(out, x, w, T, n, m->d.norm_eps, m->d.norm_one_plus);
}

int rl_block_forward(rl_model *m, int l, const uint8_t *buf, int T, int pos0) {
    const rl_model_desc *d = &m->d;
    const rl_stage *s = &m->stages[l];
    const rl_layer_desc *ld = &d->layers[l];
    const rl_rope *rope = &d->ropes[ld->rope];
    int H = d->hidden, hd = d->head_dim, nh = d->n_heads, nkv = d->n_kv_heads;
    int qd = nh * hd, kvd = nkv * hd, I = d->intermediate;
    int wstride = m->d.hidden > I ? m->d.hidden : I;
    if (qd + 2 * kvd > wstride) wstride = qd + 2 * kvd;
    float *w0 = m->wv, *w1 = m->wv + wstride, *w2 = m->wv + 2 * wstride;

    /* --- attention --- */
    norm(m, m->xb, m->x, vec(w0, W(s, buf, W_ATTN_NORM), H), vec(w1, W(s, buf, W_ATTN_NORM_B), H), T, H);
    if (ld->kind == RL_LAYER_LINEAR) { /* Gated DeltaNet token mixer instead of attention (deltanet.c) */
        if (rl_deltanet_forward(m, l, buf, T)) return -1;
        goto mixer_done;
    }
    if (d->mla) { /* multi-head latent attention (mla.c): output to m->o */
        if (rl_mla_forward(m, l, buf, T, pos0)) return -1;
        goto mixer_done;
    }
    if (s->t[W_QKV] && d->qkv_grouped) { /* InternLM2: per kv head [q..q, k, v] rows */
        wview f = W(s, buf, W_QKV);
        rl_matmul(m->pool, m->qkv_tmp, m->xb, f.p, f.dt, vec(w2, W(s, buf, W_QKV_B), qd + 2 * kvd), T, H, qd + 2 * kvd);
        rl_qkv_grouped_split(m->qkv_tmp, T, nkv, nh / nkv, hd, m->q, m->k, m->v);
    } else if (s->t[W_QKV]) {
        wview f = W(s, buf, W_QKV);
        const float *b = vec(w2, W(s, buf, W_QKV_B), qd + 2 * kvd);
        rl_matmul(m->pool, m->q, m->xb, rows(f, 0, H), f.dt, b, T, H, qd);
        rl_matmul(m->pool, m->k, m->xb, rows(f, qd, H), f.dt, b ? b + qd : NULL, T, H, kvd);
        rl_matmul(m->pool, m->v, m->xb, rows(f, qd + kvd, H), f.dt, b ? b + qd + kvd : NULL, T, H, kvd);
    } else {
        wview wq = W(s, buf, W_Q), wk = W(s, buf, W_K), wvv = W(s, buf, W_V);
        if (d->attn_out_gate) { /* q_proj rows per head: [query, gate] (deltanet.c) */
            rl_matmul(m->pool, m->qgate, m->xb, wq.p, wq.dt, NULL, T, H, 2 * qd);
            rl_qgate_split(m, T);
        } else
            rl_matmul(m->pool, m->q, m->xb, wq.p, wq.dt, vec(w2, W(s, buf, W_Q_B), qd), T, H, qd);
        rl_matmul(m->pool, m->k, m->xb, wk.p, wk.dt, vec(w2, W(s, buf, W_K_B), kvd), T, H, kvd);
        rl_matmul(m->pool, m->v, m->xb, wvv.p, wvv.dt, vec(w2, W(s, buf, W_V_B), kvd), T, H, kvd);
    }
    if (d->qk_norm) {
        rl_rmsnorm(m->q, m->q, vec(w0, W(s, buf, W_Q_NORM), hd), T * nh, hd, d->norm_eps, d->norm_one_plus);
        rl_rmsnorm(m->k, m->k, vec(w0, W(s, buf, W_K_NORM), hd), T * nkv, hd, d->norm_eps, d->norm_one_plus);
    }
    size_t rt = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * (size_t)ld->rope;
    rl_rope_apply(rope, m->q, T, nh, hd, m->rope_cos + rt, m->rope_sin + rt);
    rl_rope_apply(rope, m->k, T, nkv, hd, m->rope_cos + rt, m->rope_sin + rt);

    /* each sequence's rows: append to its KV cache, attend over its own past */
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        float *kc = rl_kv_keys(m, m->kv_slot[l], sg->seq), *vc = rl_kv_values(m, m->kv_slot[l], sg->seq);
        memcpy(kc + (size_t)sg->pos0 * kvd, m->k + (size_t)sg->row0 * kvd, (size_t)sg->n * kvd * sizeof(float));
        memcpy(vc + (size_t)sg->pos0 * kvd, m->v + (size_t)sg->row0 * kvd, (size_t)sg->n * kvd * sizeof(float));
        rl_attention(m->pool, m->att + (size_t)sg->row0 * qd, m->q + (size_t)sg->row0 * qd, kc, vc, sg->n, sg->pos0,
                     nh, nkv, hd, hd, d->attn_scale, d->attn_softcap, ld->kind == RL_LAYER_SLIDING ? ld->window : 0,
                     m->attn_scratch);
    }
    if (d->attn_out_gate) rl_qgate_apply(m, T); /* output * sigmoid(gate) */
    wview wo = W(s, buf, W_O);
    rl_matmul(m->pool, m->o, m->att, wo.p, wo.dt, vec(w2, W(s, buf, W_O_B), H), T, qd, H);
mixer_done:
    if (d->post_norms) rl_rmsnorm(m->o, m->o, vec(w0, W(s, buf, W_POST_ATTN_NORM), H), T, H, d->norm_eps, d->norm_one_plus);
    rl_add(m->x, m->o, (int64_t)T * H);

    /* --- MLP --- (parallel block: on the same normed input xb, still intact) */
    if (!d->parallel_block)
        norm(m, m->xb, m->x, vec(w0, W(s, buf, W_MLP_NORM), H), vec(w1, W(s, buf, W_MLP_NORM_B), H), T, H);
    if (d->n_experts > 0 && d->layer_moe[l]) { /* mixture of experts (moe.c): output to m->o */
        if (rl_moe_forward(m, l, buf, m->xb, m->o, T)) return -1;
        goto mlp_done;
    }
    if (s->t[W_GATE_UP]) {
        wview f = W(s, buf, W_GATE_UP);
        rl_matmul(m->pool, m->hb, m->xb, rows(f, 0, H), f.dt, NULL, T, H, I);
        rl_matmul(m->pool, m->hb2, m->xb, rows(f, I, H), f.dt, NULL, T, H, I);
    } else {
        wview wu = W(s, buf, W_UP);
        if (d->mlp_gated) {
            wview wg = W(s, buf, W_GATE);
            rl_matmul(m->pool, m->hb, m->xb, wg.p, wg.dt, NULL, T, H, I);
            rl_matmul(m->pool, m->hb2, m->xb, wu.p, wu.dt, vec(w2, W(s, buf, W_UP_B), I), T, H, I);
        } else {
            rl_matmul(m->pool, m->hb, m->xb, wu.p, wu.dt, vec(w2, W(s, buf, W_UP_B), I), T, H, I);
        }
    }
    const float *up = d->mlp_gated ? m->hb2 : NULL;
    int64_t nI = (int64_t)T * I;
    switch (d->act) {
    case RL_ACT_SILU:
        if (up) rl_silu_mul(m->hb, up, nI);
        else return rl_err("%s: plain (ungated) SiLU MLP is not supported", m->dir);
        break;
    case RL_ACT_GELU_TANH: rl_gelu_tanh_mul(m->hb, up, nI); break;
    case RL_ACT_GELU_ERF: rl_gelu_erf_mul(m->hb, up, nI); break;
    }
    wview wd = W(s, buf, W_DOWN);
    rl_matmul(m->pool, m->o, m->hb, wd.p, wd.dt, vec(w2, W(s, buf, W_DOWN_B), H), T, I, H);
mlp_done:
    if (d->post_norms) rl_rmsnorm(m->o, m->o, vec(w0, W(s, buf, W_POST_MLP_NORM), H), T, H, d->norm_eps, d->norm_one_plus);
    rl_add(m->x, m->o, (int64_t)T * H);
    return 0;
}
