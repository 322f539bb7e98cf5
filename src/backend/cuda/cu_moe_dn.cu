// CUDA backend: MoE routing, the Gated DeltaNet and Mamba-2 kernels (see cu_api.h; the CPU
// versions in src/backend/cpu/moe_route.c, deltanet.c and ssm.c define the math, followed here
// step by step).
#include "backend/cuda/cu_common.cuh"
#include <math.h>

// One thread per token (routing is small next to the experts' products); choice / group scores in
// dynamic shared memory: blockDim.x * (E + G) floats.
__global__ void moe_route_kernel(float *logits, const float *bias, int T, int E, int K, int sig, int G, int topk_group,
                                 int top2, int norm_topk, float scale, int32_t *idx_out, float *w_out) {
    extern __shared__ float sh[];
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    float *choice = sh + (size_t)threadIdx.x * (E + G), *gscore = choice + E;
    float *p = logits + (size_t)t * E;
    if (sig) {
        for (int e = 0; e < E; e++) p[e] = 1.0f / (1.0f + expf(-p[e]));
    } else {
        float mx = p[0];
        for (int e = 1; e < E; e++) mx = fmaxf(mx, p[e]);
        double s = 0;
        for (int e = 0; e < E; e++) { p[e] = expf(p[e] - mx); s += p[e]; }
        float inv = (float)(1.0 / s);
        for (int e = 0; e < E; e++) p[e] *= inv;
    }
    for (int e = 0; e < E; e++) choice[e] = p[e] + (bias ? bias[e] : 0.0f);
    int per = E / G;
    if (G > 1 && topk_group < G) {
        for (int g = 0; g < G; g++) {
            const float *c = choice + g * per;
            float a = -INFINITY, b = -INFINITY;
            for (int i = 0; i < per; i++) {
                if (c[i] > a) { b = a; a = c[i]; } else if (c[i] > b) b = c[i];
            }
            gscore[g] = top2 ? a + b : a;
        }
        for (int keep = 0; keep < topk_group; keep++) {
            int bg = -1;
            for (int g = 0; g < G; g++) if (gscore[g] != INFINITY && (bg < 0 || gscore[g] > gscore[bg])) bg = g;
            gscore[bg] = INFINITY;
        }
        for (int g = 0; g < G; g++)
            if (gscore[g] != INFINITY) for (int i = 0; i < per; i++) choice[g * per + i] = -INFINITY;
    }
    int32_t *idx = idx_out + (size_t)t * K;
    float *w = w_out + (size_t)t * K;
    double sum = 0;
    for (int j = 0; j < K; j++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (choice[e] != -INFINITY && (best < 0 || choice[e] > choice[best])) best = e;
        if (best < 0) best = 0;
        idx[j] = best;
        w[j] = p[best];
        sum += p[best];
        choice[best] = -INFINITY;
    }
    for (int j = 0; j < K; j++) w[j] = (norm_topk ? (float)(w[j] / (sum + 1e-20)) : w[j]) * scale;
}

void rlcu_moe_route(float *logits, const float *bias, int T, int E, int K, int sig, int n_group, int topk_group,
                    int top2, int norm_topk, float scale, int32_t *idx, float *w) {
    if (T <= 0 || E <= 0) return;
    int G = n_group > 1 ? n_group : 1, threads = 32;
    size_t sh = (size_t)threads * (E + G) * sizeof(float);
    while (sh > 48 * 1024 && threads > 1) threads /= 2, sh = (size_t)threads * (E + G) * sizeof(float);
    moe_route_kernel<<<(T + threads - 1) / threads, threads, sh, rlcu_stream>>>(logits, bias, T, E, K, sig, G, topk_group,
                                                                                top2, norm_topk, scale, idx, w);
    RLCU_LAUNCHED("moe_route");
}

__global__ void dn_conv_kernel(float *out, const float *in, const float *w, const float *bias, int T, int C, int K, int silu) {
    int64_t n = (int64_t)T * C, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        int t = (int)(i / C), c = (int)(i % C);
        float acc = bias ? bias[c] : 0.0f;
        for (int k = 0; k < K; k++) acc += w[(size_t)c * K + k] * in[(size_t)(t + k) * C + c];
        out[i] = silu ? acc / (1.0f + expf(-acc)) : acc;
    }
}
void rlcu_dn_conv(float *out, const float *in, const float *w, const float *bias, int T, int C, int K, int silu) {
    if (T <= 0 || C <= 0) return;
    dn_conv_kernel<<<rlcu_blocks((int64_t)T * C, 256), 256, 0, rlcu_stream>>>(out, in, w, bias, T, C, K, silu);
    RLCU_LAUNCHED("dn_conv");
}

enum { DN_MAX = 512 };  // largest key / value head dim here (shared arrays)

// One block per value head; thread c owns column c of the state S (k_dim x v_dim), so the
// updates need no atomics; the l2 norms and the output RMSNorm are block reductions.
__global__ void dn_recur_kernel(int nk, int nv, int dk, int dv, float eps, int vt, int ad, float *state, const float *conv,
                                const float *bb, const float *aa, const float *z, const float *a_log,
                                const float *dt_bias, const float *norm_w, float *core, int T) {
    __shared__ float qn[DN_MAX], kn[DN_MAX];
    int h = blockIdx.x, grp = nv / nk, kh = vt ? h % nk : h / grp, C = 2 * nk * dk + nv * dv;
    float *S = state + (size_t)h * dk * dv;
    float A = ad ? a_log[h] : -expf(a_log[h]), qscale = 1.0f / sqrtf((float)dk);
    for (int t = 0; t < T; t++) {
        const float *row = conv + (size_t)t * C;
        const float *q = row + (size_t)kh * dk, *k = row + (size_t)nk * dk + (size_t)kh * dk;
        double sq = 0, sk = 0;
        for (int i = threadIdx.x; i < dk; i += blockDim.x) { sq += (double)q[i] * q[i]; sk += (double)k[i] * k[i]; }
        sq = rlcu_block_sum_d(sq);
        sk = rlcu_block_sum_d(sk);
        float rq = (float)(1.0 / sqrt(sq + 1e-6)) * qscale, rk = (float)(1.0 / sqrt(sk + 1e-6));
        for (int i = threadIdx.x; i < dk; i += blockDim.x) { qn[i] = q[i] * rq; kn[i] = k[i] * rk; }
        __syncthreads();
        const float *v = row + 2 * (size_t)nk * dk + (size_t)h * dv;
        float beta = 1.0f / (1.0f + expf(-bb[(size_t)t * nv + h]));
        float x = aa[(size_t)t * nv + h] + dt_bias[h];
        float decay = expf(A * (x > 20.0f ? x : log1pf(expf(x))));
        double ss = 0;
        float o_c[DN_MAX / 128];
        for (int c = threadIdx.x, u = 0; c < dv; c += blockDim.x, u++) {
            float kvm = 0.0f;
            for (int i = 0; i < dk; i++) {
                float s = S[(size_t)i * dv + c] * decay;
                S[(size_t)i * dv + c] = s;
                kvm += kn[i] * s;
            }
            float delta = (v[c] - kvm) * beta, o = 0.0f;
            for (int i = 0; i < dk; i++) {
                float s = S[(size_t)i * dv + c] + kn[i] * delta;
                S[(size_t)i * dv + c] = s;
                o += qn[i] * s;
            }
            o_c[u] = o;
            ss += (double)o * o;
        }
        ss = rlcu_block_sum_d(ss);
        float r = (float)(1.0 / sqrt(ss / dv + eps));
        const float *zr = z + (size_t)t * nv * dv + (size_t)h * dv;
        float *out = core + (size_t)t * nv * dv + (size_t)h * dv;
        for (int c = threadIdx.x, u = 0; c < dv; c += blockDim.x, u++) {
            float gz = zr[c] / (1.0f + expf(-zr[c]));
            out[c] = o_c[u] * r * norm_w[c] * gz;
        }
        __syncthreads();  // qn / kn are rewritten by the next token
    }
}

void rlcu_dn_recur(int k_heads, int v_heads, int k_dim, int v_dim, float norm_eps, int v_tiled, int a_direct, float *state, const float *conv,
                   const float *b, const float *a, const float *z, const float *a_log, const float *dt_bias,
                   const float *norm_w, float *core, int T) {
    if (T <= 0 || v_heads <= 0) return;
    if (k_dim > DN_MAX || v_dim > DN_MAX) { rlcu_fail("dn_recur: head dim above 512", cudaErrorInvalidValue); return; }
    dn_recur_kernel<<<v_heads, 128, 0, rlcu_stream>>>(k_heads, v_heads, k_dim, v_dim, norm_eps, v_tiled, a_direct, state, conv, b, a, z,
                                                      a_log, dt_bias, norm_w, core, T);
    RLCU_LAUNCHED("dn_recur");
}

enum { SSM_MAXN = 1024 };  // largest Mamba-2 state size here (shared B / C rows)

// Mamba-2 selective state update (backend.h ssm_scan): one block per head, the token's B and C
// rows of the head's group in shared memory, thread q owns row q of the head's (head_dim,
// d_state) state.
__global__ void ssm_scan_kernel(int G, int nh, int N, int hp, float dtmin, float dtmax, int ad, int as, float *state, const float *xbc,
                                const float *dt_raw, const float *a_log, const float *dt_bias, const float *d_skip,
                                float *y, int T) {
    __shared__ float Bs[SSM_MAXN], Cs[SSM_MAXN], Ds[SSM_MAXN];
    int h = blockIdx.x, g = h / (nh / G);
    size_t I = (size_t)nh * hp, C = I + 2 * (size_t)G * N;
    float A = as ? 0.0f : ad ? a_log[h] : -expf(a_log[h]), D = d_skip[h];
    for (int t = 0; t < T; t++) {
        const float *row = xbc + (size_t)t * C;
        for (int n = threadIdx.x; n < N; n += blockDim.x) {
            Bs[n] = row[I + (size_t)g * N + n];
            Cs[n] = row[I + (size_t)G * N + (size_t)g * N + n];
        }
        __syncthreads();
        float v = dt_raw[(size_t)t * nh + h] + dt_bias[h];
        float dt = fminf(fmaxf(v > 20.0f ? v : log1pf(expf(v)), dtmin), dtmax);
        float dA = expf(dt * A);
        if (as) { // Mamba-1: a decay per state
            for (int n = threadIdx.x; n < N; n += blockDim.x) {
                float a = a_log[(size_t)h * N + n];
                Ds[n] = expf(dt * (ad ? a : -expf(a)));
            }
            __syncthreads();
        }
        for (int q = threadIdx.x; q < hp; q += blockDim.x) {
            float x = row[(size_t)h * hp + q], dx = dt * x, acc = 0.0f;
            float *s = state + ((size_t)h * hp + q) * N;
            for (int n = 0; n < N; n++) {
                float sn = s[n] * (as ? Ds[n] : dA) + dx * Bs[n];
                s[n] = sn;
                acc += sn * Cs[n];
            }
            y[(size_t)t * I + (size_t)h * hp + q] = acc + D * x;
        }
        __syncthreads();  // Bs / Cs are rewritten by the next token
    }
}

void rlcu_ssm_scan(int groups, int heads, int d_state, int head_dim, float dt_min, float dt_max, int a_direct, int a_state, float *state, const float *xbc,
                   const float *dt_raw, const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T) {
    if (T <= 0 || heads <= 0) return;
    if (d_state > SSM_MAXN || groups <= 0 || heads % groups) { rlcu_fail("ssm_scan: state size above 1024 or heads not a multiple of groups", cudaErrorInvalidValue); return; }
    ssm_scan_kernel<<<heads, 64, 0, rlcu_stream>>>(groups, heads, d_state, head_dim, dt_min, dt_max, a_direct, a_state, state, xbc, dt_raw, a_log, dt_bias,
                                                   d_skip, y, T);
    RLCU_LAUNCHED("ssm_scan");
}
