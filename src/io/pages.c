/* Page commit helper (see pages.h). */
#include "io/pages.h"
#include "util/err.h"
#include <stdint.h>
#include <sys/mman.h>

void *rl_pages_map(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { rl_err("cannot map %zu bytes of memory", n); return NULL; }
    return p;
}

void rl_pages_unmap(void *p, size_t n) { if (p) munmap(p, n ? n : 1); }

void rl_pages_commit(void *p, size_t n) {
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095, e = ((uintptr_t)p + n + 4095) & ~(uintptr_t)4095;
#ifdef MADV_POPULATE_WRITE
    if (!madvise((void *)a, e - a, MADV_POPULATE_WRITE)) return;
#endif
    for (uintptr_t q = a; q < e; q += 4096) { /* rewrites one byte per page: contents kept */
        volatile uint8_t *b = (volatile uint8_t *)q;
        *b = *b;
    }
}
