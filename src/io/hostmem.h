/* Host memory for layer images and expert batches, as the compute backend wants it (pinned for
 * a GPU): the loader and the expert reader allocate their buffers through these callbacks and
 * say when a buffer's contents are about to change (a backend may keep a device copy). */
#ifndef RL_HOSTMEM_H
#define RL_HOSTMEM_H
#include <stddef.h>
#include <stdlib.h>

typedef struct {
    void *(*alloc)(void *ctx, size_t n);          /* 4096-aligned; NULL on failure */
    void (*free)(void *ctx, void *p);
    void (*invalidate)(void *ctx, const void *p); /* contents of p are about to change */
    void *ctx;
} rl_host_mem;

/* NULL hm: plain aligned host memory. */
static inline void *rl_hm_alloc(const rl_host_mem *hm, size_t n) {
    if (hm) return hm->alloc(hm->ctx, n ? n : 64);
    void *p = NULL;
    return posix_memalign(&p, 4096, n ? n : 64) ? NULL : p;
}
static inline void rl_hm_free(const rl_host_mem *hm, void *p) {
    if (!p) return;
    if (hm) hm->free(hm->ctx, p);
    else free(p);
}
static inline void rl_hm_invalidate(const rl_host_mem *hm, const void *p) {
    if (hm && hm->invalidate) hm->invalidate(hm->ctx, p);
}

#endif
