// CUDA backend of the matmul offload (see cuda.h; compiled only with `make CUDA=1`).
// Weights: a weight inside a registered (pinned) host buffer comes from a device copy of that
// whole buffer, uploaded on a copy stream at its first use (the weight's own bytes first; the
// compute stream waits only for those, the rest of the buffer overlaps the product) and reused
// until rl_cudab_invalidate; a weight outside any registered buffer (or one whose buffer found no
// device memory) is copied per call. x and the bias go per call. Products: BF16 weights go to
// cuBLAS GemmEx as they are, against x split on the device into two BF16 halves (x = hi + lo,
// exact to ~2^-17 relative) stacked as 2T columns, f32 accumulation; the two halves of the
// result are summed with the bias. F32 weights go to SGEMM; F16 / Q8_0 / Q4_1 are dequantized to
// f32 on the device first (SGEMM in pedantic f32 math: no TF32). The compute stream is
// synchronized and checked before returning, so an error never leaves a wrong y behind (the
// caller recomputes on the CPU).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
int rl_cudab_init(char *name, size_t name_n, char *err, size_t err_n);
int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias, int T,
                    int in, int out, char *err, size_t err_n);
int rl_cudab_register(void *p, size_t n, char *err, size_t err_n);
int rl_cudab_invalidate(const void *p, char *err, size_t err_n);
void rl_cudab_unregister(void *p);
void rl_cudab_note(char *buf, size_t n);
}

// rl_dtype values (src/format/dtype.h; offload.c checks them at compile time)
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 10, DT_Q4_1 = 11 };
static const int QB = 32;  // items per quantized block

static cudaStream_t g_stream, g_copy;  // compute, weight uploads
static cublasHandle_t g_blas;
static void *d_w, *d_wf, *d_x, *d_x2, *d_y, *d_b;
static size_t cap_w, cap_wf, cap_x, cap_x2, cap_y, cap_b;

// A registered host buffer and its device copy (d NULL until first use; nocache: no device memory
// was left for it, its weights are copied per call, from pinned memory).
typedef struct {
    const uint8_t *h;
    size_t n;
    void *d;
    int valid, nocache;
    cudaEvent_t part, all;  // the first weight's bytes / the whole buffer are on the device
} reg_t;
static reg_t *g_reg;
static int g_nreg, g_capreg;
static unsigned long long st_up_bytes, st_up_n, st_hits, st_percall_bytes;

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

// x[T][in] f32 -> x2[2T][in] bf16: rows 0..T-1 the rounded values, rows T..2T-1 the remainders
__global__ void split_kernel(__nv_bfloat16 *__restrict__ x2, const float *__restrict__ x, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = x[i];
        __nv_bfloat16 hi = __float2bfloat16_rn(v);
        x2[i] = hi;
        x2[n + i] = __float2bfloat16_rn(v - __bfloat162float(hi));
    }
}

// y2[2T][out] -> y2[t][o] += y2[T + t][o] (+ b[o])
__global__ void combine_kernel(float *__restrict__ y2, const float *__restrict__ b, int out, long long n) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y2[i] += y2[n + i] + (b ? b[i % out] : 0.0f);
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
    CK(cudaStreamCreateWithFlags(&g_copy, cudaStreamNonBlocking));
    CKB(cublasCreate(&g_blas));
    CKB(cublasSetStream(g_blas, g_stream));
    CKB(cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH));  // true f32: no TF32 tensor-op shortcut
    return 0;
}

static reg_t *find_reg(const void *p) {
    const uint8_t *q = (const uint8_t *)p;
    for (int i = 0; i < g_nreg; i++)
        if (q >= g_reg[i].h && q < g_reg[i].h + g_reg[i].n) return &g_reg[i];
    return NULL;
}

extern "C" int rl_cudab_register(void *p, size_t n, char *err, size_t err_n) {
    if (find_reg(p)) return 0;
    if (g_nreg == g_capreg) {
        int c = g_capreg ? 2 * g_capreg : 16;
        reg_t *r = (reg_t *)realloc(g_reg, (size_t)c * sizeof *r);
        if (!r) { snprintf(err, err_n, "out of memory"); return -1; }
        g_reg = r; g_capreg = c;
    }
    cudaError_t e = cudaHostRegister(p, n, cudaHostRegisterDefault);
    if (e != cudaSuccess) {
        cudaGetLastError();  // not sticky: the buffer just stays pageable
        snprintf(err, err_n, "cudaHostRegister: %s", cudaGetErrorString(e));
        return -1;
    }
    reg_t *r = &g_reg[g_nreg];
    memset(r, 0, sizeof *r);
    r->h = (const uint8_t *)p;
    r->n = n;
    if (cudaEventCreateWithFlags(&r->part, cudaEventDisableTiming) != cudaSuccess ||
        cudaEventCreateWithFlags(&r->all, cudaEventDisableTiming) != cudaSuccess) {
        cudaGetLastError();
        cudaHostUnregister(p);
        snprintf(err, err_n, "cudaEventCreate failed");
        return -1;
    }
    g_nreg++;
    return 0;
}

extern "C" int rl_cudab_invalidate(const void *p, char *err, size_t err_n) {
    reg_t *r = find_reg(p);
    if (!r || !r->valid) return 0;
    CK(cudaEventSynchronize(r->all));  // an upload still reading the old bytes ends first
    r->valid = 0;
    return 0;
}

extern "C" void rl_cudab_unregister(void *p) {
    reg_t *r = find_reg(p);
    if (!r || r->h != (const uint8_t *)p) return;
    cudaEventSynchronize(r->all);
    cudaEventDestroy(r->part);
    cudaEventDestroy(r->all);
    if (r->d) cudaFree(r->d);
    cudaHostUnregister(p);
    cudaGetLastError();
    *r = g_reg[--g_nreg];
}

extern "C" void rl_cudab_note(char *buf, size_t n) {
    size_t pinned = 0, cached = 0;
    for (int i = 0; i < g_nreg; i++) { pinned += g_reg[i].n; if (g_reg[i].d) cached += g_reg[i].n; }
    snprintf(buf, n, "%d buffers pinned (%.0f MiB, %.0f MiB with a device copy), %llu uploads of %.0f MiB, "
             "%llu reuses, %.0f MiB copied per call", g_nreg, pinned / 1048576.0, cached / 1048576.0, st_up_n,
             st_up_bytes / 1048576.0, st_hits, st_percall_bytes / 1048576.0);
}

// Device address of the weight [w, w + wbytes), uploading as needed (see the header comment).
static int weight_on_device(const void *w, size_t wbytes, const void **dw, char *err, size_t err_n) {
    reg_t *r = find_reg(w);
    const uint8_t *q = (const uint8_t *)w;
    if (r && q + wbytes > r->h + r->n) r = NULL;  // not inside one buffer: per call
    if (r && !r->d && !r->nocache) {
        size_t fr = 0, tot = 0;
        size_t reserve = (size_t)2 << 30;  // room for the work buffers and cuBLAS
        const char *e = getenv("RL_CUDA_NO_CACHE");
        if ((e && *e && strcmp(e, "0")) || cudaMemGetInfo(&fr, &tot) != cudaSuccess || fr < r->n + reserve ||
            cudaMalloc(&r->d, r->n) != cudaSuccess) {
            cudaGetLastError();
            r->d = NULL;
            r->nocache = 1;
        }
    }
    if (r && r->d) {
        uint8_t *d = (uint8_t *)r->d;
        if (!r->valid) {
            size_t a = (size_t)(q - r->h), b = a + wbytes;
            CK(cudaMemcpyAsync(d + a, q, wbytes, cudaMemcpyHostToDevice, g_copy));
            CK(cudaEventRecord(r->part, g_copy));
            if (a) CK(cudaMemcpyAsync(d, r->h, a, cudaMemcpyHostToDevice, g_copy));
            if (b < r->n) CK(cudaMemcpyAsync(d + b, r->h + b, r->n - b, cudaMemcpyHostToDevice, g_copy));
            CK(cudaEventRecord(r->all, g_copy));
            CK(cudaStreamWaitEvent(g_stream, r->part, 0));
            r->valid = 1;
            st_up_n++;
            st_up_bytes += r->n;
        } else {
            CK(cudaStreamWaitEvent(g_stream, r->all, 0));
            st_hits++;
        }
        *dw = d + (q - r->h);
        return 0;
    }
    if (grow(&d_w, &cap_w, wbytes, err, err_n)) return -1;
    CK(cudaMemcpyAsync(d_w, w, wbytes, cudaMemcpyHostToDevice, g_stream));
    st_percall_bytes += wbytes;
    *dw = d_w;
    return 0;
}

extern "C" int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias,
                               int T, int in, int out, char *err, size_t err_n) {
    if (wtype != DT_F32 && wtype != DT_F16 && wtype != DT_BF16 && wtype != DT_Q8_0 && wtype != DT_Q4_1) {
        snprintf(err, err_n, "unsupported weight type %d", wtype);
        return -1;
    }
    long long nw = (long long)out * in, nx = (long long)T * in, ny = (long long)T * out;
    int split = wtype == DT_BF16;
    size_t xb = (size_t)nx * sizeof(float), yb = (size_t)ny * sizeof(float);
    if (grow(&d_x, &cap_x, xb, err, err_n) || grow(&d_y, &cap_y, split ? 2 * yb : yb, err, err_n) ||
        (split && grow(&d_x2, &cap_x2, (size_t)nx * 2 * sizeof(__nv_bfloat16), err, err_n)) ||
        (bias && grow(&d_b, &cap_b, (size_t)out * sizeof(float), err, err_n)) ||
        (wtype != DT_F32 && !split && grow(&d_wf, &cap_wf, (size_t)nw * sizeof(float), err, err_n)))
        return -1;
    CK(cudaMemcpyAsync(d_x, x, xb, cudaMemcpyHostToDevice, g_stream));
    if (bias) CK(cudaMemcpyAsync(d_b, bias, (size_t)out * sizeof(float), cudaMemcpyHostToDevice, g_stream));
    if (split) {
        split_kernel<<<grid_for(nx), 256, 0, g_stream>>>((__nv_bfloat16 *)d_x2, (const float *)d_x, nx);
        CK(cudaGetLastError());
    }
    const void *dw = NULL;
    if (weight_on_device(w, wbytes, &dw, err, err_n)) return -1;
    const float one = 1.0f, zero = 0.0f;
    // row-major y[T][out] = x[T][in] W[out][in]^T  <=>  column-major Y(out x T) = W'(in x out)^T X(in x T)
    if (split) {
        CKB(cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH));  // BF16 tensor cores, f32 accumulation
        cublasStatus_t s = cublasGemmEx(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, out, 2 * T, in, &one, dw, CUDA_R_16BF, in,
                                        d_x2, CUDA_R_16BF, in, &zero, d_y, CUDA_R_32F, out, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT);
        CKB(cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH));
        CKB(s);
        combine_kernel<<<grid_for(ny), 256, 0, g_stream>>>((float *)d_y, bias ? (const float *)d_b : NULL, out, ny);
        CK(cudaGetLastError());
    } else {
        const float *wf = (const float *)dw;
        if (wtype != DT_F32) {
            dequant_kernel<<<grid_for(nw), 256, 0, g_stream>>>((float *)d_wf, dw, wtype, nw);
            CK(cudaGetLastError());
            wf = (const float *)d_wf;
        }
        CKB(cublasSgemm(g_blas, CUBLAS_OP_T, CUBLAS_OP_N, out, T, in, &one, wf, in, (const float *)d_x, in, &zero,
                        (float *)d_y, out));
        if (bias) {
            bias_kernel<<<grid_for(ny), 256, 0, g_stream>>>((float *)d_y, (const float *)d_b, out, ny);
            CK(cudaGetLastError());
        }
    }
    CK(cudaMemcpyAsync(y, d_y, yb, cudaMemcpyDeviceToHost, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    return 0;
}
