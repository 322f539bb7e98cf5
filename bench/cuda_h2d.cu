// Host-to-device bandwidth from pinned memory (the streaming limit of the cuda backend): copies
// 1 GiB with cudaMemcpyAsync 5 times and prints the best GB/s. Built and run by
// tests/cuda/device_check.sh on a GPU machine (nvcc bench/cuda_h2d.cu -o BUILD/cuda_h2d).
#include <cuda_runtime.h>
#include <stdio.h>

int main(void) {
    size_t n = (size_t)1 << 30;
    void *h = NULL, *d = NULL;
    cudaStream_t s;
    cudaEvent_t a, b;
    if (cudaMallocHost(&h, n) != cudaSuccess || cudaMalloc(&d, n) != cudaSuccess || cudaStreamCreate(&s) != cudaSuccess) {
        fprintf(stderr, "cuda_h2d: %s\n", cudaGetErrorString(cudaGetLastError()));
        return 1;
    }
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    float best = 1e30f;
    for (int r = 0; r < 5; r++) {
        cudaEventRecord(a, s);
        cudaMemcpyAsync(d, h, n, cudaMemcpyHostToDevice, s);
        cudaEventRecord(b, s);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    printf("h2d pinned: %.2f GB/s (1 GiB, best of 5)\n", n / (best * 1e-3) / 1e9);
    return 0;
}
