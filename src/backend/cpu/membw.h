/* Memory read bandwidth microbenchmark (the limit decode speed is measured against). */
#ifndef RL_MEMBW_H
#define RL_MEMBW_H
#include "backend/cpu/threadpool.h"
#include <stddef.h>

/* Best read bandwidth in bytes/s over repeated passes of about `secs` seconds in total over a
 * buffer of `bytes` bytes (at least 4 MiB, so >= several times the last-level cache measures
 * DRAM), read by all threads of p (NULL: one). Returns 0 and sets rl_errmsg() if the buffer
 * cannot be allocated. */
double rl_membw_read(rl_pool *p, size_t bytes, double secs);

#endif
