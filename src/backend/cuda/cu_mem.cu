// CUDA backend: device set-up, memory, copies, fences and the sticky error (see cu_api.h). One
// in-order stream carries every op and plain upload; a fence is an event recorded on it.
// Asynchronous uploads (the next layer while this one computes) go on a second stream; the
// compute stream waits for their event at the join.
#include "backend/cuda/cu_common.cuh"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cudaStream_t rlcu_stream;
static char g_err[256];
static int g_failed;

enum { N_EVENTS = 64 };
static cudaEvent_t g_ev[N_EVENTS];
static uint64_t g_fences;  // fences recorded so far; fence f lives in g_ev[f % N_EVENTS]
static cudaStream_t g_copy;
static cudaEvent_t g_up[N_EVENTS];
static uint64_t g_tickets;  // asynchronous uploads so far; ticket t lives in g_up[t % N_EVENTS]

void rlcu_fail(const char *what, cudaError_t e) {
    if (g_failed) return;
    g_failed = 1;
    snprintf(g_err, sizeof g_err, "cuda: %s: %s", what, cudaGetErrorString(e));
}
const char *rlcu_error(void) { return g_failed ? g_err : NULL; }

int rlcu_supports(int dt) {
    return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16 || dt == DT_Q8_0 || dt == DT_Q4_1 || gg_is_gguf(dt) ||
           (dt >= DT_FP8_BLK && dt <= DT_MXFP4);
}

int rlcu_init(char *desc, size_t desc_n, char *err, size_t err_n) {
    int n = 0, dev = 0;
    const char *env = getenv("RL_CUDA_DEVICE");
    if (env && *env) dev = atoi(env);
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(err, err_n, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        return -1;
    }
    if (dev < 0 || dev >= n) { snprintf(err, err_n, "RL_CUDA_DEVICE=%d: there are %d devices", dev, n); return -1; }
    cudaDeviceProp p;
    if ((e = cudaSetDevice(dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&p, dev)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&rlcu_stream, cudaStreamNonBlocking)) != cudaSuccess) {
        snprintf(err, err_n, "device %d: %s", dev, cudaGetErrorString(e));
        return -1;
    }
    if ((e = cudaStreamCreateWithFlags(&g_copy, cudaStreamNonBlocking)) != cudaSuccess) {
        snprintf(err, err_n, "copy stream: %s", cudaGetErrorString(e));
        return -1;
    }
    for (int i = 0; i < N_EVENTS; i++)
        if ((e = cudaEventCreateWithFlags(&g_ev[i], cudaEventDisableTiming)) != cudaSuccess ||
            (e = cudaEventCreateWithFlags(&g_up[i], cudaEventDisableTiming)) != cudaSuccess) {
            snprintf(err, err_n, "events: %s", cudaGetErrorString(e));
            return -1;
        }
    snprintf(desc, desc_n, "cuda (%s, sm_%d%d, %.1f GiB)", p.name, p.major, p.minor, p.totalGlobalMem / 1073741824.0);
    g_failed = 0;
    g_fences = g_tickets = 0;
    return 0;
}

void rlcu_shutdown(void) {
    if (!rlcu_stream) return;
    cudaStreamSynchronize(rlcu_stream);
    rlcu_blas_shutdown();
    if (g_copy) cudaStreamSynchronize(g_copy), cudaStreamDestroy(g_copy), g_copy = NULL;
    for (int i = 0; i < N_EVENTS; i++) {
        if (g_ev[i]) cudaEventDestroy(g_ev[i]), g_ev[i] = NULL;
        if (g_up[i]) cudaEventDestroy(g_up[i]), g_up[i] = NULL;
    }
    cudaStreamDestroy(rlcu_stream);
    rlcu_stream = NULL;
}

void *rlcu_malloc(size_t n) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, n ? n : 256);
    if (e != cudaSuccess) {
        cudaGetLastError();  // not sticky for the context: report through the caller instead
        snprintf(g_err, sizeof g_err, "cuda: cannot allocate %zu bytes of device memory: %s", n, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}
void rlcu_free(void *p) { if (p) { cudaStreamSynchronize(rlcu_stream); cudaFree(p); } }

int rlcu_mem_info(size_t *free_b, size_t *total_b) {
    if (cudaMemGetInfo(free_b, total_b) != cudaSuccess) { cudaGetLastError(); return -1; }
    return 0;
}

void *rlcu_host_alloc(size_t n) {
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, n ? n : 64);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(g_err, sizeof g_err, "cuda: cannot allocate %zu bytes of pinned host memory: %s", n, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}
void rlcu_host_free(void *p) { if (p) { cudaStreamSynchronize(rlcu_stream); cudaFreeHost(p); } }
/* Page-locks memory the caller owns (the MoE RAM tier): uploads from it become DMA. A failure
 * (e.g. a locked-memory limit) is not an error of the backend: the caller keeps it pageable. */
int rlcu_host_register(void *p, size_t n) {
    if (g_failed || !p || !n) return -1;
    if (cudaHostRegister(p, n, cudaHostRegisterDefault) != cudaSuccess) { cudaGetLastError(); return -1; }
    return 0;
}
void rlcu_host_unregister(void *p) {
    if (!p) return;
    cudaStreamSynchronize(rlcu_stream); /* no upload from it may still run */
    if (cudaHostUnregister(p) != cudaSuccess) cudaGetLastError();
}

int rlcu_upload(void *dst, const void *src, size_t n) {
    if (g_failed) return -1;
    if (!n) return 0;
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, rlcu_stream);
    if (e != cudaSuccess) { rlcu_fail("upload", e); return -1; }
    return 0;
}
int rlcu_download(void *dst, const void *src, size_t n) {
    if (g_failed) return -1;
    if (!n) return 0;
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, rlcu_stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(rlcu_stream);
    if (e != cudaSuccess) { rlcu_fail("download", e); return -1; }
    return 0;
}

uint64_t rlcu_fence(void) {
    uint64_t f = ++g_fences;
    cudaError_t e = cudaEventRecord(g_ev[f % N_EVENTS], rlcu_stream);
    if (e != cudaSuccess) rlcu_fail("fence", e);
    return f;
}
int rlcu_wait(uint64_t f) {
    if (g_failed) return -1;
    cudaError_t e;
    if (f + N_EVENTS <= g_fences || f > g_fences) e = cudaStreamSynchronize(rlcu_stream);  // its event was reused
    else e = cudaEventSynchronize(g_ev[f % N_EVENTS]);
    if (e != cudaSuccess) { rlcu_fail("wait", e); return -1; }
    return 0;
}

int rlcu_upload_async(void *dst, const void *src, size_t n, uint64_t *ticket) {
    *ticket = 0;
    if (g_failed) return -1;
    if (!n) return 0;
    uint64_t t = ++g_tickets;
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, g_copy);
    if (e == cudaSuccess) e = cudaEventRecord(g_up[t % N_EVENTS], g_copy);
    if (e != cudaSuccess) { rlcu_fail("upload (copy stream)", e); return -1; }
    *ticket = t;
    return 0;
}
int rlcu_upload_join(uint64_t t) {
    if (g_failed) return -1;
    if (!t || t > g_tickets) return 0;
    // an event slot reused by a later upload: that later one's event orders this copy too
    uint64_t use = t + N_EVENTS <= g_tickets ? g_tickets : t;
    cudaError_t e = cudaStreamWaitEvent(rlcu_stream, g_up[use % N_EVENTS], 0);
    if (e != cudaSuccess) { rlcu_fail("upload join", e); return -1; }
    return 0;
}
