// CUDA backend of the matmul offload (see cuda.h; compiled only with `make CUDA=1`). Per call:
// the raw weight bytes, x and the bias go to persistent device buffers (grown as needed) on one
// stream, a kernel dequantizes F16 / BF16 / Q8_0 / Q4_1 weights to f32 on the device, cuBLAS
// SGEMM (f32 inputs, f32 accumulation, no TF32) computes y = x W^T, a kernel adds the bias, and
// y comes back; the stream is synchronized and checked before returning, so an error never
// leaves a wrong y behind (the caller recomputes on the CPU).
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

extern "C" {
int rl_cudab_init(char *name, size_t name_n, char *err, size_t err_n);
int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias, int T,
                    int in, int out, char *err, size_t err_n);
}

// rl_dtype values (src/format/dtype.h; offload.c checks them at compile time)
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 10, DT_Q4_1 = 11 };
static const int QB = 32;  // items per quantized block

static cudaStream_t g_stream;
static cublasHandle_t g_blas;
static void *d_w, *d_wf, *d_x, *d_y, *d_b;
static size_t cap_w, cap_wf, cap_x, cap_y, cap_b;

#define CK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
    snprintf(err, err_n, "%s: %s", #call, cudaGetErrorString(e_)); return -1; } } while (0)
#define CKB(call) do { cublasStatus_t s_ = (call); if (s_ != CUBLAS_STATUS_SUCCESS) { \
    snprintf(err, err_n, "%s: cuBLAS status %d", #call, (int)s_); return -1; } } while (0)

static int grow(void **p, size_t *cap, size_t need, char *err, size_t err_n) {
    if (need <= *cap) return 0;
    if (*p) { cudaFree(*p); *p = NULL; *cap = 0; }
    size_t n = need + need / 8;  // some slack so slightly larger tensors do not reallocate
    CK(cudaMalloc(p, n));
    *cap = n;
    return 0;
}

__device__ __forceinline__ float half_at(const uint8_t *p) {  // blocks are 2-byte aligned
    return __half2float(__ushort_as_half(*(const unsigned short *)p));
}

__global__ void dequant_kernel(float *__restrict__ dst, const void *__restrict__ src, int wtype, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v;
        if (wtype == DT_BF16) {
            v = __uint_as_float((unsigned)((const unsigned short *)src)[i] << 16);
        } else if (wtype == DT_F16) {
            v = __half2float(__ushort_as_half(((const unsigned short *)src)[i]));
        } else if (wtype == DT_Q8_0) {
            const uint8_t *b = (const uint8_t *)src + (i / QB) * 34;
            int j = (int)(i % QB);
            v = half_at(b) * (float)(int8_t)b[2 + j];
        } else {  // Q4_1: byte j holds item j (low nibble) and item j + 16 (high nibble)
            const uint8_t *b = (const uint8_t *)src + (i / QB) * 20;
            int j = (int)(i % QB);
            int q = j < 16 ? (b[4 + j] & 15) : (b[4 + j - 16] >> 4);
            v = half_at(b) * (float)q + half_at(b + 2);
        }
        dst[i] = v;
    }
}

__global__ void bias_kernel(float *__restrict__ y, const float *__restrict__ b, int out, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += b[i % out];
}

static int grid_for(long long n) {
    long long g = (n + 255) / 256;
    return g > 65535 * 8 ? 65535 * 8 : (int)(g < 1 ? 1 : g);
}

extern "C" int rl_cudab_init(char *name, size_t name_n, char *err, size_t err_n) {
    int n = 0;
    if (name_n) name[0] = 0;
    CK(cudaGetDeviceCount(&n));
    if (n < 1) { snprintf(err, err_n, "no CUDA device"); return -1; }
    CK(cudaSetDevice(0));
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    snprintf(name, name_n, "%s, sm_%d%d, %.0f GiB", pr.name, pr.major, pr.minor, pr.totalGlobalMem / 1073741824.0);
    CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    CKB(cublasCreate(&g_blas));
    CKB(cublasSetStream(g_blas, g_stream));
    CKB(cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH));  // true f32: no TF32 tensor-op shortcut
    return 0;
}

extern "C" int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias,
                               int T, int in, int out, char *err, size_t err_n) {
    if (wtype != DT_F32 && wtype != DT_F16 && wtype != DT_BF16 && wtype != DT_Q8_0 && wtype != DT_Q4_1) {
        snprintf(err, err_n, "unsupported weight type %d", wtype);
        return -1;
    }
    long long nw = (long long)out * in;
    size_t xb = (size_t)T * in * sizeof(float), yb = (size_t)T * out * sizeof(float);
    if (grow(&d_w, &cap_w, wbytes, err, err_n) || grow(&d_x, &cap_x, xb, err, err_n) ||
        grow(&d_y, &cap_y, yb, err, err_n) ||
        (bias && grow(&d_b, &cap_b, (size_t)out * sizeof(float), err, err_n)) ||
        (wtype != DT_F32 && grow(&d_wf, &cap_wf, (size_t)nw * sizeof(float), err, err_n)))
        return -1;
    CK(cudaMemcpyAsync(d_w, w, wbytes, cudaMemcpyHostToDevice, g_stream));
    CK(cudaMemcpyAsync(d_x, x, xb, cudaMemcpyHostToDevice, g_stream));
    if (bias) CK(cudaMemcpyAsync(d_b, bias, (size_t)out * sizeof(float), cudaMemcpyHostToDevice, g_stream));
    const float *wf = (const float *)d_w;
    if (wtype != DT_F32) {
        dequant_kernel<<<grid_for(nw), 256, 0, g_stream>>>((float *)d_wf, d_w, wtype, nw);
        CK(cudaGetLastError());
        wf = (const float *)d_wf;
    }
    // row-major y[T][out] = x[T][in] W[out][in]^T  <=>  column-major Y(out x T) = W'(in x out)^T X(in x T)
    const float one = 1.0f, zero = 0.0f;
    CKB(cublasSgemm(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, out, T, in, &one, wf, in, (const float *)d_x, in, &zero,
                    (float *)d_y, out));
    if (bias) {
        long long ny = (long long)T * out;
        bias_kernel<<<grid_for(ny), 256, 0, g_stream>>>((float *)d_y, (const float *)d_b, out, ny);
        CK(cudaGetLastError());
    }
    CK(cudaMemcpyAsync(y, d_y, yb, cudaMemcpyDeviceToHost, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    return 0;
}
