/* CUDA backend stub for builds without `make CUDA=1`: reports the backend as not built in, so
 * every matmul stays on the CPU. */
#include "backend/cuda/cuda.h"
#include <stdio.h>

#ifndef RL_CUDA_BUILD
int rl_cudab_init(char *name, size_t name_n, char *err, size_t err_n) {
    if (name_n) name[0] = 0;
    snprintf(err, err_n, "this build has no CUDA support (rebuild with make CUDA=1)");
    return -1;
}

int rl_cudab_matmul(float *y, const float *x, const void *w, int wtype, size_t wbytes, const float *bias, int T,
                    int in, int out, char *err, size_t err_n) {
    (void)y; (void)x; (void)w; (void)wtype; (void)wbytes; (void)bias; (void)T; (void)in; (void)out;
    snprintf(err, err_n, "no CUDA support");
    return -1;
}
int rl_cudab_register(void *p, size_t n, char *err, size_t err_n) {
    (void)p; (void)n;
    snprintf(err, err_n, "no CUDA support");
    return -1;
}
int rl_cudab_invalidate(const void *p, char *err, size_t err_n) { (void)p; (void)err; (void)err_n; return 0; }
void rl_cudab_unregister(void *p) { (void)p; }
void rl_cudab_note(char *buf, size_t n) { if (n) buf[0] = 0; }
#else
typedef int rl_cuda_stub_unused; /* the real backend is matmul.cu */
#endif
