/* Multi-head latent attention and the DSA indexer (see mla.h), through the backend.
 *   q   = q_proj(x), or q_b(rmsnorm(q_a(x)))            per head [nope | rope]
 *   kva = kv_a_proj_with_mqa(x) = [c (kv_lora_rank) | k_pe (qk_rope)]
 *   kv  = kv_b(rmsnorm(c))                               per head [k_nope | v]
 *   k_h = [k_nope_h | rope(k_pe)], rope on the last qk_rope dims of q and k
 * DSA (GLM-5): index score s_j = sum_h w_h relu(q_h . k_j / sqrt(d)), w = weights_proj(x) /
 * sqrt(heads), q = wq_b(q_resid), k = layernorm(wk(x)), rope on the first qk_rope dims of each;
 * a query at position i attends to all j <= i when i + 1 <= index_topk, else to the
 * index_topk keys with the highest scores (the backend's dsa_attention). */
#include "engine/mla.h"
#include "model/rope.h"
#include "util/err.h"
#include <math.h>
#include <stdlib.h>

struct rl_mla_state {      /* all device memory */
    float *qa;     /* (T, q_lora_rank) normed q LoRA activations (the indexer's q_resid) */
    float *kva;    /* (T, kv_lora_rank + qk_rope) */
    float *ckv;    /* (T, kv_lora_rank) normed latent */
    float *kvb;    /* (T, heads * (qk_nope + v_head)) */
    float *vw;     /* f32 vectors (norm weights, biases): 2 * max(q_lora, kv_lora, idx_head_dim) */
    float *ikc;    /* DSA: (n_layers, ctx, idx_head_dim) indexer key cache */
    float *iq;     /* (T, idx_heads * idx_head_dim) */
    float *iw;     /* (T, idx_heads) head weights */
    rl_rope irope; /* indexer rope (same frequencies, its own pairing) */
};

int rl_mla_plan(rl_model *m) {
    const rl_model_desc *d = &m->d;
    if (!d->mla) return 0;
    struct rl_mla_state *S = calloc(1, sizeof *S);
    if (!S) return rl_err("out of memory");
    m->mla = S;
    size_t T = (size_t)m->max_T, nh = (size_t)d->n_heads, F = sizeof(float);
    size_t vmax = (size_t)(d->q_lora_rank > d->kv_lora_rank ? d->q_lora_rank : d->kv_lora_rank);
    if ((size_t)d->idx_head_dim > vmax) vmax = (size_t)d->idx_head_dim;
    rl_plan *p = &m->plan;
    rl_plan_add(p, "mla q lora", RL_MEM_DEVICE, T * (size_t)d->q_lora_rank * F, (void **)&S->qa);
    rl_plan_add(p, "mla kv_a output", RL_MEM_DEVICE, T * (size_t)(d->kv_lora_rank + d->qk_rope_dim) * F, (void **)&S->kva);
    rl_plan_add(p, "mla latent", RL_MEM_DEVICE, T * (size_t)d->kv_lora_rank * F, (void **)&S->ckv);
    rl_plan_add(p, "mla kv_b output", RL_MEM_DEVICE, T * nh * (size_t)(d->qk_nope_dim + d->v_head_dim) * F, (void **)&S->kvb);
    rl_plan_add(p, "mla small weights", RL_MEM_DEVICE, 2 * vmax * F, (void **)&S->vw);
    if (d->idx_heads > 0) {
        rl_plan_add(p, "dsa indexer key cache", RL_MEM_DEVICE, (size_t)d->n_layers * m->ctx * (size_t)d->idx_head_dim * F, (void **)&S->ikc);
        rl_plan_add(p, "dsa indexer queries", RL_MEM_DEVICE, T * (size_t)d->idx_heads * d->idx_head_dim * F, (void **)&S->iq);
        rl_plan_add(p, "dsa indexer weights", RL_MEM_DEVICE, T * (size_t)d->idx_heads * F, (void **)&S->iw);
        S->irope = d->ropes[0];
        S->irope.pairing = d->idx_pairing;
    }
    return 0;
}

int rl_mla_open(rl_model *m) { (void)m; return 0; }

void rl_mla_close(rl_model *m) {
    if (!m) return;
    free(m->mla);
    m->mla = NULL;
}

#define WT(r) (buf + s->off[r]), s->t[r]->dtype

int rl_mla_forward(rl_model *m, int l, const uint8_t *buf, int T, int pos0) {
    const rl_model_desc *d = &m->d;
    struct rl_mla_state *S = m->mla;
    const rl_stage *s = &m->stages[l];
    rl_backend *be = m->be;
    int H = d->hidden, nh = d->n_heads, qk = d->head_dim, nope = d->qk_nope_dim, rope = d->qk_rope_dim;
    int vd = d->v_head_dim, ql = d->q_lora_rank, kvl = d->kv_lora_rank;
    const rl_rope *rp = &d->ropes[d->layers[l].rope];
    size_t rt = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * (size_t)d->layers[l].rope, F = sizeof(float);
    const float *cs = m->rope_cos + rt, *sn = m->rope_sin + rt;

    /* queries */
    if (ql > 0) {
        be->ops->matmul(be, S->qa, m->xb, WT(W_MLA_Q_A), NULL, T, H, ql);
        be->ops->rmsnorm(be, S->qa, S->qa, rl_vec_f32(m, S->vw, WT(W_MLA_Q_A_NORM), ql), T, ql, d->norm_eps, 0);
        be->ops->matmul(be, m->q, S->qa, WT(W_MLA_Q_B), NULL, T, ql, nh * qk);
    } else {
        be->ops->matmul(be, m->q, m->xb, WT(W_Q), NULL, T, H, nh * qk);
    }
    be->ops->rope(be, rp, m->q + nope, T, nh, qk, cs, sn);
    RL_TRACE(m, l, "q", m->q, T, nh * qk);

    /* keys and values from the latent */
    int kw = kvl + rope;
    be->ops->matmul(be, S->kva, m->xb, WT(W_MLA_KV_A), NULL, T, H, kw);
    be->ops->copy2d(be, S->ckv, (size_t)kvl * F, S->kva, (size_t)kw * F, (size_t)kvl * F, T);
    be->ops->rmsnorm(be, S->ckv, S->ckv, rl_vec_f32(m, S->vw, WT(W_MLA_KV_A_NORM), kvl), T, kvl, d->norm_eps, 0);
    be->ops->rope(be, rp, S->kva + kvl, T, 1, kw, cs, sn);
    int kvbw = nope + vd;
    be->ops->matmul(be, S->kvb, S->ckv, WT(W_MLA_KV_B), NULL, T, kvl, nh * kvbw);
    /* expanded per-head keys [k_nope | k_pe] and values appended to the cache */
    float *kc = rl_kv_k(&m->kv, m->kv_slot[l], 0), *vc = rl_kv_v(&m->kv, m->kv_slot[l], 0);
    float *krow = kc + (size_t)pos0 * nh * qk, *vrow = vc + (size_t)pos0 * nh * vd;
    be->ops->copy2d(be, krow, (size_t)qk * F, S->kvb, (size_t)kvbw * F, (size_t)nope * F, T * nh);
    for (int t = 0; t < T; t++) /* the rotary part is shared by every head */
        be->ops->copy2d(be, krow + (size_t)t * nh * qk + nope, (size_t)qk * F, S->kva + (size_t)t * kw + kvl, 0,
                        (size_t)rope * F, nh);
    be->ops->copy2d(be, vrow, (size_t)vd * F, S->kvb + nope, (size_t)kvbw * F, (size_t)vd * F, T * nh);

    if (d->idx_heads <= 0) {
        be->ops->attention(be, m->att, m->q, kc, vc, T, pos0, nh, nh, qk, vd, d->attn_scale, 0.0f, 0);
    } else {
        int ih = d->idx_heads, ihd = d->idx_head_dim;
        float *ikc = S->ikc + (size_t)l * m->ctx * ihd, *ik = ikc + (size_t)pos0 * ihd;
        be->ops->matmul(be, S->iq, S->qa, WT(W_IDX_Q_B), NULL, T, ql, ih * ihd);
        be->ops->rope(be, &S->irope, S->iq, T, ih, ihd, cs, sn);
        be->ops->matmul(be, ik, m->xb, WT(W_IDX_K), NULL, T, H, ihd);
        const float *nw = rl_vec_f32(m, S->vw, WT(W_IDX_K_NORM), ihd);
        const float *nb = rl_vec_f32(m, S->vw + ihd, WT(W_IDX_K_NORM_B), ihd);
        be->ops->layernorm(be, ik, ik, nw, nb, T, ihd, 1e-6f);
        be->ops->rope(be, &S->irope, ik, T, 1, ihd, cs, sn);
        be->ops->matmul(be, S->iw, m->xb, WT(W_IDX_W), NULL, T, H, ih);
        be->ops->scale(be, S->iw, 1.0f / sqrtf((float)ih), (int64_t)T * ih);
        rl_dsa_args a = {ih, ihd, d->idx_topk, S->iq, S->iw, ikc};
        be->ops->dsa_attention(be, m->att, m->q, kc, vc, T, pos0, nh, qk, vd, d->attn_scale, &a);
    }
    RL_TRACE(m, l, "attn_out", m->att, T, nh * vd);
    be->ops->matmul(be, m->o, m->att, WT(W_O), NULL, T, nh * vd, H);
    return 0;
}
