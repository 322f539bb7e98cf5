/* Thread pool: persistent pthread workers woken per job via a generation counter; they spin
 * briefly before sleeping on a condition variable. Chunks are claimed with an atomic counter.
 * A worker joins a job only while it is open (one 64-bit word: generation, closed flag, count
 * of joined workers), so the caller never waits for a worker that is asleep or descheduled:
 * once the caller has run out of chunks it closes the job and waits only for workers that
 * joined and are still running their chunk. */
#include "backend/cpu/threadpool.h"
#include "util/err.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 200000 /* a worker spins this long (ns) after a job before sleeping */
#define ST_CLOSED ((uint64_t)1 << 31)
#define ST_COUNT ((uint64_t)ST_CLOSED - 1)
#define ST_GEN(s) ((s) >> 32)

struct rl_pool {
    int n;                      /* threads incl. the caller */
    pthread_t *th;
    int n_started;
    pthread_mutex_t call_mu;    /* serialises rl_pool_for callers */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    atomic_int sleepers;        /* workers blocked (or about to block) on cv_work */
    atomic_int stop;
    /* current job */
    rl_range_fn fn;
    void *ctx;
    int64_t n_items, chunk;
    _Alignas(64) atomic_llong next;
    _Alignas(64) _Atomic uint64_t state; /* gen << 32 | closed flag | joined workers */
    atomic_int waiting;         /* the caller sleeps on cv_done */
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

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void run_chunks(rl_pool *p, int idx) {
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        if (b >= p->n_items) break;
        int64_t e = b + p->chunk < p->n_items ? b + p->chunk : p->n_items;
        p->fn(p->ctx, b, e, idx);
    }
}

/* Joins the open job of generation gen: 1 on success, 0 if it is closed or gone. */
static int try_join(rl_pool *p, uint64_t gen) {
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    while (ST_GEN(s) == gen && !(s & ST_CLOSED))
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    return 0;
}

static void *worker_main(void *arg) {
    rl_pool *p = ((worker_arg *)arg)->p;
    int idx = ((worker_arg *)arg)->idx;
    free(arg);
    tl_pool = p;
    tl_idx = idx;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = seen;
        int64_t t_end = 0;
        for (int i = 0;; i++) {
            g = ST_GEN(atomic_load_explicit(&p->state, memory_order_acquire));
            if (g != seen || atomic_load_explicit(&p->stop, memory_order_relaxed)) break;
            cpu_relax();
            if ((i & 255) == 255) {
                int64_t t = now_ns();
                if (!t_end) t_end = t + SPIN_NS;
                else if (t >= t_end) break;
            }
        }
        if (g == seen && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = ST_GEN(atomic_load(&p->state))) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv_work, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        if (!try_join(p, g)) continue;
        run_chunks(p, idx);
        uint64_t s = atomic_fetch_sub(&p->state, 1); /* seq_cst: ordered before the waiting check */
        if ((s & ST_CLOSED) && (s & ST_COUNT) == 1 && atomic_load(&p->waiting)) {
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
    atomic_init(&p->state, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->waiting, 0);
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
    /* publish the job: a new generation, open, nobody joined (the previous one has drained) */
    uint64_t gen = ST_GEN(atomic_load_explicit(&p->state, memory_order_relaxed)) + 1;
    atomic_store(&p->state, gen << 32); /* seq_cst: ordered before the sleepers check */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunks(p, 0);
    uint64_t s = atomic_fetch_or_explicit(&p->state, ST_CLOSED, memory_order_acq_rel) | ST_CLOSED;
    for (int i = 0; i < 20000 && (s & ST_COUNT); i++) {
        cpu_relax();
        s = atomic_load_explicit(&p->state, memory_order_acquire);
    }
    if (s & ST_COUNT) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->state) & ST_COUNT) pthread_cond_wait(&p->cv_done, &p->mu);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
    tl_pool = NULL;
    pthread_mutex_unlock(&p->call_mu);
}

void rl_pool_for_work(rl_pool *p, int64_t n, int64_t grain, int64_t work, rl_range_fn fn, void *ctx) {
    if (n > 0 && work < RL_POOL_MIN_WORK) { fn(ctx, 0, n, p && tl_pool == p ? tl_idx : 0); return; }
    rl_pool_for(p, n, grain, fn, ctx);
}
