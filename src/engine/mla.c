/* Multi-head latent attention and the DSA indexer (see mla.h).
 *   q   = q_proj(x), or q_b(rmsnorm(q_a(x)))            per head [nope | rope]
 *   kva = kv_a_proj_with_mqa(x) = [c (kv_lora_rank) | k_pe (qk_rope)]
 *   kv  = kv_b(rmsnorm(c))                               per head [k_nope | v]
 *   k_h = [k_nope_h | rope(k_pe)], rope on the last qk_rope dims of q and k
 * DSA (GLM-5): index score s_j = sum_h w_h relu(q_h . k_j / sqrt(d)), w = weights_proj(x) /
 * sqrt(heads), q = wq_b(q_resid), k = layernorm(wk(x)), rope on the first qk_rope dims of each;
 * a query at position i attends to all j <= i when i + 1 <= index_topk, else to the
 * index_topk keys with the highest scores. */
#include "engine/mla.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "model/rope.h"
#include "util/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rl_mla_state {
    float *qa;     /* (T, q_lora_rank) normed q LoRA activations (the indexer's q_resid) */
    float *kva;    /* (T, kv_lora_rank + qk_rope) */
    float *ckv;    /* (T, kv_lora_rank) normed latent */
    float *kvb;    /* (T, heads * (qk_nope + v_head)) */
    float *vw;     /* f32 vectors (norm weights, biases): 2 * max(q_lora, kv_lora, idx_head_dim) */
    /* DSA indexer */
    float *ikc;    /* (n_layers, ctx, idx_head_dim) indexer key cache */
    float *iq;     /* (T, idx_heads * idx_head_dim) */
    float *iw;     /* (T, idx_heads) head weights */
    int *sel;      /* (T, idx_topk) selected key positions, ascending */
    int *nsel;     /* (T) count, 0 = all keys j <= i */
    float *scr;    /* per thread: 2 * ctx floats */
    int n_thr;
    rl_rope irope; /* indexer rope (same frequencies, its own pairing) */
};

static void *zal(size_t n) { return calloc(n ? n : 1, 1); }

int rl_mla_open(rl_model *m) {
    const rl_model_desc *d = &m->d;
    if (!d->mla) return 0;
    struct rl_mla_state *S = zal(sizeof *S);
    if (!S) return rl_err("out of memory");
    m->mla = S;
    size_t T = (size_t)m->max_T, nh = (size_t)d->n_heads;
    size_t vmax = (size_t)(d->q_lora_rank > d->kv_lora_rank ? d->q_lora_rank : d->kv_lora_rank);
    if ((size_t)d->idx_head_dim > vmax) vmax = (size_t)d->idx_head_dim;
    S->qa = zal(T * (size_t)(d->q_lora_rank ? d->q_lora_rank : 1) * sizeof(float));
    S->kva = zal(T * (size_t)(d->kv_lora_rank + d->qk_rope_dim) * sizeof(float));
    S->ckv = zal(T * (size_t)d->kv_lora_rank * sizeof(float));
    S->kvb = zal(T * nh * (size_t)(d->qk_nope_dim + d->v_head_dim) * sizeof(float));
    S->vw = zal(2 * vmax * sizeof(float));
    if (!S->qa || !S->kva || !S->ckv || !S->kvb || !S->vw) return rl_err("%s: out of memory for the MLA scratch", m->dir);
    if (d->idx_heads > 0) {
        S->n_thr = rl_pool_size(m->pool);
        S->ikc = zal((size_t)d->n_layers * (size_t)m->ctx * (size_t)d->idx_head_dim * sizeof(float));
        S->iq = zal(T * (size_t)d->idx_heads * (size_t)d->idx_head_dim * sizeof(float));
        S->iw = zal(T * (size_t)d->idx_heads * sizeof(float));
        S->sel = zal(T * (size_t)d->idx_topk * sizeof(int));
        S->nsel = zal(T * sizeof(int));
        S->scr = zal((size_t)S->n_thr * 2 * (size_t)m->ctx * sizeof(float));
        if (!S->ikc || !S->iq || !S->iw || !S->sel || !S->nsel || !S->scr) return rl_err("%s: out of memory for the DSA indexer cache", m->dir);
        S->irope = d->ropes[0];
        S->irope.pairing = d->idx_pairing;
    }
    return 0;
}

void rl_mla_close(rl_model *m) {
    struct rl_mla_state *S = m ? m->mla : NULL;
    if (!S) return;
    free(S->qa); free(S->kva); free(S->ckv); free(S->kvb); free(S->vw);
    free(S->ikc); free(S->iq); free(S->iw); free(S->sel); free(S->nsel); free(S->scr);
    free(S);
    m->mla = NULL;
}

static const void *wp(const rl_stage *s, const uint8_t *buf, int r) { return buf + s->off[r]; }

/* ---- DSA: key selection per query ---- */
typedef struct {
    const rl_model_desc *d;
    struct rl_mla_state *S;
    const float *ikc;   /* this layer's indexer keys (ctx, idx_head_dim) */
    int pos0, ctx;
} sel_job;

/* k-th largest of v[0..n) (n >= k >= 1), by quickselect on a scratch copy */
static float kth_largest(float *a, int n, int k) {
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float piv = a[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    return a[want];
}

static void sel_work(void *ctx, int64_t b, int64_t e, int tid) {
    const sel_job *J = ctx;
    const rl_model_desc *d = J->d;
    struct rl_mla_state *S = J->S;
    int nh = d->idx_heads, hd = d->idx_head_dim, K = d->idx_topk;
    float *sc = S->scr + (size_t)tid * 2 * (size_t)J->ctx, *cp = sc + J->ctx;
    float qs = 1.0f / sqrtf((float)hd);
    for (int64_t t = b; t < e; t++) {
        int i = J->pos0 + (int)t, n = i + 1;
        if (n <= K) { S->nsel[t] = 0; continue; }
        const float *q = S->iq + (size_t)t * nh * hd, *w = S->iw + (size_t)t * nh;
        for (int j = 0; j < n; j++) {
            const float *k = J->ikc + (size_t)j * hd;
            float s = 0;
            for (int h = 0; h < nh; h++) {
                float v = rl_dot_f32(q + (size_t)h * hd, k, hd) * qs;
                if (v > 0) s += v * w[h];
            }
            sc[j] = s;
        }
        memcpy(cp, sc, (size_t)n * sizeof(float));
        float kth = kth_largest(cp, n, K);
        int *out = S->sel + (size_t)t * K, c = 0;
        for (int j = 0; j < n && c < K; j++) if (sc[j] > kth) out[c++] = j;
        for (int j = 0; j < n && c < K; j++) if (sc[j] == kth) out[c++] = j; /* ties: lowest positions */
        /* keep ascending order */
        for (int a = 1; a < c; a++) { int v = out[a], z = a - 1; while (z >= 0 && out[z] > v) { out[z + 1] = out[z]; z--; } out[z + 1] = v; }
        S->nsel[t] = c;
    }
}

typedef struct {
    const rl_model_desc *d;
    struct rl_mla_state *S;
    float *out;
    const float *q, *kc, *vc;
    int pos0, ctx;
} att_job;

/* attention of one (token, head) over its selected keys (or all j <= i) */
static void att_work(void *ctx, int64_t b, int64_t e, int tid) {
    const att_job *A = ctx;
    const rl_model_desc *d = A->d;
    int nh = d->n_heads, qk = d->head_dim, vd = d->v_head_dim, K = d->idx_topk;
    float *s = A->S->scr + (size_t)tid * 2 * (size_t)A->ctx;
    for (int64_t it = b; it < e; it++) {
        int t = (int)(it / nh), h = (int)(it % nh), i = A->pos0 + t;
        int ns = A->S->nsel[t], n = ns ? ns : i + 1;
        const int *sel = A->S->sel + (size_t)t * K;
        const float *qv = A->q + ((size_t)t * nh + h) * qk;
        float mx = -INFINITY;
        for (int a = 0; a < n; a++) {
            int j = ns ? sel[a] : a;
            float v = d->attn_scale * rl_dot_f32(qv, A->kc + ((size_t)j * nh + h) * qk, qk);
            s[a] = v;
            if (v > mx) mx = v;
        }
        double sum = 0;
        for (int a = 0; a < n; a++) { s[a] = expf(s[a] - mx); sum += s[a]; }
        float inv = (float)(1.0 / sum);
        float *o = A->out + ((size_t)t * nh + h) * vd;
        memset(o, 0, (size_t)vd * sizeof(float));
        for (int a = 0; a < n; a++) {
            int j = ns ? sel[a] : a;
            rl_axpy_f32(o, s[a] * inv, A->vc + ((size_t)j * nh + h) * vd, vd);
        }
    }
}

int rl_mla_forward(rl_model *m, int l, const uint8_t *buf, int T, int pos0) {
    const rl_model_desc *d = &m->d;
    struct rl_mla_state *S = m->mla;
    const rl_stage *s = &m->stages[l];
    int H = d->hidden, nh = d->n_heads, qk = d->head_dim, nope = d->qk_nope_dim, rope = d->qk_rope_dim;
    int vd = d->v_head_dim, ql = d->q_lora_rank, kvl = d->kv_lora_rank;
    const rl_rope *rp = &d->ropes[d->layers[l].rope];
    size_t rt = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * (size_t)d->layers[l].rope;
    const float *cs = m->rope_cos + rt, *sn = m->rope_sin + rt;

    /* queries */
    if (ql > 0) {
        rl_matmul(m->pool, S->qa, m->xb, wp(s, buf, W_MLA_Q_A), s->t[W_MLA_Q_A]->dtype, NULL, T, H, ql);
        rl_convert_to_f32(S->vw, wp(s, buf, W_MLA_Q_A_NORM), s->t[W_MLA_Q_A_NORM]->dtype, ql);
        rl_rmsnorm(S->qa, S->qa, S->vw, T, ql, d->norm_eps, 0);
        rl_matmul(m->pool, m->q, S->qa, wp(s, buf, W_MLA_Q_B), s->t[W_MLA_Q_B]->dtype, NULL, T, ql, nh * qk);
    } else {
        rl_matmul(m->pool, m->q, m->xb, wp(s, buf, W_Q), s->t[W_Q]->dtype, NULL, T, H, nh * qk);
    }
    rl_rope_apply(rp, m->q + nope, T, nh, qk, cs, sn);

    /* keys and values from the latent */
    int kw = kvl + rope;
    rl_matmul(m->pool, S->kva, m->xb, wp(s, buf, W_MLA_KV_A), s->t[W_MLA_KV_A]->dtype, NULL, T, H, kw);
    for (int t = 0; t < T; t++) memcpy(S->ckv + (size_t)t * kvl, S->kva + (size_t)t * kw, (size_t)kvl * sizeof(float));
    rl_convert_to_f32(S->vw, wp(s, buf, W_MLA_KV_A_NORM), s->t[W_MLA_KV_A_NORM]->dtype, kvl);
    rl_rmsnorm(S->ckv, S->ckv, S->vw, T, kvl, d->norm_eps, 0);
    rl_rope_apply(rp, S->kva + kvl, T, 1, kw, cs, sn);
    int kvbw = nope + vd;
    rl_matmul(m->pool, S->kvb, S->ckv, wp(s, buf, W_MLA_KV_B), s->t[W_MLA_KV_B]->dtype, NULL, T, kvl, nh * kvbw);
    size_t kvd = (size_t)m->kv_dim;
    float *kc = m->kc + (size_t)m->kv_slot[l] * m->ctx * kvd, *vc = m->vc + (size_t)m->kv_slot[l] * m->ctx * kvd;
    for (int t = 0; t < T; t++) {
        float *krow = kc + (size_t)(pos0 + t) * nh * qk, *vrow = vc + (size_t)(pos0 + t) * nh * vd;
        const float *src = S->kvb + (size_t)t * nh * kvbw, *pe = S->kva + (size_t)t * kw + kvl;
        for (int h = 0; h < nh; h++) {
            memcpy(krow + (size_t)h * qk, src + (size_t)h * kvbw, (size_t)nope * sizeof(float));
            memcpy(krow + (size_t)h * qk + nope, pe, (size_t)rope * sizeof(float));
            memcpy(vrow + (size_t)h * vd, src + (size_t)h * kvbw + nope, (size_t)vd * sizeof(float));
        }
    }

    if (d->idx_heads <= 0) {
        rl_attention(m->pool, m->att, m->q, kc, vc, T, pos0, nh, nh, qk, vd, d->attn_scale, 0.0f, 0, m->attn_scratch);
    } else {
        int ih = d->idx_heads, ihd = d->idx_head_dim;
        float *ikc = S->ikc + (size_t)l * m->ctx * ihd, *ik = ikc + (size_t)pos0 * ihd;
        rl_matmul(m->pool, S->iq, S->qa, wp(s, buf, W_IDX_Q_B), s->t[W_IDX_Q_B]->dtype, NULL, T, ql, ih * ihd);
        rl_rope_apply(&S->irope, S->iq, T, ih, ihd, cs, sn);
        rl_matmul(m->pool, ik, m->xb, wp(s, buf, W_IDX_K), s->t[W_IDX_K]->dtype, NULL, T, H, ihd);
        rl_convert_to_f32(S->vw, wp(s, buf, W_IDX_K_NORM), s->t[W_IDX_K_NORM]->dtype, ihd);
        rl_convert_to_f32(S->vw + ihd, wp(s, buf, W_IDX_K_NORM_B), s->t[W_IDX_K_NORM_B]->dtype, ihd);
        rl_layernorm(ik, ik, S->vw, S->vw + ihd, T, ihd, 1e-6f);
        rl_rope_apply(&S->irope, ik, T, 1, ihd, cs, sn);
        rl_matmul(m->pool, S->iw, m->xb, wp(s, buf, W_IDX_W), s->t[W_IDX_W]->dtype, NULL, T, H, ih);
        rl_scale(S->iw, 1.0f / sqrtf((float)ih), (int64_t)T * ih);
        sel_job J = {d, S, ikc, pos0, m->ctx};
        rl_pool_for(m->pool, T, 1, sel_work, &J);
        att_job A = {d, S, m->att, m->q, kc, vc, pos0, m->ctx};
        rl_pool_for(m->pool, (int64_t)T * nh, 1, att_work, &A);
    }
    rl_matmul(m->pool, m->o, m->att, wp(s, buf, W_O), s->t[W_O]->dtype, NULL, T, nh * vd, H);
    return 0;
}
