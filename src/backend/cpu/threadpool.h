/* Persistent worker thread pool with a blocking parallel-for over an index range. */
#ifndef RL_THREADPOOL_H
#define RL_THREADPOOL_H
#include <stdint.h>

typedef struct rl_pool rl_pool;

/* Creates a pool of n_threads threads in total, counting the calling thread (so n_threads-1
 * workers are started). n_threads <= 0: the number of online CPUs. Returns NULL on failure
 * (message in rl_errmsg()). The caller owns the pool and frees it with rl_pool_free. */
rl_pool *rl_pool_new(int n_threads);

/* Stops and joins the workers and frees the pool. NULL is ignored. */
void rl_pool_free(rl_pool *p);

/* Number of threads that may run work, counting the caller; 1 for NULL. */
int rl_pool_size(const rl_pool *p);

/* Work callback: processes items [begin, end); thread_idx in [0, rl_pool_size(p)) names the
 * executing thread (the caller is 0), usable to index per-thread scratch. */
typedef void (*rl_range_fn)(void *ctx, int64_t begin, int64_t end, int thread_idx);

/* Runs fn over [0, n) split into chunks of at least `grain` items (grain <= 0 means 1), handed
 * out dynamically to the workers and the caller; returns when every chunk is done. No memory is
 * allocated per call. p == NULL or n <= grain runs inline as one chunk with thread_idx 0; a nested
 * call from inside fn on the same pool runs inline with the current thread's index. Concurrent calls on one pool from different threads
 * are serialised. n <= 0 does nothing. */
void rl_pool_for(rl_pool *p, int64_t n, int64_t grain, rl_range_fn fn, void *ctx);

/* Below this much work (about multiply-adds, or bytes touched) a job runs on the calling
 * thread: waking a worker costs more than it saves. */
#define RL_POOL_MIN_WORK (64 * 1024)

/* rl_pool_for for a job of about `work` units in total (multiply-adds or bytes touched):
 * below RL_POOL_MIN_WORK it runs inline on the calling thread as one chunk (thread_idx 0, or the
 * current thread's index when called from inside a job of the same pool). */
void rl_pool_for_work(rl_pool *p, int64_t n, int64_t grain, int64_t work, rl_range_fn fn, void *ctx);

#endif
