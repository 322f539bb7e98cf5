/* Committing fresh anonymous memory before it is filled: one madvise(MADV_POPULATE_WRITE) where
 * the kernel has it (much cheaper than a fault per 4 KiB page, above all in VMs whose host backs
 * guest memory on first touch), else a write per page. */
#ifndef RL_IO_PAGES_H
#define RL_IO_PAGES_H
#include <stddef.h>

/* The pages holding bytes [p, p + n) (whole pages around them); their contents are kept. */
void rl_pages_commit(void *p, size_t n);
/* n rounded up to whole pages (4 KiB, the unit rl_pages_commit works in). */
static inline size_t rl_pages_round(size_t n) { return (n + 4095) / 4096 * 4096; }
/* n bytes of anonymous memory, committed on first touch (NULL + rl_err), and its release. */
void *rl_pages_map(size_t n);
void rl_pages_unmap(void *p, size_t n);

#endif
