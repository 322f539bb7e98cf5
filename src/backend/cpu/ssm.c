/* Mamba-2 selective state update on the CPU (see backend.h ssm_scan), the recurrent form of
 * transformers' Mamba-2 mixer (its chunked SSD scan computes the same sums): per head h and
 * token t, dt = clamp(softplus(dt_raw + dt_bias)), S[p][n] = exp(dt A) S[p][n] + dt B[n] x[p],
 * y[p] = sum_n S[p][n] C[n] + D x[p] (Mamba-1, a_state: A per head and state, the decay per
 * state). Heads run in parallel; each owns its (head_dim, d_state) state block. */
#include "backend/cpu/ssm.h"
#include "backend/cpu/simd.h"
#include <math.h>

#define SSM_MAX_STATE 1024 /* Mamba-1: a head's A per state on the stack up to this state size */

typedef struct {
    const rl_ssm_dims *sd;
    float *state, *y;
    const float *xbc, *dt_raw, *a_log, *dt_bias, *d_skip;
    int T;
} ssm_job;

static void ssm_heads(void *ctx, int64_t h0, int64_t h1, int tid) {
    (void)tid;
    const ssm_job *j = ctx;
    const rl_simd_impl *k = rl_simd();
    const rl_ssm_dims *d = j->sd;
    int nh = d->heads, P = d->head_dim, N = d->d_state, per = nh / d->groups;
    size_t I = (size_t)nh * P, C = I + 2 * (size_t)d->groups * N;
    for (int h = (int)h0; h < (int)h1; h++) {
        float *S = j->state + (size_t)h * P * N, D = j->d_skip[h];
        float A = d->a_state ? 0.0f : d->a_direct ? j->a_log[h] : -expf(j->a_log[h]);
        float As[SSM_MAX_STATE]; /* Mamba-1: the head's A per state */
        int a_state = d->a_state && N <= SSM_MAX_STATE;
        for (int n = 0; a_state && n < N; n++) As[n] = d->a_direct ? j->a_log[(size_t)h * N + n] : -expf(j->a_log[(size_t)h * N + n]);
        size_t g = (size_t)(h / per);
        for (int t = 0; t < j->T; t++) {
            const float *row = j->xbc + (size_t)t * C, *x = row + (size_t)h * P;
            const float *B = row + I + g * N, *Cm = row + I + (size_t)d->groups * N + g * N;
            float v = j->dt_raw[(size_t)t * nh + h] + j->dt_bias[h];
            float dt = v > 20.0f ? v : log1pf(expf(v));
            dt = fminf(fmaxf(dt, d->dt_min), d->dt_max);
            float *out = j->y + (size_t)t * I + (size_t)h * P;
            if (a_state) { /* Mamba-1: a decay per state */
                for (int p = 0; p < P; p++) out[p] = k->decay_exp_axpy_dot(S + (size_t)p * N, As, dt, dt * x[p], B, Cm, N) + D * x[p];
                continue;
            }
            if (d->a_state) { /* (a state beyond SSM_MAX_STATE: its A computed per token) */
                for (int p = 0; p < P; p++) {
                    float *s = S + (size_t)p * N, dx = dt * x[p], acc = 0.0f;
                    for (int n = 0; n < N; n++) {
                        float a = j->a_log[(size_t)h * N + n];
                        s[n] = s[n] * expf(dt * (d->a_direct ? a : -expf(a))) + dx * B[n];
                        acc += s[n] * Cm[n];
                    }
                    out[p] = acc + D * x[p];
                }
                continue;
            }
            float dA = expf(dt * A);
            for (int p = 0; p < P; p++) out[p] = k->decay_axpy_dot(S + (size_t)p * N, dA, dt * x[p], B, Cm, N) + D * x[p];
        }
    }
}

void rl_ssm_scan(rl_pool *p, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw, const float *a_log,
                 const float *dt_bias, const float *d_skip, float *y, int T) {
    if (T <= 0 || sd->heads <= 0) return;
    ssm_job j = {sd, state, y, xbc, dt_raw, a_log, dt_bias, d_skip, T};
    rl_pool_for_work(p, sd->heads, 1, (int64_t)T * sd->heads * sd->head_dim * sd->d_state * 3, ssm_heads, &j);
}
