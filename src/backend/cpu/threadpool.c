/* Thread pool: persistent pthread workers woken per job via a generation counter; they spin
 * briefly before sleeping on a condition variable. Chunks are claimed with an atomic counter. */
#include "backend/cpu/threadpool.h"
#include "util/err.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ITERS 4000 /* ~100-200 us of pause before sleeping */

struct rl_pool {
    int n;                      /* threads incl. the caller */
    pthread_t *th;
    int n_started;
    pthread_mutex_t call_mu;    /* serialises rl_pool_for callers */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    atomic_uint gen;            /* bumped per job */
    atomic_int stop;
    /* current job */
    rl_range_fn fn;
    void *ctx;
    int64_t n_items, chunk;
    atomic_llong next;
    atomic_int pending;         /* workers that have not finished the current job */
};

typedef struct { rl_pool *p; int idx; } worker_arg;

/* Set in workers and in a caller during a job: nested calls on the same pool run inline,
 * keeping the thread index of the thread they run on (so per-thread scratch stays private). */
static _Thread_local rl_pool *tl_pool;
static _Thread_local int tl_idx;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_chunks(rl_pool *p, int idx) {
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        if (b >= p->n_items) break;
        int64_t e = b + p->chunk < p->n_items ? b + p->chunk : p->n_items;
        p->fn(p->ctx, b, e, idx);
    }
}

static void *worker_main(void *arg) {
    rl_pool *p = ((worker_arg *)arg)->p;
    int idx = ((worker_arg *)arg)->idx;
    free(arg);
    tl_pool = p;
    tl_idx = idx;
    unsigned seen = 0;
    for (;;) {
        unsigned g = seen;
        for (int i = 0; i < SPIN_ITERS; i++) {
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen || atomic_load(&p->stop)) break;
            cpu_relax();
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        run_chunks(p, idx);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

rl_pool *rl_pool_new(int n_threads) {
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    rl_pool *p = calloc(1, sizeof *p);
    if (!p) { rl_err("thread pool: out of memory"); return NULL; }
    p->n = n_threads;
    pthread_mutex_init(&p->call_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->pending, 0);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof *p->th);
        if (!p->th) { rl_pool_free(p); rl_err("thread pool: out of memory"); return NULL; }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a) { rl_pool_free(p); rl_err("thread pool: out of memory"); return NULL; }
            a->p = p; a->idx = i;
            if (pthread_create(&p->th[i - 1], NULL, worker_main, a)) {
                free(a);
                rl_pool_free(p);
                rl_err("thread pool: cannot start thread %d of %d", i, n_threads);
                return NULL;
            }
            p->n_started++;
        }
    }
    return p;
}

void rl_pool_free(rl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->call_mu);
    free(p);
}

int rl_pool_size(const rl_pool *p) { return p ? p->n : 1; }

void rl_pool_for(rl_pool *p, int64_t n, int64_t grain, rl_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (p && tl_pool == p) { fn(ctx, 0, n, tl_idx); return; }
    if (!p || p->n <= 1 || n <= grain) { fn(ctx, 0, n, 0); return; }
    int64_t chunk = (n + 4 * (int64_t)p->n - 1) / (4 * (int64_t)p->n);
    if (chunk < grain) chunk = grain;
    pthread_mutex_lock(&p->call_mu);
    tl_pool = p;
    tl_idx = 0;
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n;
    p->chunk = chunk;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    for (int i = 0; i < SPIN_ITERS && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    tl_pool = NULL;
    pthread_mutex_unlock(&p->call_mu);
}
