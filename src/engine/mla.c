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
    float *ikc;    /* DSA: (n_layers, n_seq, ctx, idx_head_dim) indexer key cache */
    float *ik;     /* DSA: (T, idx_head_dim) the sweep's indexer keys */
    float *iq;     /* (T, idx_heads * idx_head_dim) */
    float *iw;     /* (T, idx_heads) head weights */
    /* latent cache / absorbed attention (m->mla_latent) */
    float *lat;    /* (T, kv_lora_rank + qk_rope) cache rows: [normed c | rotated k_pe] */
    float *qabs;   /* (T, heads, kv_lora_rank + qk_rope) queries: [q_nope W_UK | q_pe] */
    float *olat;   /* (T, heads, kv_lora_rank) attention output in the latent */
    float *ta, *tb; /* (T, max(qk_nope, kv_lora_rank, v_head)) per-head staging */
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
    if (m->mla_latent) {
        size_t W = (size_t)(d->kv_lora_rank + d->qk_rope_dim), tw = (size_t)d->kv_lora_rank;
        if ((size_t)d->qk_nope_dim > tw) tw = (size_t)d->qk_nope_dim;
        if ((size_t)d->v_head_dim > tw) tw = (size_t)d->v_head_dim;
        rl_plan_add(p, "mla latent rows", RL_MEM_DEVICE, T * W * F, (void **)&S->lat);
        rl_plan_add(p, "mla absorbed queries", RL_MEM_DEVICE, T * nh * W * F, (void **)&S->qabs);
        rl_plan_add(p, "mla latent attention output", RL_MEM_DEVICE, T * nh * (size_t)d->kv_lora_rank * F, (void **)&S->olat);
        rl_plan_add(p, "mla per-head staging", RL_MEM_DEVICE, 2 * T * tw * F, (void **)&S->ta);
    }
    if (d->idx_heads > 0) {
        rl_plan_add(p, "dsa indexer key cache", RL_MEM_DEVICE, (size_t)d->n_layers * m->n_seq * m->ctx * (size_t)d->idx_head_dim * F,
                    (void **)&S->ikc);
        rl_plan_add(p, "dsa indexer keys", RL_MEM_DEVICE, T * (size_t)d->idx_head_dim * F, (void **)&S->ik);
        rl_plan_add(p, "dsa indexer queries", RL_MEM_DEVICE, T * (size_t)d->idx_heads * d->idx_head_dim * F, (void **)&S->iq);
        rl_plan_add(p, "dsa indexer weights", RL_MEM_DEVICE, T * (size_t)d->idx_heads * F, (void **)&S->iw);
        S->irope = d->ropes[0];
        S->irope.pairing = d->idx_pairing;
    }
    return 0;
}

int rl_mla_open(rl_model *m) {
    struct rl_mla_state *S = m->mla;
    if (S && S->ta) {
        size_t tw = (size_t)m->d.kv_lora_rank;
        if ((size_t)m->d.qk_nope_dim > tw) tw = (size_t)m->d.qk_nope_dim;
        if ((size_t)m->d.v_head_dim > tw) tw = (size_t)m->d.v_head_dim;
        S->tb = S->ta + (size_t)m->max_T * tw;
    }
    return 0;
}

/* Layer l's indexer key cache of sequence seq. */
static float *ik_cache(rl_model *m, int l, int seq) {
    return m->mla->ikc + ((size_t)l * m->n_seq + (size_t)seq) * m->ctx * (size_t)m->d.idx_head_dim;
}

/* The indexer arguments of one segment: its rows' queries and weights, its sequence's keys,
 * its token tree's parents in a tree sweep. */
static rl_dsa_args per_segment(rl_model *m, rl_dsa_args a, int l, const rl_segment *sg) {
    a.iq += (size_t)sg->row0 * a.idx_heads * a.idx_dim;
    a.iw += (size_t)sg->row0 * a.idx_heads;
    a.ik = ik_cache(m, l, sg->seq);
    a.parent = m->tree_parent ? m->tree_parent_dev + sg->row0 : NULL;
    return a;
}

void rl_mla_tree_commit(rl_model *m, int seq, int P, const int32_t *nodes, int k) {
    if (!m->mla || m->d.idx_heads <= 0) return;
    size_t rb = (size_t)m->d.idx_head_dim * sizeof(float);
    for (int l = m->l0; l < m->l1; l++) /* ascending: a source is never an earlier destination */
        for (int i = 0; i < k; i++)
            if (nodes[i] != i) {
                float *c = ik_cache(m, l, seq);
                m->be->ops->copy2d(m->be, (uint8_t *)c + (size_t)(P + i) * rb, rb, (uint8_t *)c + (size_t)(P + nodes[i]) * rb, rb, rb, 1);
            }
}

/* The absorbed form (DeepSeek's own inference): per head, scores q_nope . k_nope_j =
 * (W_UK^T q_nope) . c_j and outputs W_UV (sum_j p_j c_j), so the cache holds only c_j and k_pe_j;
 * W_UK / W_UV are head h's rows of kv_b_proj ([k_nope | v] per head, kv_lora_rank columns), or
 * (llama.cpp's GGUF form, kb / vb set) head h's row blocks of k_b (W_UK^T) and v_b. */
static void latent_attention(rl_model *m, struct rl_mla_state *S, const void *wkvb, rl_dtype dt, rl_wref kb, rl_wref vb, int l, int T,
                             rl_dsa_args *dsa) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int nh = d->n_heads, qk = d->head_dim, nope = d->qk_nope_dim, rope = d->qk_rope_dim, vd = d->v_head_dim;
    int kvl = d->kv_lora_rank, W = kvl + rope, kvbw = nope + vd;
    size_t F = sizeof(float), rb = rl_dtype_row_bytes(dt, kvl);
    /* queries: [q_nope_h W_UK_h | q_pe_h] per head */
    be->ops->copy2d(be, S->qabs + kvl, (size_t)W * F, m->q + nope, (size_t)qk * F, (size_t)rope * F, T * nh);
    for (int h = 0; h < nh; h++) {
        be->ops->copy2d(be, S->ta, (size_t)nope * F, m->q + (size_t)h * qk, (size_t)nh * qk * F, (size_t)nope * F, T);
        if (kb.p) /* split form: head h's kv_lora_rank rows of qk_nope each */
            be->ops->matmul(be, S->tb, S->ta, (const uint8_t *)kb.p + (size_t)h * kvl * rl_dtype_row_bytes(kb.dt, nope), kb.dt,
                            NULL, T, nope, kvl);
        else
            be->ops->matmul_t(be, S->tb, S->ta, (const uint8_t *)wkvb + (size_t)h * kvbw * rb, dt, T, nope, kvl);
        be->ops->copy2d(be, S->qabs + (size_t)h * W, (size_t)nh * W * F, S->tb, (size_t)kvl * F, (size_t)kvl * F, T);
    }
    /* one shared key/value head over the latent rows (MQA): outputs in the latent; each sequence's
     * rows appended to its own cache (a token tree's nodes see the prefix and their ancestors) */
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        rl_kv_view kv = rl_kv_layer(&m->kv, m->kv_slot[l], sg->seq);
        const float *lat = S->lat + (size_t)sg->row0 * W, *q = S->qabs + (size_t)sg->row0 * nh * W;
        float *out = S->olat + (size_t)sg->row0 * nh * kvl;
        be->ops->kv_store(be, &kv, sg->pos0, lat, lat, sg->n);
        if (dsa) { /* the indexer's top-k keys (an f32 cache: kv.dt is F32 with DSA; trees too) */
            rl_dsa_args a = per_segment(m, *dsa, l, sg);
            a.n_kv = 1; a.k_stride = W; a.v_stride = W;
            be->ops->dsa_attention(be, out, q, kv.k, kv.v, sg->n, sg->pos0, nh, W, kvl, d->attn_scale, &a);
        } else if (m->tree_parent)
            be->ops->attention_tree(be, out, q, &kv, m->tree_parent_dev + sg->row0, sg->n, sg->pos0, nh, 1, W, kvl,
                                    d->attn_scale, 0.0f, 0);
        else
            be->ops->attention_kv(be, out, q, &kv, sg->n, sg->pos0, nh, 1, W, kvl, d->attn_scale, 0.0f, 0);
    }
    /* values: W_UV_h (sum_j p_j c_j) per head into the attention output (T, heads, v_head) */
    for (int h = 0; h < nh; h++) {
        be->ops->copy2d(be, S->ta, (size_t)kvl * F, S->olat + (size_t)h * kvl, (size_t)nh * kvl * F, (size_t)kvl * F, T);
        if (vb.p) /* split form: head h's v_head rows of kv_lora_rank each */
            be->ops->matmul(be, S->tb, S->ta, (const uint8_t *)vb.p + (size_t)h * vd * rl_dtype_row_bytes(vb.dt, kvl), vb.dt,
                            NULL, T, kvl, vd);
        else
            be->ops->matmul(be, S->tb, S->ta, (const uint8_t *)wkvb + ((size_t)h * kvbw + nope) * rb, dt, NULL, T, kvl, vd);
        be->ops->copy2d(be, m->att + (size_t)h * vd, (size_t)nh * vd * F, S->tb, (size_t)vd * F, (size_t)vd * F, T);
    }
}

void rl_mla_close(rl_model *m) {
    if (!m) return;
    free(m->mla);
    m->mla = NULL;
}

#define WT(r) rl_stage_weight(m, s, buf, r).p, rl_stage_weight(m, s, buf, r).dt

/* The DSA indexer of layer l: its queries, keys (each sequence's rows appended to its own
 * compact cache) and head weights for the sweep's T tokens; returns the arguments of
 * dsa_attention for the whole sweep (per_segment narrows them to one segment). */
static rl_dsa_args indexer(rl_model *m, struct rl_mla_state *S, const rl_stage *s, const uint8_t *buf, int l, int T) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    int H = d->hidden, ql = d->q_lora_rank, ih = d->idx_heads, ihd = d->idx_head_dim;
    size_t rt = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * (size_t)d->layers[l].rope, F = sizeof(float);
    const float *cs = m->rope_cos + rt, *sn = m->rope_sin + rt;
    be->ops->matmul(be, S->iq, S->qa, WT(W_IDX_Q_B), NULL, T, ql, ih * ihd);
    be->ops->rope(be, &S->irope, S->iq, T, ih, ihd, cs, sn);
    be->ops->matmul(be, S->ik, m->xb, WT(W_IDX_K), NULL, T, H, ihd);
    const float *nw = rl_vec_f32(m, S->vw, WT(W_IDX_K_NORM), ihd);
    const float *nb = rl_vec_f32(m, S->vw + ihd, WT(W_IDX_K_NORM_B), ihd);
    be->ops->layernorm(be, S->ik, S->ik, nw, nb, T, ihd, 1e-6f);
    be->ops->rope(be, &S->irope, S->ik, T, 1, ihd, cs, sn);
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        be->ops->copy2d(be, ik_cache(m, l, sg->seq) + (size_t)sg->pos0 * ihd, (size_t)ihd * F, S->ik + (size_t)sg->row0 * ihd,
                        (size_t)ihd * F, (size_t)ihd * F, sg->n);
    }
    be->ops->matmul(be, S->iw, m->xb, WT(W_IDX_W), NULL, T, H, ih);
    be->ops->scale(be, S->iw, 1.0f / sqrtf((float)ih), (int64_t)T * ih);
    return (rl_dsa_args){ih, ihd, d->idx_topk, S->iq, S->iw, NULL, 0, 0, 0, NULL};
}

int rl_mla_forward(rl_model *m, int l, const uint8_t *buf, int T) {
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
    if (m->mla_latent) { /* cache rows [c | k_pe], absorbed attention */
        be->ops->copy2d(be, S->lat, (size_t)kw * F, S->ckv, (size_t)kvl * F, (size_t)kvl * F, T);
        be->ops->copy2d(be, S->lat + kvl, (size_t)kw * F, S->kva + kvl, (size_t)kw * F, (size_t)rope * F, T);
        rl_dsa_args a, *dsa = NULL;
        if (d->idx_heads > 0) { a = indexer(m, S, s, buf, l, T); dsa = &a; }
        rl_wref kvb = {0}, kb = {0}, vb = {0};
        if (d->mla_kv_b_split) {
            kb = rl_stage_weight(m, s, buf, W_MLA_K_B);
            vb = rl_stage_weight(m, s, buf, W_MLA_V_B);
        } else kvb = rl_stage_weight(m, s, buf, W_MLA_KV_B);
        latent_attention(m, S, kvb.p, kvb.dt, kb, vb, l, T, dsa);
        RL_TRACE(m, l, "attn_out", m->att, T, nh * vd);
        be->ops->matmul(be, m->o, m->att, WT(W_O), NULL, T, nh * vd, H);
        return 0;
    }
    be->ops->matmul(be, S->kvb, S->ckv, WT(W_MLA_KV_B), NULL, T, kvl, nh * kvbw);
    rl_dsa_args a = {0};
    if (d->idx_heads > 0) a = indexer(m, S, s, buf, l, T);
    /* expanded per-head keys [k_nope | k_pe] and values appended to each sequence's cache */
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        float *kc = rl_kv_k(&m->kv, m->kv_slot[l], sg->seq), *vc = rl_kv_v(&m->kv, m->kv_slot[l], sg->seq);
        float *krow = kc + (size_t)sg->pos0 * nh * qk, *vrow = vc + (size_t)sg->pos0 * nh * vd;
        const float *kvb = S->kvb + (size_t)sg->row0 * nh * kvbw, *q = m->q + (size_t)sg->row0 * nh * qk;
        float *out = m->att + (size_t)sg->row0 * nh * vd;
        be->ops->copy2d(be, krow, (size_t)qk * F, kvb, (size_t)kvbw * F, (size_t)nope * F, sg->n * nh);
        for (int t = 0; t < sg->n; t++) /* the rotary part is shared by every head */
            be->ops->copy2d(be, krow + (size_t)t * nh * qk + nope, (size_t)qk * F, S->kva + (size_t)(sg->row0 + t) * kw + kvl, 0,
                            (size_t)rope * F, nh);
        be->ops->copy2d(be, vrow, (size_t)vd * F, kvb + nope, (size_t)kvbw * F, (size_t)vd * F, sg->n * nh);
        if (d->idx_heads > 0) { /* (a tree's nodes: per_segment passes the parents) */
            rl_dsa_args sa = per_segment(m, a, l, sg);
            be->ops->dsa_attention(be, out, q, kc, vc, sg->n, sg->pos0, nh, qk, vd, d->attn_scale, &sa);
        } else if (m->tree_parent) {
            rl_kv_view kv = rl_kv_layer(&m->kv, m->kv_slot[l], sg->seq);
            be->ops->attention_tree(be, out, q, &kv, m->tree_parent_dev + sg->row0, sg->n, sg->pos0, nh, nh, qk, vd,
                                    d->attn_scale, 0.0f, 0);
        } else
            be->ops->attention(be, out, q, kc, vc, sg->n, sg->pos0, nh, nh, qk, vd, d->attn_scale, 0.0f, 0);
    }
    RL_TRACE(m, l, "attn_out", m->att, T, nh * vd);
    be->ops->matmul(be, m->o, m->att, WT(W_O), NULL, T, nh * vd, H);
    return 0;
}
