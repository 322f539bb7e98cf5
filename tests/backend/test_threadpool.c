/* Tests the thread pool: every item visited exactly once, thread_idx range, grain, n=0, NULL
 * pool, nested calls, and many back-to-back jobs. */
#include "test.h"
#include "backend/cpu/threadpool.h"
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    atomic_int *hits;
    int size;
    int64_t grain, n;
    atomic_int bad;
    rl_pool *p;
} job;

static void count_fn(void *ctx, int64_t b, int64_t e, int tid) {
    job *j = ctx;
    if (tid < 0 || tid >= j->size) atomic_store(&j->bad, 1);
    if (b < 0 || e > j->n || b >= e) atomic_store(&j->bad, 2);
    if (e - b < j->grain && e != j->n) atomic_store(&j->bad, 3);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&j->hits[i], 1);
}

static void run_one(rl_pool *p, int64_t n, int64_t grain) {
    job j = {.size = rl_pool_size(p), .grain = grain, .n = n};
    j.hits = calloc((size_t)(n > 0 ? n : 1), sizeof *j.hits);
    atomic_init(&j.bad, 0);
    rl_pool_for(p, n, grain, count_fn, &j);
    CHECK(atomic_load(&j.bad) == 0, "bad callback args (code %d) size=%d n=%lld grain=%lld", atomic_load(&j.bad),
          j.size, (long long)n, (long long)grain);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&j.hits[i]) != 1) { CHECK(0, "item %lld hit %d times", (long long)i, atomic_load(&j.hits[i])); break; }
    free(j.hits);
}

static void test_pool_sizes(void) {
    static const int SIZES[] = {1, 2, 4};
    static const int64_t NS[] = {0, 1, 2, 3, 7, 100, 1000, 100003};
    static const int64_t GRAINS[] = {0, 1, 3, 64};
    for (int s = 0; s < 3; s++) {
        rl_pool *p = rl_pool_new(SIZES[s]);
        CHECK(p && rl_pool_size(p) == SIZES[s], "size %d", SIZES[s]);
        for (int a = 0; a < 8; a++)
            for (int g = 0; g < 4; g++) run_one(p, NS[a], GRAINS[g]);
        rl_pool_free(p);
    }
    run_one(NULL, 1000, 1);
    CHECK(rl_pool_size(NULL) == 1, "NULL size");
    rl_pool *d = rl_pool_new(0);
    CHECK(d && rl_pool_size(d) >= 1, "default size");
    run_one(d, 12345, 1);
    rl_pool_free(d);
    rl_pool_free(NULL);
}

static atomic_llong total;
static void add_fn(void *ctx, int64_t b, int64_t e, int tid) {
    (void)ctx; (void)tid;
    atomic_fetch_add(&total, e - b);
}
static void nested_fn(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    for (int64_t i = b; i < e; i++) rl_pool_for((rl_pool *)ctx, 10, 1, add_fn, NULL);
}

static void test_pool_nested_and_repeat(void) {
    rl_pool *p = rl_pool_new(4);
    atomic_store(&total, 0);
    rl_pool_for(p, 50, 1, nested_fn, p); /* inner calls from workers run inline */
    CHECK(atomic_load(&total) == 500, "nested total %lld", (long long)atomic_load(&total));
    atomic_store(&total, 0);
    for (int r = 0; r < 20000; r++) rl_pool_for(p, 8, 1, add_fn, NULL);
    CHECK(atomic_load(&total) == 160000, "repeat total %lld", (long long)atomic_load(&total));
    rl_pool_free(p);
}

static atomic_int tid_seen;
static void tid_fn(void *ctx, int64_t b, int64_t e, int tid) {
    (void)ctx;
    atomic_fetch_add(&total, e - b);
    atomic_fetch_or(&tid_seen, 1 << tid);
}
/* records the executing thread's index in the caller's own word (no sharing between threads) */
static void own_tid_fn(void *ctx, int64_t b, int64_t e, int tid) {
    (void)b; (void)e;
    *(int *)ctx |= 1 << tid;
}
static void nested_work_fn(void *ctx, int64_t b, int64_t e, int tid) {
    for (int64_t i = b; i < e; i++) {
        int seen = 0;
        rl_pool_for_work((rl_pool *)ctx, 4, 1, 10, own_tid_fn, &seen); /* small: inline, same index */
        if (seen != (1 << tid)) atomic_store(&tid_seen, -1000000);
    }
}

/* Small jobs run on the calling thread as one chunk; nested ones keep the worker's index;
 * big ones still cover every item once. */
static void test_pool_for_work(void) {
    rl_pool *p = rl_pool_new(2);
    atomic_store(&total, 0);
    atomic_store(&tid_seen, 0);
    rl_pool_for_work(p, 1000, 1, RL_POOL_MIN_WORK - 1, tid_fn, NULL);
    CHECK(atomic_load(&total) == 1000 && atomic_load(&tid_seen) == 1, "small job inline on thread 0 (%d)",
          atomic_load(&tid_seen));
    atomic_store(&total, 0);
    for (int r = 0; r < 2000; r++) rl_pool_for_work(p, 64, 1, RL_POOL_MIN_WORK, add_fn, NULL);
    CHECK(atomic_load(&total) == 128000, "big jobs total %lld", (long long)atomic_load(&total));
    atomic_store(&total, 0);
    atomic_store(&tid_seen, 0);
    rl_pool_for(p, 2, 1, nested_work_fn, p);
    CHECK(atomic_load(&tid_seen) >= 0, "nested small job ran on another thread's index");
    rl_pool_free(p);
}

static void slow_fn(void *ctx, int64_t b, int64_t e, int tid) {
    (void)ctx; (void)tid;
    for (int64_t i = b; i < e; i++) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
        atomic_fetch_add(&total, 1);
    }
}

/* Jobs separated by pauses longer than the workers' spin (they go to sleep between jobs). */
static void test_pool_sleep_wake(void) {
    rl_pool *p = rl_pool_new(3);
    atomic_store(&total, 0);
    for (int r = 0; r < 30; r++) {
        rl_pool_for(p, 16, 1, slow_fn, NULL);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    CHECK(atomic_load(&total) == 480, "sleep/wake total %lld", (long long)atomic_load(&total));
    rl_pool_free(p);
}

int main(void) {
    RUN(test_pool_sizes);
    RUN(test_pool_nested_and_repeat);
    RUN(test_pool_for_work);
    RUN(test_pool_sleep_wake);
    TEST_END();
}
