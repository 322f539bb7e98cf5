/* Gated DeltaNet kernels on the CPU (see deltanet.h). The math follows transformers'
 * Qwen3_5GatedDeltaNet with the recurrent (token by token) form of the gated delta rule:
 *   beta = sigmoid(b), g = -exp(A_log) * softplus(a + dt_bias), per value head h (key head
 *   h / (Hv/Hk)), q,k l2-normalised, q scaled by 1/sqrt(dk):
 *   S = exp(g) S;  S += k (beta (v - S^T k))^T;  o = S^T q;  core = RMSNorm_w(o) * SiLU(z). */
#include "backend/cpu/deltanet.h"
#include "backend/cpu/matmul.h"
#include <math.h>

void rl_dn_conv(float *out, const float *in, const float *w, const float *bias, int T, int C, int K, int silu) {
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * C;
        for (int c = 0; c < C; c++) {
            float acc = bias ? bias[c] : 0.0f;
            for (int k = 0; k < K; k++) acc += w[(size_t)c * K + k] * in[(size_t)(t + k) * C + c];
            o[c] = silu ? acc / (1.0f + expf(-acc)) : acc;
        }
    }
}

typedef struct {
    const rl_dn_dims *dd;
    float *state, *core;
    const float *conv, *b, *a, *z, *a_log, *dt_bias, *norm_w;
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
    const rl_dn_dims *d = j->dd;
    int nk = d->k_heads, nv = d->v_heads, dk = d->k_dim, dv = d->v_dim;
    int C = 2 * nk * dk + nv * dv, grp = nv / nk;
    float qn[RL_DN_MAX_HD], kn[RL_DN_MAX_HD], kvm[RL_DN_MAX_HD], o[RL_DN_MAX_HD];
    float qscale = 1.0f / sqrtf((float)dk);
    for (int h = (int)h0; h < (int)h1; h++) {
        int kh = d->v_tiled ? h % nk : h / grp;
        float *S = j->state + (size_t)h * dk * dv;
        float A = d->a_direct ? j->a_log[h] : -expf(j->a_log[h]);
        for (int t = 0; t < j->T; t++) {
            const float *row = j->conv + (size_t)t * C;
            l2n(qn, row + (size_t)kh * dk, dk, qscale);
            l2n(kn, row + (size_t)nk * dk + (size_t)kh * dk, dk, 1.0f);
            const float *v = row + 2 * (size_t)nk * dk + (size_t)h * dv;
            float bb = j->b[(size_t)t * nv + h], aa = j->a[(size_t)t * nv + h];
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
            const float *z = j->z + (size_t)t * nv * dv + (size_t)h * dv;
            float *out = j->core + (size_t)t * nv * dv + (size_t)h * dv;
            for (int c = 0; c < dv; c++) {
                float gz = z[c] / (1.0f + expf(-z[c]));
                out[c] = o[c] * r * j->norm_w[c] * gz;
            }
        }
    }
}

void rl_dn_recur(rl_pool *p, const rl_dn_dims *dd, float *state, const float *conv, const float *b, const float *a,
                 const float *z, const float *a_log, const float *dt_bias, const float *norm_w, float *core, int T) {
    dn_job j = {dd, state, core, conv, b, a, z, a_log, dt_bias, norm_w, T};
    rl_pool_for(p, dd->v_heads, 1, dn_heads, &j);
}
