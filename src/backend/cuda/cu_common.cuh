// Shared by the .cu files of the CUDA backend: the stream, the sticky error, rl_dtype values and
// device-side element decoding of the weight and cache types (the GGUF ones in cu_gguf.cuh).
#ifndef RL_CU_COMMON_CUH
#define RL_CU_COMMON_CUH
#include "backend/cuda/cu_api.h"
#include "backend/cuda/cu_gguf.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

// rl_dtype values (src/format/dtype.h; backend_cuda.c checks them at compile time)
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 10, DT_Q4_1 = 11 };
enum { QB = 32, Q8_BYTES = 34, Q4_BYTES = 20 };

extern cudaStream_t rlcu_stream;
// Records the first error (what failed and CUDA's words); later calls keep the first.
void rlcu_fail(const char *what, cudaError_t e);
void rlcu_blas_shutdown(void);
// After a launch: records a launch error, if any.
#define RLCU_LAUNCHED(what) do { cudaError_t e_ = cudaGetLastError(); if (e_ != cudaSuccess) rlcu_fail(what, e_); } while (0)

static inline unsigned rlcu_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 32 ? 65535 * 32 : b);
}

// Bytes of n items of dt starting at a block boundary.
static inline __host__ __device__ size_t rlcu_row_bytes(int dt, int64_t n) {
    switch (dt) {
    case DT_F32: return (size_t)n * 4;
    case DT_F16: case DT_BF16: return (size_t)n * 2;
    case DT_Q8_0: return (size_t)(n / QB) * Q8_BYTES;
    case DT_Q4_1: return (size_t)(n / QB) * Q4_BYTES;
    default: return (size_t)(n / gg_items(dt)) * (size_t)gg_bytes(dt); // GGUF types
    }
}

__device__ __forceinline__ float rlcu_half(const uint8_t *p) {  // block scales are 2-byte aligned
    return __half2float(__ushort_as_half(*(const unsigned short *)p));
}

// Item i of a row of dt.
__device__ __forceinline__ float rlcu_item(const void *row, int dt, int64_t i) {
    switch (dt) {
    case DT_F32: return ((const float *)row)[i];
    case DT_F16: return __half2float(__ushort_as_half(((const unsigned short *)row)[i]));
    case DT_BF16: return __uint_as_float((unsigned)((const unsigned short *)row)[i] << 16);
    case DT_Q8_0: {
        const uint8_t *b = (const uint8_t *)row + (i / QB) * Q8_BYTES;
        return rlcu_half(b) * (float)(int8_t)b[2 + i % QB];
    }
    case DT_Q4_1: {
        const uint8_t *b = (const uint8_t *)row + (i / QB) * Q4_BYTES;
        int k = (int)(i % QB);
        int q = k < QB / 2 ? (b[4 + k] & 15) : (b[4 + k - QB / 2] >> 4);
        return rlcu_half(b) * (float)q + rlcu_half(b + 2);
    }
    default: return gg_item((const uint8_t *)row, dt, i); // GGUF types
    }
}

__device__ __forceinline__ float rlcu_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float rlcu_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double rlcu_warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
// Sum over a block of blockDim.x (a multiple of 32, <= 1024) threads; every thread gets it.
__device__ inline double rlcu_block_sum_d(double v) {
    __shared__ double part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = rlcu_warp_sum_d(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    double s = 0;
    for (int i = 0; i < nw; i++) s += part[i];
    return s;
}
__device__ inline float rlcu_block_sum(float v) { return (float)rlcu_block_sum_d((double)v); }
__device__ inline float rlcu_block_max(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = rlcu_warp_max(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    float m = part[0];
    for (int i = 1; i < nw; i++) m = fmaxf(m, part[i]);
    return m;
}
#endif
