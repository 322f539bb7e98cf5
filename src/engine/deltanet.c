/* Gated DeltaNet linear attention (Qwen3.5 / Qwen3-Next style hybrid layers) and the gated
 * full attention of the same models; see deltanet.h. The math follows transformers'
 * Qwen3_5GatedDeltaNet with the recurrent (token by token) form of the gated delta rule, in f32:
 *   [q|k|v] = SiLU(causal depthwise conv_k(in_proj_qkv x)),  z = in_proj_z x,
 *   beta = sigmoid(in_proj_b x),  g = -exp(A_log) * softplus(in_proj_a x + dt_bias),
 *   per value head h (key head h / (Hv/Hk)), q,k l2-normalised, q scaled by 1/sqrt(dk):
 *   S = exp(g) S;  S += k (beta (v - S^T k))^T;  o = S^T q;
 *   out = out_proj( RMSNorm_w(o) * SiLU(z) )  (norm per head, plain weight).
 * Prefill runs the recurrence token by token (exact, no chunking); the heads run in parallel. */
#include "engine/deltanet.h"
#include "backend/cpu/matmul.h"
#include "util/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DN_MAX_HD 1024 /* largest supported linear-attention head dim (stack scratch per head) */

static float *dn_alloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    return p;
}

static int conv_dim(const rl_model_desc *d) { return 2 * d->lin_k_heads * d->lin_k_dim + d->lin_v_heads * d->lin_v_dim; }

void rl_hybrid_close(rl_model *m) {
    free(m->lin_slot); free(m->kv_slot);
    free(m->lin_state); free(m->conv_state);
    free(m->dn_in); free(m->dn_conv); free(m->dn_z); free(m->dn_b); free(m->dn_a); free(m->dn_core); free(m->dn_w);
    free(m->qgate); free(m->hist);
    m->lin_slot = m->kv_slot = NULL;
    m->lin_state = m->conv_state = m->dn_in = m->dn_conv = m->dn_z = m->dn_b = m->dn_a = m->dn_core = m->dn_w = NULL;
    m->qgate = NULL; m->hist = NULL;
}

int rl_hybrid_open(rl_model *m, int *n_kv_layers) {
    const rl_model_desc *d = &m->d;
    size_t L = (size_t)d->n_layers, T = (size_t)m->max_T;
    m->kv_slot = malloc(L * sizeof(int));
    m->lin_slot = malloc(L * sizeof(int));
    if (!m->kv_slot || !m->lin_slot) return rl_err("%s: out of memory", m->dir);
    int nkv = 0, nlin = 0;
    for (int l = 0; l < d->n_layers; l++) {
        int lin = d->layers[l].kind == RL_LAYER_LINEAR;
        m->kv_slot[l] = lin ? -1 : nkv++;
        m->lin_slot[l] = lin ? nlin++ : -1;
    }
    *n_kv_layers = nkv;
    m->n_lin = nlin;
    if (d->attn_out_gate && !(m->qgate = dn_alloc(T * 2 * (size_t)d->n_heads * d->head_dim)))
        return rl_err("%s: out of memory for the gated attention", m->dir);
    if (!nlin) return 0;

    int dk = d->lin_k_dim, dv = d->lin_v_dim, nv = d->lin_v_heads, K = d->lin_conv_k, C = conv_dim(d);
    if (dk > DN_MAX_HD || dv > DN_MAX_HD)
        return rl_err("%s: linear attention head dims %d/%d exceed the supported %d", m->dir, dk, dv, DN_MAX_HD);
    if (d->act != RL_ACT_SILU) return rl_err("%s: the Gated DeltaNet needs hidden_act silu", m->dir);
    for (int l = 0; l < d->n_layers; l++) {
        if (m->lin_slot[l] < 0) continue;
        const rl_tensor_info *t = m->stages[l].t[W_LIN_CONV];
        if (!t) return rl_err("%s: layer %d: missing the linear attention conv1d weight", m->dir, l);
        int ok = (t->ndim == 3 && t->shape[0] == C && t->shape[1] == 1 && t->shape[2] == K) ||
                 (t->ndim == 2 && t->shape[0] == C && t->shape[1] == K);
        if (!ok) return rl_err("%s: tensor %s: expected shape [%d, 1, %d] from config.json", m->dir, t->name, C, K);
    }
    size_t S = (size_t)nv * dk * dv, Cs = (size_t)C;
    m->lin_state = calloc((size_t)nlin * S, sizeof(float));
    m->conv_state = calloc((size_t)nlin * (size_t)(K - 1) * Cs + 1, sizeof(float));
    m->dn_in = dn_alloc((T + (size_t)K - 1) * Cs);
    m->dn_conv = dn_alloc(T * Cs);
    m->dn_z = dn_alloc(T * (size_t)nv * dv);
    m->dn_b = dn_alloc(T * (size_t)nv);
    m->dn_a = dn_alloc(T * (size_t)nv);
    m->dn_core = dn_alloc(T * (size_t)nv * dv);
    m->dn_w = dn_alloc(Cs * (size_t)K + 2 * (size_t)nv + (size_t)dv);
    m->hist = malloc((size_t)m->ctx * sizeof(int32_t));
    if (!m->lin_state || !m->conv_state || !m->dn_in || !m->dn_conv || !m->dn_z || !m->dn_b || !m->dn_a ||
        !m->dn_core || !m->dn_w || !m->hist)
        return rl_err("%s: out of memory for the linear attention state", m->dir);
    return 0;
}

static void hybrid_reset(rl_model *m) {
    const rl_model_desc *d = &m->d;
    size_t S = (size_t)d->lin_v_heads * d->lin_k_dim * d->lin_v_dim;
    memset(m->lin_state, 0, (size_t)m->n_lin * S * sizeof(float));
    memset(m->conv_state, 0, (size_t)m->n_lin * (size_t)(d->lin_conv_k - 1) * (size_t)conv_dim(d) * sizeof(float));
}

void rl_hybrid_rewind(rl_model *m, int pos) {
    if (pos < 0 || pos >= m->seq_pos[0]) return;
    m->seq_pos[0] = pos;
    m->replay = 1;
}

int rl_hybrid_prepare(rl_model *m, const int32_t *tok, int n) {
    if (m->replay) {
        int keep = m->seq_pos[0];
        m->replay = 0;
        m->seq_pos[0] = 0;
        hybrid_reset(m);
        /* re-prefill the kept prefix (its KV rows are rewritten with the same values) */
        if (keep > 0 && rl_model_eval(m, m->hist, keep, NULL, 0)) {
            hybrid_reset(m);
            m->seq_pos[0] = 0;
            return -1;
        }
    }
    if (tok != m->hist + m->seq_pos[0]) memcpy(m->hist + m->seq_pos[0], tok, (size_t)n * sizeof(int32_t));
    return 0;
}

/* --- gated attention --- */

void rl_qgate_split(rl_model *m, int T) {
    int nh = m->d.n_heads, hd = m->d.head_dim, qd = nh * hd;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            const float *src = m->qgate + (size_t)t * 2 * qd + (size_t)h * 2 * hd;
            memcpy(m->q + (size_t)t * qd + (size_t)h * hd, src, (size_t)hd * sizeof(float));
            /* the gate moves down in place: its destination never passes a source not yet read */
            memmove(m->qgate + (size_t)t * qd + (size_t)h * hd, src + hd, (size_t)hd * sizeof(float));
        }
}

void rl_qgate_apply(rl_model *m, int T) {
    size_t n = (size_t)T * m->d.n_heads * m->d.head_dim;
    for (size_t i = 0; i < n; i++) m->att[i] *= 1.0f / (1.0f + expf(-m->qgate[i]));
}

/* --- Gated DeltaNet --- */

typedef struct {
    rl_model *m;
    float *state;            /* this layer's (nv, dk, dv) */
    const float *a_log, *dt_bias, *norm_w;
    int T;
} dn_job;

static float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* l2 normalisation as transformers' l2norm: x * rsqrt(sum x^2 + 1e-6), times `scale`. */
static void l2n(float *out, const float *x, int n, float scale) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss + 1e-6)) * scale;
    for (int i = 0; i < n; i++) out[i] = x[i] * r;
}

/* Value heads [h0, h1): the whole recurrence over T tokens, then the gated RMSNorm. */
static void dn_heads(void *ctx, int64_t h0, int64_t h1, int tid) {
    (void)tid;
    const dn_job *j = ctx;
    const rl_model_desc *d = &j->m->d;
    int nk = d->lin_k_heads, nv = d->lin_v_heads, dk = d->lin_k_dim, dv = d->lin_v_dim, C = conv_dim(d);
    int grp = nv / nk;
    float qn[DN_MAX_HD], kn[DN_MAX_HD], kvm[DN_MAX_HD], o[DN_MAX_HD];
    float qscale = 1.0f / sqrtf((float)dk);
    for (int h = (int)h0; h < (int)h1; h++) {
        int kh = h / grp;
        float *S = j->state + (size_t)h * dk * dv;
        float A = -expf(j->a_log[h]);
        for (int t = 0; t < j->T; t++) {
            const float *row = j->m->dn_conv + (size_t)t * C;
            l2n(qn, row + (size_t)kh * dk, dk, qscale);
            l2n(kn, row + (size_t)nk * dk + (size_t)kh * dk, dk, 1.0f);
            const float *v = row + 2 * (size_t)nk * dk + (size_t)h * dv;
            float bb = j->m->dn_b[(size_t)t * nv + h], aa = j->m->dn_a[(size_t)t * nv + h];
            float beta = 1.0f / (1.0f + expf(-bb));
            float decay = expf(A * softplusf(aa + j->dt_bias[h]));
            /* decay the state and read it with k */
            for (int c = 0; c < dv; c++) kvm[c] = 0.0f;
            for (int i = 0; i < dk; i++) {
                float *Si = S + (size_t)i * dv;
                for (int c = 0; c < dv; c++) Si[c] *= decay;
                rl_axpy_f32(kvm, kn[i], Si, dv);
            }
            /* delta = beta (v - S^T k); S += k delta^T; o = S^T q */
            for (int c = 0; c < dv; c++) kvm[c] = (v[c] - kvm[c]) * beta;
            for (int c = 0; c < dv; c++) o[c] = 0.0f;
            for (int i = 0; i < dk; i++) {
                float *Si = S + (size_t)i * dv;
                rl_axpy_f32(Si, kn[i], kvm, dv);
                rl_axpy_f32(o, qn[i], Si, dv);
            }
            /* gated RMSNorm: RMSNorm(o) * w * silu(z) */
            double ss = 0;
            for (int c = 0; c < dv; c++) ss += (double)o[c] * o[c];
            float r = (float)(1.0 / sqrt(ss / dv + d->norm_eps));
            const float *z = j->m->dn_z + (size_t)t * nv * dv + (size_t)h * dv;
            float *out = j->m->dn_core + (size_t)t * nv * dv + (size_t)h * dv;
            for (int c = 0; c < dv; c++) {
                float gz = z[c] / (1.0f + expf(-z[c]));
                out[c] = o[c] * r * j->norm_w[c] * gz;
            }
        }
    }
}

int rl_deltanet_forward(rl_model *m, int l, const uint8_t *buf, int T) {
    const rl_model_desc *d = &m->d;
    const rl_stage *s = &m->stages[l];
    int slot = m->lin_slot ? m->lin_slot[l] : -1;
    if (slot < 0) return rl_err("%s: layer %d is not a linear-attention layer", m->dir, l);
    int H = d->hidden, nv = d->lin_v_heads, dk = d->lin_k_dim, dv = d->lin_v_dim, K = d->lin_conv_k, C = conv_dim(d);
    int VD = nv * dv;
#define DN_T(role) (buf + s->off[role]), s->t[role]->dtype
    /* f32 copies of the small weights */
    float *wconv = m->dn_w, *a_log = wconv + (size_t)C * K, *dt_bias = a_log + nv, *norm_w = dt_bias + nv;
    rl_convert_to_f32(wconv, DN_T(W_LIN_CONV), (int64_t)C * K);
    rl_convert_to_f32(a_log, DN_T(W_LIN_A_LOG), nv);
    rl_convert_to_f32(dt_bias, DN_T(W_LIN_DT_BIAS), nv);
    rl_convert_to_f32(norm_w, DN_T(W_LIN_NORM), dv);

    /* projections; qkv rows land after the K-1 rows of conv state */
    float *cst = m->conv_state + (size_t)slot * (size_t)(K - 1) * C;
    memcpy(m->dn_in, cst, (size_t)(K - 1) * C * sizeof(float));
    rl_matmul(m->pool, m->dn_in + (size_t)(K - 1) * C, m->xb, DN_T(W_LIN_QKV), NULL, T, H, C);
    rl_matmul(m->pool, m->dn_z, m->xb, DN_T(W_LIN_Z), NULL, T, H, VD);
    rl_matmul(m->pool, m->dn_b, m->xb, DN_T(W_LIN_B), NULL, T, H, nv);
    rl_matmul(m->pool, m->dn_a, m->xb, DN_T(W_LIN_A), NULL, T, H, nv);

    /* depthwise causal conv (kernel K over the previous K-1 inputs and this one) + SiLU */
    for (int t = 0; t < T; t++) {
        float *out = m->dn_conv + (size_t)t * C;
        for (int c = 0; c < C; c++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += wconv[(size_t)c * K + k] * m->dn_in[(size_t)(t + k) * C + c];
            out[c] = acc / (1.0f + expf(-acc));
        }
    }
    memcpy(cst, m->dn_in + (size_t)T * C, (size_t)(K - 1) * C * sizeof(float));

    /* the gated delta rule, heads in parallel */
    dn_job job = {m, m->lin_state + (size_t)slot * nv * dk * dv, a_log, dt_bias, norm_w, T};
    rl_pool_for(m->pool, nv, 1, dn_heads, &job);

    rl_matmul(m->pool, m->o, m->dn_core, DN_T(W_LIN_OUT), NULL, T, VD, H);
#undef DN_T
    return 0;
}
