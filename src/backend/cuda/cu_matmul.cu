// CUDA backend: products with weights (see cu_api.h). Few rows (decode, T < GEMM_MIN_T): one warp
// per output, lanes striding over the input (a 32-item block each for Q8_0 / Q4_1), up to 4
// activation rows per pass, f32 accumulation. More rows: the weight is dequantised to f32 in
// chunks of rows (scratch) and multiplied by cuBLAS SGEMM in pedantic f32 math (no TF32), so
// results keep the f32 numerics of the goldens. With --compute bf16 (rlcu_set_compute), F16 / BF16
// weights take the tensor cores instead: the activations rounded to the weight's 16-bit type, the
// weights used where they are, cublasGemmEx with f32 accumulation (the CPU's --compute bf16
// numerics). matmul_t and convert read items directly.
#include "backend/cuda/cu_common.cuh"
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

enum { GEMM_MIN_T = 8, GEMV_WARPS = 4, GEMV_ROWS = 4 };
static const size_t DEQ_BYTES = (size_t)64 << 20;

static cublasHandle_t g_blas;
static float *g_deq;  // DEQ_BYTES of scratch for dequantised weight rows
float *rlcu_dsa_scr;  // DSA scores (see cu_attention.cu)
size_t rlcu_dsa_floats;

extern uint32_t *rlcu_qact; // cu_quant.cu
extern size_t rlcu_qact_words;
size_t rlcu_qact_row_words(int act, size_t in);

static size_t dsa_bytes(int max_ctx, int max_T) {
    size_t dsa = (size_t)(max_T > 0 ? max_T : 1) * (size_t)(max_ctx > 0 ? max_ctx : 1) * 3 * sizeof(float);
    return (dsa + 255) / 256 * 256;
}
static size_t qact_words(int max_T, int max_in) { // none for a model without GGUF matmuls (max_in 0)
    return max_in > 0 ? (size_t)(max_T > 0 ? max_T : 1) * rlcu_qact_row_words(0, (size_t)max_in) : 0;
}
size_t rlcu_scratch_bytes(int max_ctx, int max_T, int max_in) {
    return DEQ_BYTES + dsa_bytes(max_ctx, max_T) + qact_words(max_T, max_in) * 4;
}
void rlcu_set_scratch(void *p, int max_ctx, int max_T, int max_in) {
    g_deq = (float *)p;
    rlcu_dsa_scr = (float *)((char *)p + DEQ_BYTES);
    rlcu_dsa_floats = dsa_bytes(max_ctx, max_T) / sizeof(float);
    rlcu_qact_words = qact_words(max_T, max_in);
    rlcu_qact = rlcu_qact_words ? (uint32_t *)((char *)p + DEQ_BYTES + dsa_bytes(max_ctx, max_T)) : NULL;
}
void rlcu_matmul_gguf(float *y, const float *x, const void *w, int dt, const float *bias, int T, int in, int out);

static int blas(void) {
    if (g_blas) return 0;
    if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) { rlcu_fail("cublasCreate", cudaErrorUnknown); return -1; }
    cublasSetStream(g_blas, rlcu_stream);
    cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH);
    return 0;
}
void rlcu_blas_shutdown(void) { if (g_blas) cublasDestroy(g_blas), g_blas = NULL; }

static int g_half_compute; // --compute bf16
void rlcu_set_compute(int half) { g_half_compute = half; }

__global__ void to_bf16_kernel(__nv_bfloat16 *__restrict__ d, const float *__restrict__ s, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) d[i] = __float2bfloat16_rn(s[i]);
}
__global__ void to_f16_kernel(__half *__restrict__ d, const float *__restrict__ s, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) d[i] = __float2half_rn(s[i]);
}

// y (T, out) = x (T, in) W^T for F16 / BF16 W on the tensor cores: the tokens in passes of what
// the scratch holds as 16-bit activations. 0 when the scratch cannot hold one token's row.
static int gemm_half(float *y, const float *x, const void *w, int dt, int T, int in, int out) {
    int per = (int)(DEQ_BYTES / ((size_t)in * 2));
    if (per < 1) return 0;
    cudaDataType ty = dt == DT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    const float one = 1.0f, zero = 0.0f;
    cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH);
    for (int t0 = 0; t0 < T; t0 += per) {
        int n = T - t0 < per ? T - t0 : per;
        int64_t items = (int64_t)n * in;
        if (dt == DT_BF16) to_bf16_kernel<<<rlcu_blocks(items, 256), 256, 0, rlcu_stream>>>((__nv_bfloat16 *)g_deq, x + (size_t)t0 * in, items);
        else to_f16_kernel<<<rlcu_blocks(items, 256), 256, 0, rlcu_stream>>>((__half *)g_deq, x + (size_t)t0 * in, items);
        RLCU_LAUNCHED("matmul (activations to 16 bits)");
        // column-major, as the SGEMM below: Y^T (out x n, ld out) = W^T (W stored in x out, ld in) * X^T (in x n, ld in)
        if (cublasGemmEx(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, ty, in, g_deq, ty, in, &zero,
                         y + (size_t)t0 * out, CUDA_R_32F, out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
            rlcu_fail("matmul (cublasGemmEx, --compute bf16)", cudaErrorUnknown);
            break;
        }
    }
    cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH);
    return 1;
}

template <int DT>
__global__ void gemv_kernel(float *__restrict__ y, const float *__restrict__ x, const uint8_t *__restrict__ w,
                            const float *__restrict__ bias, int T, int in, int out, size_t rb) {
    int o = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (o >= out) return;
    const uint8_t *row = w + (size_t)o * rb;
    for (int t0 = 0; t0 < T; t0 += GEMV_ROWS) {
        int nt = T - t0 < GEMV_ROWS ? T - t0 : GEMV_ROWS;
        float acc[GEMV_ROWS] = {0, 0, 0, 0};
        if (DT == DT_Q8_0 || DT == DT_Q4_1) {
            for (int b = lane; b < in / QB; b += 32) {
                float v[QB];
                const uint8_t *blk = row + (size_t)b * (DT == DT_Q8_0 ? Q8_BYTES : Q4_BYTES);
                float d = rlcu_half(blk);
                if (DT == DT_Q8_0) {
                    for (int k = 0; k < QB; k++) v[k] = d * (float)(int8_t)blk[2 + k];
                } else {
                    float m = rlcu_half(blk + 2);
                    for (int k = 0; k < QB / 2; k++) {
                        v[k] = d * (float)(blk[4 + k] & 15) + m;
                        v[k + QB / 2] = d * (float)(blk[4 + k] >> 4) + m;
                    }
                }
                for (int t = 0; t < nt; t++) {
                    const float *xr = x + (size_t)(t0 + t) * in + (size_t)b * QB;
                    float s = 0;
                    for (int k = 0; k < QB; k++) s += v[k] * xr[k];
                    acc[t] += s;
                }
            }
        } else {
            for (int i = lane; i < in; i += 32) {
                float wv = rlcu_item(row, DT, i);
                for (int t = 0; t < nt; t++) acc[t] += wv * x[(size_t)(t0 + t) * in + i];
            }
        }
        for (int t = 0; t < nt; t++) {
            float s = rlcu_warp_sum(acc[t]);
            if (lane == 0) y[(size_t)(t0 + t) * out + o] = s + (bias ? bias[o] : 0.0f);
        }
    }
}

__global__ void dequant_rows_kernel(float *__restrict__ dst, const uint8_t *__restrict__ w, int dt, int rows, int in,
                                    size_t rb) {
    int64_t n = (int64_t)rows * in, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] = rlcu_item(w + (size_t)(i / in) * rb, dt, i % in);
}

__global__ void add_bias_kernel(float *y, const float *bias, int T, int out) {
    int64_t n = (int64_t)T * out, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += bias[i % out];
}

void rlcu_matmul(float *y, const float *x, const void *w, int dt, const float *bias, int T, int in, int out) {
    if (T <= 0 || out <= 0) return;
    if (gg_is_gguf(dt)) { rlcu_matmul_gguf(y, x, w, dt, bias, T, in, out); return; }
    size_t rb = rlcu_row_bytes(dt, in);
    if (T < GEMM_MIN_T || in <= 0) {
        dim3 g((out + GEMV_WARPS - 1) / GEMV_WARPS), b(32 * GEMV_WARPS);
        const uint8_t *W = (const uint8_t *)w;
        switch (dt) {
        case DT_F32: gemv_kernel<DT_F32><<<g, b, 0, rlcu_stream>>>(y, x, W, bias, T, in, out, rb); break;
        case DT_F16: gemv_kernel<DT_F16><<<g, b, 0, rlcu_stream>>>(y, x, W, bias, T, in, out, rb); break;
        case DT_BF16: gemv_kernel<DT_BF16><<<g, b, 0, rlcu_stream>>>(y, x, W, bias, T, in, out, rb); break;
        case DT_Q8_0: gemv_kernel<DT_Q8_0><<<g, b, 0, rlcu_stream>>>(y, x, W, bias, T, in, out, rb); break;
        default: gemv_kernel<DT_Q4_1><<<g, b, 0, rlcu_stream>>>(y, x, W, bias, T, in, out, rb); break;
        }
        RLCU_LAUNCHED("matmul (gemv)");
        return;
    }
    if (blas()) return;
    if (g_half_compute && (dt == DT_BF16 || dt == DT_F16) && gemm_half(y, x, w, dt, T, in, out)) {
        if (bias) {
            add_bias_kernel<<<rlcu_blocks((int64_t)T * out, 256), 256, 0, rlcu_stream>>>(y, bias, T, out);
            RLCU_LAUNCHED("matmul (bias)");
        }
        return;
    }
    const float one = 1.0f, zero = 0.0f;
    int chunk = dt == DT_F32 ? out : (int)(DEQ_BYTES / sizeof(float) / (size_t)in);
    if (chunk < 1) { rlcu_fail("matmul: input too wide for the dequantisation scratch", cudaErrorInvalidValue); return; }
    for (int o0 = 0; o0 < out; o0 += chunk) {
        int oc = out - o0 < chunk ? out - o0 : chunk;
        const float *A = (const float *)((const uint8_t *)w + (size_t)o0 * rb);
        if (dt != DT_F32) {
            dequant_rows_kernel<<<rlcu_blocks((int64_t)oc * in, 256), 256, 0, rlcu_stream>>>(
                g_deq, (const uint8_t *)w + (size_t)o0 * rb, dt, oc, in, rb);
            RLCU_LAUNCHED("matmul (dequantise)");
            A = g_deq;
        }
        // column-major: Y^T[o0.., T] (ld out) = A^T (oc x in, A stored in x oc, ld in) * X^T (in x T, ld in)
        if (cublasSgemm(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, oc, T, in, &one, A, in, x, in, &zero, y + o0, out) !=
            CUBLAS_STATUS_SUCCESS) {
            rlcu_fail("matmul (cublasSgemm)", cudaErrorUnknown);
            return;
        }
    }
    if (bias) {
        add_bias_kernel<<<rlcu_blocks((int64_t)T * out, 256), 256, 0, rlcu_stream>>>(y, bias, T, out);
        RLCU_LAUNCHED("matmul (bias)");
    }
}

__global__ void matmul_t_kernel(float *__restrict__ y, const float *__restrict__ x, const uint8_t *__restrict__ w,
                                int dt, int in, int out, size_t rb) {
    int o = blockIdx.x * blockDim.x + threadIdx.x, t = blockIdx.y;
    if (o >= out) return;
    const float *xr = x + (size_t)t * in;
    float s = 0;
    for (int i = 0; i < in; i++) s += xr[i] * rlcu_item(w + (size_t)i * rb, dt, o);
    y[(size_t)t * out + o] = s;
}

void rlcu_matmul_t(float *y, const float *x, const void *w, int dt, int T, int in, int out) {
    if (T <= 0 || out <= 0) return;
    dim3 g((out + 127) / 128, T);
    matmul_t_kernel<<<g, 128, 0, rlcu_stream>>>(y, x, (const uint8_t *)w, dt, in, out, rlcu_row_bytes(dt, out));
    RLCU_LAUNCHED("matmul_t");
}

__global__ void convert_kernel(float *dst, const void *src, int dt, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = rlcu_item(src, dt, i);
}

void rlcu_convert(float *dst, const void *src, int dt, int64_t n) {
    if (n <= 0) return;
    convert_kernel<<<rlcu_blocks(n, 256), 256, 0, rlcu_stream>>>(dst, src, dt, n);
    RLCU_LAUNCHED("convert");
}
