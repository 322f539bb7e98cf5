/* Optional CUDA offload of large rl_matmul calls. Built in with `make CUDA=1` (backend in
 * src/backend/cuda/matmul.cu: BF16 weights in cuBLAS GemmEx against the activations split in two
 * BF16 halves with f32 accumulation; F32 weights in SGEMM; F16 / Q8_0 / Q4_1 dequantized to f32
 * on the device, then SGEMM); otherwise a C
 * stub (stub.c) keeps the symbols and every call stays on the CPU. The offload is asked for with
 * the RL_CUDA environment variable (any value but "0") or rl_cuda_request(1) (the CLI's --gpu),
 * and runs only when a device is present. The first request decides and prints one line to
 * stderr saying which path runs; any CUDA error prints once and turns the offload off for good
 * (the call that failed, and all later ones, run on the CPU). Thread-safe (one lock: GPU calls
 * are serialized). Tunables (env): RL_CUDA_MIN_T (default 16 tokens), RL_CUDA_MIN_ELEMS
 * (default 1048576 = out * in). */
#ifndef RL_CUDA_H
#define RL_CUDA_H
#include "format/dtype.h"
#include <stdint.h>

/* Asks for (on = 1) or stops (on = 0) the offload; overrides RL_CUDA. May be called any time. */
void rl_cuda_request(int on);

/* 1 if the offload is asked for, built in, and a device works (the first call that finds it
 * asked for initializes the device). */
int rl_cuda_active(void);

/* y = x W^T + bias as rl_matmul (same arguments and layout; wtype F32/F16/BF16/Q8_0/Q4_1 with
 * valid sizes) on the GPU. Runs only if rl_cuda_active() and, unless force, T >= RL_CUDA_MIN_T
 * and out * in >= RL_CUDA_MIN_ELEMS. Returns 0 when y holds the result, -1 when the caller must
 * compute it on the CPU. */
int rl_cuda_matmul(float *y, const float *x, const void *w, rl_dtype wtype, const float *bias, int T, int in,
                   int out, int force);

/* Weight buffers (the loader's two slots and resident stage buffers, the MoE expert reader's
 * buffers). When the offload is active, rl_cuda_register pins [p, p + n) with cudaHostRegister (so
 * uploads run at full PCIe speed) and lets the backend keep a device copy of the whole buffer:
 * the first offloaded matmul whose weight lies in it uploads the whole buffer (its own weight
 * first, the rest overlapping that product), and later matmuls reading it reuse the copy.
 * rl_cuda_invalidate(p) must be called before the contents of a registered buffer change (the
 * next use uploads again); rl_cuda_unregister(p) before it is freed. All three are no-ops for
 * unknown pointers, when the offload is off, and in builds without CUDA; failures (no pinning,
 * no device memory for the copy) only make the calls fall back to per-call uploads. */
void rl_cuda_register(void *p, size_t n);
void rl_cuda_invalidate(const void *p);
void rl_cuda_unregister(void *p);

/* One line naming the path matmuls take: "cpu", "cpu (CUDA unavailable: ...)" or
 * "cuda (DEVICE), N of M matmul calls offloaded" (M: calls that reached the size check). */
const char *rl_cuda_describe(char *buf, size_t n);

/* Backend (matmul.cu, or stub.c without CUDA=1); called under the offload's lock only. wtype is
 * an rl_dtype value. Return 0, or -1 with a message in err. */
int rl_cudab_init(char *name, size_t name_n, char *err, size_t err_n);
int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias, int T,
                    int in, int out, char *err, size_t err_n);
int rl_cudab_register(void *p, size_t n, char *err, size_t err_n);
int rl_cudab_invalidate(const void *p, char *err, size_t err_n);
void rl_cudab_unregister(void *p);
/* Backend counters for rl_cuda_describe ("" if none). */
void rl_cudab_note(char *buf, size_t n);

#endif
