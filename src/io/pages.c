/* Page commit helper (see pages.h). */
#include "io/pages.h"
#include <stdint.h>
#include <sys/mman.h>

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
