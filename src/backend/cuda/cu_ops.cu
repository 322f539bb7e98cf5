// CUDA backend: norms, rope, elementwise ops, row ops and copies (see cu_api.h and the CPU
// versions in src/backend/cpu/ops.c, rowops.c: same formulas; norm sums in double as there).
#include "backend/cuda/cu_common.cuh"
#include <math.h>

enum { NT = 256 };  // threads per block of the row kernels

// one block per row
__global__ void rmsnorm_kernel(float *out, const float *x, const float *w, int n, float eps, int one_plus) {
    const float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    double ss = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += (double)(xr[i] * xr[i]);
    ss = rlcu_block_sum_d(ss);
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float v = xr[i] * scale;
        if (w) v *= one_plus ? 1.0f + w[i] : w[i];
        o[i] = v;
    }
}
void rlcu_rmsnorm(float *out, const float *x, const float *w, int T, int n, float eps, int one_plus) {
    if (T <= 0) return;
    rmsnorm_kernel<<<T, NT, 0, rlcu_stream>>>(out, x, w, n, eps, one_plus);
    RLCU_LAUNCHED("rmsnorm");
}

__global__ void layernorm_kernel(float *out, const float *x, const float *w, const float *b, int n, float eps) {
    const float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += xr[i];
    float mean = (float)(rlcu_block_sum_d(s) / n);
    double v = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) { double d = xr[i] - mean; v += d * d; }
    float scale = (float)(1.0 / sqrt(rlcu_block_sum_d(v) / n + eps));
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float y = (xr[i] - mean) * scale;
        if (w) y *= w[i];
        if (b) y += b[i];
        o[i] = y;
    }
}
void rlcu_layernorm(float *out, const float *x, const float *w, const float *b, int T, int n, float eps) {
    if (T <= 0) return;
    layernorm_kernel<<<T, NT, 0, rlcu_stream>>>(out, x, w, b, n, eps);
    RLCU_LAUNCHED("layernorm");
}

// grid (T, n_heads), threads over the rotated pairs
__global__ void rope_kernel(int interleaved, int half, float *x, int n_heads, int head_dim, const float *cos_t,
                            const float *sin_t) {
    int t = blockIdx.x, h = blockIdx.y;
    float *v = x + ((size_t)t * n_heads + h) * head_dim;
    const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        int ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
        float a = v[ia], b = v[ib];
        v[ia] = a * c[i] - b * s[i];
        v[ib] = b * c[i] + a * s[i];
    }
}
void rlcu_rope(int pairing, int rot_dims, float *x, int T, int n_heads, int head_dim, const float *cos_t,
               const float *sin_t) {
    int half = rot_dims / 2;
    if (T <= 0 || n_heads <= 0 || half <= 0 || pairing > 1) return;
    rope_kernel<<<dim3(T, n_heads), 64, 0, rlcu_stream>>>(pairing, half, x, n_heads, head_dim, cos_t, sin_t);
    RLCU_LAUNCHED("rope");
}

void rlcu_zero(void *dst, size_t n) {
    if (!n) return;
    cudaError_t e = cudaMemsetAsync(dst, 0, n, rlcu_stream);
    if (e != cudaSuccess) rlcu_fail("zero", e);
}

__global__ void repeat_row_kernel(uint8_t *dst, size_t ds, const uint8_t *src, size_t rb, int rows) {
    int64_t n = (int64_t)rows * (int64_t)rb, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[(size_t)(i / rb) * ds + (size_t)(i % rb)] = src[i % rb];
}
void rlcu_copy2d(void *dst, size_t ds, const void *src, size_t ss, size_t rb, int rows) {
    if (rows <= 0 || !rb || (dst == src && ds == ss)) return;
    if (ss == 0 && rows > 1) {
        repeat_row_kernel<<<rlcu_blocks((int64_t)rows * (int64_t)rb, 256), 256, 0, rlcu_stream>>>(
            (uint8_t *)dst, ds, (const uint8_t *)src, rb, rows);
        RLCU_LAUNCHED("copy2d (repeat)");
        return;
    }
    cudaError_t e = cudaMemcpy2DAsync(dst, rows > 1 ? ds : rb, src, rows > 1 ? ss : rb, rb, rows,
                                      cudaMemcpyDeviceToDevice, rlcu_stream);
    if (e != cudaSuccess) rlcu_fail("copy2d", e);
}

__global__ void elementwise_kernel(int kind, float *y, const float *x, float s, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        switch (kind) {
        case 0: y[i] += x[i]; break;
        case 1: y[i] *= s; break;
        case 2: y[i] = s * tanhf(y[i] / s); break;
        case 4: y[i] = fminf(fmaxf(y[i], -s), s); break;
        default: y[i] *= 1.0f / (1.0f + expf(-x[i])); break;
        }
    }
}
void rlcu_elementwise(int kind, float *y, const float *x, float s, int64_t n) {
    if (n <= 0) return;
    elementwise_kernel<<<rlcu_blocks(n, 256), 256, 0, rlcu_stream>>>(kind, y, x, s, n);
    RLCU_LAUNCHED("elementwise");
}

__global__ void act_mul_kernel(int act, float *gate, const float *up, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float x = gate[i], g;
        if (act == 3) {  // gpt-oss's clamped SwiGLU
            const float c = fminf(x, 7.0f), u = up ? fminf(fmaxf(up[i], -7.0f), 7.0f) : 0.0f;
            gate[i] = c / (1.0f + expf(-1.702f * c)) * (u + 1.0f);
            continue;
        }
        if (act == 0) g = x / (1.0f + expf(-x));
        else if (act == 1) g = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        else if (act == 4) g = x > 0.0f ? x * x : 0.0f;  // squared ReLU
        else if (act == 5) g = x;  // identity: a plain product
        else g = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        gate[i] = up ? g * up[i] : g;
    }
}
void rlcu_act_mul(int act, float *gate, const float *up, int64_t n) {
    if (n <= 0) return;
    act_mul_kernel<<<rlcu_blocks(n, 256), 256, 0, rlcu_stream>>>(act, gate, up, n);
    RLCU_LAUNCHED("act_mul");
}

// one block per weight row r: its norm, then column r of out scaled
__global__ void row_norm_div_kernel(float *out, int T, int rows, const uint8_t *w, int dt, int cols, size_t rb) {
    int r = blockIdx.x;
    const uint8_t *row = w + (size_t)r * rb;
    double ss = 0;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) { float v = rlcu_item(row, dt, i); ss += (double)v * v; }
    double nrm = sqrt(rlcu_block_sum_d(ss));
    float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
    for (int t = threadIdx.x; t < T; t += blockDim.x) out[(size_t)t * rows + r] *= inv;
}
void rlcu_row_norm_div(float *out, int T, int rows, const void *w, int dt, int cols) {
    if (rows <= 0 || T <= 0) return;
    row_norm_div_kernel<<<rows, NT, 0, rlcu_stream>>>(out, T, rows, (const uint8_t *)w, dt, cols, rlcu_row_bytes(dt, cols));
    RLCU_LAUNCHED("row_norm_div");
}

// one block per row t
__global__ void row_gate_kernel(float *out, const float *x, const float *g, int n) {
    const float *xr = x + (size_t)blockIdx.x * n;
    float *o = out + (size_t)blockIdx.x * n;
    double z = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) z += (double)(xr[i] * g[i]);
    float sg = 1.0f / (1.0f + expf(-(float)rlcu_block_sum_d(z)));
    for (int i = threadIdx.x; i < n; i += blockDim.x) o[i] *= sg;
}
void rlcu_row_gate(float *out, const float *x, const float *g, int T, int n) {
    if (T <= 0) return;
    row_gate_kernel<<<T, NT, 0, rlcu_stream>>>(out, x, g, n);
    RLCU_LAUNCHED("row_gate");
}

__global__ void scale_rows_kernel(float *y, const float *w, int T, int n) {
    int64_t tot = (int64_t)T * n, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < tot; i += stride) y[i] *= w[i / n];
}
void rlcu_scale_rows(float *y, const float *w, int T, int n) {
    if (T <= 0 || n <= 0) return;
    scale_rows_kernel<<<rlcu_blocks((int64_t)T * n, 256), 256, 0, rlcu_stream>>>(y, w, T, n);
    RLCU_LAUNCHED("scale_rows");
}

__global__ void gather_kernel(float *dst, const float *src, const int32_t *rows, int n_rows, int n) {
    int64_t tot = (int64_t)n_rows * n, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < tot; i += stride)
        dst[i] = src[(size_t)rows[i / n] * n + i % n];
}
void rlcu_gather_rows(float *dst, const float *src, const int32_t *rows, int n_rows, int n) {
    if (n_rows <= 0 || n <= 0) return;
    gather_kernel<<<rlcu_blocks((int64_t)n_rows * n, 256), 256, 0, rlcu_stream>>>(dst, src, rows, n_rows, n);
    RLCU_LAUNCHED("gather_rows");
}
// rows of one call are distinct (backend.h), so no atomics
__global__ void scatter_add_kernel(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n) {
    int64_t tot = (int64_t)n_rows * n, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < tot; i += stride) {
        int64_t r = i / n;
        dst[(size_t)rows[r] * n + i % n] += w[r] * src[i];
    }
}
void rlcu_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n) {
    if (n_rows <= 0 || n <= 0) return;
    scatter_add_kernel<<<rlcu_blocks((int64_t)n_rows * n, 256), 256, 0, rlcu_stream>>>(dst, src, rows, w, n_rows, n);
    RLCU_LAUNCHED("scatter_add_rows");
}
