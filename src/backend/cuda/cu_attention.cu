// CUDA backend: attention over f32 or compact (F16 / BF16 / Q8_0) caches, linear or ring, causal
// with window and soft-cap, or over a token tree; the cache store; DSA attention (see cu_api.h
// and the CPU versions in src/backend/cpu/attention_kv.c and dsa.c). One block per (query, head):
// keys in chunks of CH, scores of a chunk in shared memory (a warp per key, lanes over the head
// dims), online softmax across chunks, each thread accumulating its own output dims.
#include "backend/cuda/cu_common.cuh"
#include <math.h>

enum { AT = 128, CH = 256, MAX_DIM = 1024, MAX_DEPTH = 256 };
extern float *rlcu_dsa_scr;
extern size_t rlcu_dsa_floats;

__global__ void attention_kernel(float *out, const float *q, const uint8_t *kbase, const uint8_t *vbase, int dt,
                                 int ring, size_t kb, size_t vb, const int32_t *parent, const float *sinks, int pos0,
                                 int n_head, int n_kv, int hd, int vd, float scale, float softcap, int window) {
    __shared__ float qs[MAX_DIM], sc[CH];
    __shared__ int rows[MAX_DEPTH + 1];
    __shared__ int depth;
    const int t = blockIdx.x, h = blockIdx.y, kvh = h / (n_head / n_kv), i = pos0 + t;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarp = blockDim.x >> 5;
    const float *qv = q + ((size_t)t * n_head + h) * hd;
    for (int e = threadIdx.x; e < hd; e += blockDim.x) qs[e] = qv[e];
    int j0 = 0, n, np = 0, skip = 0;  // tree: np prefix keys j0.., then rows[skip..depth)
    if (parent) {  // the prefix, then the node's ancestors from the root down, then the node
        if (threadIdx.x == 0) {
            int d = 0;
            for (int u = t; u >= 0 && d <= MAX_DEPTH; u = parent[u]) rows[d++] = pos0 + u;
            for (int x = 0; x < d / 2; x++) { int tmp = rows[x]; rows[x] = rows[d - 1 - x]; rows[d - 1 - x] = tmp; }
            depth = d;
        }
        __syncthreads();
        int d = depth, ii = pos0 + d - 1;  // the node's position
        if (window > 0) {  // keys within the window: the first d - window ancestors drop out
            skip = d > window ? d - window : 0;
            j0 = ii - window + 1 > 0 ? ii - window + 1 : 0;
            if (j0 > pos0) j0 = pos0;
        }
        np = pos0 - j0;
        n = np + d - skip;
    } else {
        j0 = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
        n = i - j0 + 1;
    }
    __syncthreads();
    float acc[MAX_DIM / AT];
    for (int u = 0; u < MAX_DIM / AT; u++) acc[u] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int c0 = 0; c0 < n; c0 += CH) {
        const int nc = n - c0 < CH ? n - c0 : CH;
        for (int xx = warp; xx < nc; xx += nwarp) {
            int x = c0 + xx, j = parent && x >= np ? rows[skip + x - np] : j0 + x;
            const uint8_t *kr = kbase + (size_t)(ring ? j % ring : j) * kb;
            float s = 0.0f;
            for (int e = lane; e < hd; e += 32) s += qs[e] * rlcu_item(kr, dt, (int64_t)kvh * hd + e);
            s = rlcu_warp_sum(s);
            if (lane == 0) {
                s *= scale;
                if (softcap > 0) s = softcap * tanhf(s / softcap);
                sc[xx] = s;
            }
        }
        __syncthreads();
        float cm = -INFINITY;
        for (int xx = threadIdx.x; xx < nc; xx += blockDim.x) cm = fmaxf(cm, sc[xx]);
        cm = rlcu_block_max(cm);
        const float mn = fmaxf(m, cm), alpha = m == -INFINITY ? 0.0f : expf(m - mn);
        __syncthreads();
        float ps = 0.0f;
        for (int xx = threadIdx.x; xx < nc; xx += blockDim.x) { float p = expf(sc[xx] - mn); sc[xx] = p; ps += p; }
        ps = rlcu_block_sum(ps);  // synchronises: sc holds the probabilities
        l = l * alpha + ps;
        m = mn;
        for (int d = threadIdx.x, u = 0; d < vd; d += blockDim.x, u++) {
            float a = acc[u] * alpha;
            for (int xx = 0; xx < nc; xx++) {
                int x = c0 + xx, j = parent && x >= np ? rows[skip + x - np] : j0 + x;
                a += sc[xx] * rlcu_item(vbase + (size_t)(ring ? j % ring : j) * vb, dt, (int64_t)kvh * vd + d);
            }
            acc[u] = a;
        }
        __syncthreads();  // sc is rewritten by the next chunk
    }
    float *o = out + ((size_t)t * n_head + h) * vd, f = 1.0f;
    if (sinks) {  // the sink's exp(s) joins the sum: a key of value zero
        const float sk = sinks[h], mx = fmaxf(m, sk);
        f = m == -INFINITY ? 0.0f : expf(m - mx);
        l = l * f + expf(sk - mx);
    }
    const float inv = l > 0 ? f / l : 0.0f;
    for (int d = threadIdx.x, u = 0; d < vd; d += blockDim.x, u++) o[d] = acc[u] * inv;
}

void rlcu_attention(float *out, const float *q, const rlcu_kv *kv, const int32_t *parent, int T, int pos0, int n_head,
                    int n_kv, int head_dim, int v_dim, float scale, float softcap, int window) {
    if (T <= 0 || n_head <= 0 || n_kv <= 0) return;
    if (head_dim > MAX_DIM || v_dim > MAX_DIM) { rlcu_fail("attention: head dim above 1024", cudaErrorInvalidValue); return; }
    attention_kernel<<<dim3(T, n_head), AT, 0, rlcu_stream>>>(
        out, q, (const uint8_t *)kv->k, (const uint8_t *)kv->v, kv->dt, kv->ring, rlcu_row_bytes(kv->dt, kv->k_width),
        rlcu_row_bytes(kv->dt, kv->v_width), parent, kv->sinks, pos0, n_head, n_kv, head_dim, v_dim, scale, softcap, window);
    RLCU_LAUNCHED("attention");
}

// One thread per (position, item) for the plain types, per (position, block) for Q8_0.
__global__ void kv_store_kernel(uint8_t *dst, int dt, int ring, int width, size_t rbytes, int pos0, const float *src,
                                int n) {
    const int per = dt == DT_Q8_0 ? width / QB : width;
    int64_t tot = (int64_t)n * per, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t g = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; g < tot; g += stride) {
        int t = (int)(g / per), e = (int)(g % per), p = pos0 + t;
        uint8_t *row = dst + (size_t)(ring ? p % ring : p) * rbytes;
        const float *x = src + (size_t)t * width;
        if (dt == DT_F32) ((float *)row)[e] = x[e];
        else if (dt == DT_F16) ((__half *)row)[e] = __float2half_rn(x[e]);
        else if (dt == DT_BF16) ((__nv_bfloat16 *)row)[e] = __float2bfloat16_rn(x[e]);
        else {  // Q8_0 block e: as rl_quantize_row
            const float *xb = x + (size_t)e * QB;
            uint8_t *b = row + (size_t)e * Q8_BYTES;
            float amax = 0.0f;
            for (int k = 0; k < QB; k++) amax = fmaxf(amax, fabsf(xb[k]));
            __half dh = __float2half_rn(amax / 127.0f);
            float dr = __half2float(dh), id = dr > 0.0f ? 1.0f / dr : 0.0f;
            *(__half *)b = dh;
            for (int k = 0; k < QB; k++) {
                float v = roundf(xb[k] * id);
                v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
                b[2 + k] = (uint8_t)(int8_t)v;
            }
        }
    }
}

void rlcu_kv_store(const rlcu_kv *kv, int pos0, const float *k, const float *v, int n) {
    if (n <= 0) return;
    int pk = kv->dt == DT_Q8_0 ? kv->k_width / QB : kv->k_width, pv = kv->dt == DT_Q8_0 ? kv->v_width / QB : kv->v_width;
    kv_store_kernel<<<rlcu_blocks((int64_t)n * pk, 128), 128, 0, rlcu_stream>>>(
        (uint8_t *)kv->k, kv->dt, kv->ring, kv->k_width, rlcu_row_bytes(kv->dt, kv->k_width), pos0, k, n);
    kv_store_kernel<<<rlcu_blocks((int64_t)n * pv, 128), 128, 0, rlcu_stream>>>(
        (uint8_t *)kv->v, kv->dt, kv->ring, kv->v_width, rlcu_row_bytes(kv->dt, kv->v_width), pos0, v, n);
    RLCU_LAUNCHED("kv_store");
}

// floats ordered as unsigned ints (larger float, larger key)
__device__ __forceinline__ unsigned okey(float f) {
    unsigned u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

// One block per query token: index scores, the top-K keys (ties: lowest positions) in ascending
// order, then plain softmax attention of every head over them. Scratch per token: 3 * ctx.
// par (a token tree, as attention_tree): token t is node t, its keys the rows [0, pos0) then its
// ancestors' rows root first and its own (their rows kept in s until the attention needs it).
__global__ void dsa_kernel(float *out, const float *q, const float *kc, const float *vc, int pos0, int nh, int qk,
                           int vd, float scale, int ih, int ihd, int K, const float *iq, const float *iw,
                           const float *ik, int nkv, size_t ks, size_t vs, float *scr, int ctx, const int *par) {
    __shared__ int ns_sh, n_sh;
    const int t = blockIdx.x, i = pos0 + t;
    int n = i + 1;
    float *sc = scr + (size_t)t * 3 * ctx, *s = sc + ctx;
    int *sel = (int *)(s + ctx), *rows = (int *)s;
    if (par) {
        if (threadIdx.x == 0) {
            int d = 0;
            for (int u = t; u >= 0; u = par[u]) d++;
            for (int u = t, x = pos0 + d - 1; u >= 0; u = par[u]) rows[x--] = pos0 + u;
            n_sh = pos0 + d;
        }
        for (int j = threadIdx.x; j < pos0; j += blockDim.x) rows[j] = j;
        __syncthreads();
        n = n_sh;
    }
    const float qs = 1.0f / sqrtf((float)ihd);
    int cnt = n;
    if (n > K) {
        const float *qq = iq + (size_t)t * ih * ihd, *w = iw + (size_t)t * ih;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            const float *k = ik + (size_t)(par ? rows[j] : j) * ihd;
            float v = 0;
            for (int hh = 0; hh < ih; hh++) {
                float d = 0;
                for (int e = 0; e < ihd; e++) d += qq[(size_t)hh * ihd + e] * k[e];
                d *= qs;
                if (d > 0) v += d * w[hh];
            }
            sc[j] = v;
        }
        __syncthreads();
        unsigned ans = 0;  // the largest key with at least K scores >= it: the K-th largest score
        for (int bit = 31; bit >= 0; bit--) {
            unsigned cand = ans | (1u << bit);
            float c = 0;
            for (int j = threadIdx.x; j < n; j += blockDim.x) c += okey(sc[j]) >= cand ? 1.0f : 0.0f;
            if (rlcu_block_sum(c) >= (float)K) ans = cand;
        }
        if (threadIdx.x == 0) {
            int greater = 0, m = 0;
            for (int j = 0; j < n; j++) greater += okey(sc[j]) > ans;
            int ties = K - greater;
            for (int j = 0; j < n && m < K; j++) {
                unsigned kj = okey(sc[j]);
                if (kj > ans || (kj == ans && ties-- > 0)) sel[m++] = j;
            }
            ns_sh = m;
        }
        __syncthreads();
        cnt = ns_sh;
    } else {
        for (int j = threadIdx.x; j < n; j += blockDim.x) sel[j] = j;
        __syncthreads();
    }
    if (par) {  // the selected keys' rows (s is free for the scores after this)
        for (int x = threadIdx.x; x < cnt; x += blockDim.x) sel[x] = rows[sel[x]];
        __syncthreads();
    }
    const int grp = nh / nkv;
    for (int h = 0; h < nh; h++) {
        const int kvh = h / grp;
        const float *qv = q + ((size_t)t * nh + h) * qk;
        float mx = -INFINITY;
        for (int x = threadIdx.x; x < cnt; x += blockDim.x) {
            const float *k = kc + (size_t)sel[x] * ks + (size_t)kvh * qk;
            float d = 0;
            for (int e = 0; e < qk; e++) d += qv[e] * k[e];
            d *= scale;
            s[x] = d;
            mx = fmaxf(mx, d);
        }
        mx = rlcu_block_max(mx);
        float sum = 0;
        for (int x = threadIdx.x; x < cnt; x += blockDim.x) { float e = expf(s[x] - mx); s[x] = e; sum += e; }
        float inv = 1.0f / rlcu_block_sum(sum);  // synchronises: s holds the weights
        float *o = out + ((size_t)t * nh + h) * vd;
        for (int d = threadIdx.x; d < vd; d += blockDim.x) {
            float a = 0;
            for (int x = 0; x < cnt; x++) a += s[x] * inv * vc[(size_t)sel[x] * vs + (size_t)kvh * vd + d];
            o[d] = a;
        }
        __syncthreads();  // s is rewritten by the next head
    }
}

void rlcu_dsa(float *out, const float *q, const float *kc, const float *vc, int T, int pos0, int n_head, int head_dim,
              int v_dim, float scale, int idx_heads, int idx_dim, int topk, const float *iq, const float *iw,
              const float *ik, int n_kv, int k_stride, int v_stride, const int32_t *parent) {
    if (T <= 0) return;
    int ctx = pos0 + T, nkv = n_kv > 0 ? n_kv : n_head;
    if ((size_t)T * 3 * ctx > rlcu_dsa_floats) { rlcu_fail("dsa: scratch too small for this sweep", cudaErrorInvalidValue); return; }
    size_t ks = k_stride > 0 ? (size_t)k_stride : (size_t)nkv * head_dim;
    size_t vs = v_stride > 0 ? (size_t)v_stride : (size_t)nkv * v_dim;
    dsa_kernel<<<T, 256, 0, rlcu_stream>>>(out, q, kc, vc, pos0, n_head, head_dim, v_dim, scale, idx_heads, idx_dim,
                                           topk, iq, iw, ik, nkv, ks, vs, rlcu_dsa_scr, ctx, (const int *)parent);
    RLCU_LAUNCHED("dsa_attention");
}
