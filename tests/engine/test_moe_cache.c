/* The expert cache's bookkeeping (engine/moe_cache.h): an expert used once stays out, one used
 * again (or by several rows) takes a free slot, hits and misses are counted, the victim is the
 * lowest-scoring expert the current sweep does not use, a newcomer must clearly outscore it,
 * scores decay, and a cache of no slots admits nothing. */
#include "test.h"
#include "engine/moe_cache.h"

static void touch1(rl_xcache *c, int l, const int *used, int n, int rows) {
    int r[16] = {0};
    for (int i = 0; i < n; i++) r[used[i]] = rows;
    rl_xc_touch(c, l, r);
}

static void test_fill_and_hit(void) {
    rl_xcache c;
    CHECK(rl_xc_init(&c, 3, 8, 2) == 0, "init");
    int u[2] = {1, 4};
    touch1(&c, 1, u, 2, 1);
    CHECK(rl_xc_lookup(&c, 1, 1) < 0 && rl_xc_lookup(&c, 1, 4) < 0, "empty cache misses");
    CHECK(rl_xc_admit(&c, 1, 1) < 0, "an expert used once (one row) is not taken in");
    touch1(&c, 1, u, 2, 1); /* used again: 0.95 + 1 */
    CHECK(rl_xc_lookup(&c, 1, 1) < 0 && rl_xc_lookup(&c, 1, 4) < 0, "still missing");
    int s1 = rl_xc_admit(&c, 1, 1), s4 = rl_xc_admit(&c, 1, 4);
    CHECK(s1 >= 0 && s4 >= 0 && s1 != s4, "free slots taken: %d %d", s1, s4);
    CHECK(rl_xc_admit(&c, 1, 1) < 0, "a cached expert is not admitted twice");
    CHECK(rl_xc_lookup(&c, 1, 1) == s1 && rl_xc_lookup(&c, 1, 4) == s4, "hits");
    CHECK(rl_xc_lookup(&c, 0, 1) < 0 && rl_xc_lookup(&c, 2, 4) < 0, "other layers have their own slots");
    CHECK(c.hits == 2 && c.misses == 6 && c.admits == 2, "counters %llu %llu %llu", (unsigned long long)c.hits,
          (unsigned long long)c.misses, (unsigned long long)c.admits);
    CHECK(rl_xc_count(&c, 1) == 2 && rl_xc_count(&c, 0) == 0, "counts");
    rl_xc_free(&c);
}

static void test_eviction(void) {
    rl_xcache c;
    CHECK(rl_xc_init(&c, 1, 8, 2) == 0, "init");
    int a[2] = {0, 1};
    touch1(&c, 0, a, 2, 4); /* experts 0, 1: score 4 */
    rl_xc_admit(&c, 0, 0);
    rl_xc_admit(&c, 0, 1);
    int b[1] = {2};
    touch1(&c, 0, b, 1, 1); /* expert 2 scores 1 < 0.95 * 4: stays out */
    CHECK(rl_xc_admit(&c, 0, 2) < 0, "a weaker newcomer evicts nobody");
    for (int i = 0; i < 6; i++) touch1(&c, 0, b, 1, 3); /* expert 2 grows, 0 and 1 decay */
    int s = rl_xc_admit(&c, 0, 2);
    CHECK(s >= 0, "a clearly stronger newcomer takes a slot");
    CHECK(rl_xc_lookup(&c, 0, 2) == s, "and is found there");
    CHECK((rl_xc_lookup(&c, 0, 0) < 0) + (rl_xc_lookup(&c, 0, 1) < 0) == 1, "exactly one of 0, 1 evicted");
    rl_xc_free(&c);
}

static void test_pinned(void) {
    rl_xcache c;
    CHECK(rl_xc_init(&c, 1, 8, 1) == 0, "init");
    int a[1] = {3};
    touch1(&c, 0, a, 1, 2); /* two rows in one sweep: reuse */
    CHECK(rl_xc_admit(&c, 0, 3) == 0, "two rows of one sweep are enough");
    int both[2] = {3, 5};
    touch1(&c, 0, both, 2, 100); /* 5 outscores 3, but 3 is used by this sweep */
    CHECK(rl_xc_admit(&c, 0, 5) < 0, "an expert the sweep uses is never evicted");
    int five[1] = {5};
    touch1(&c, 0, five, 1, 100);
    CHECK(rl_xc_admit(&c, 0, 5) == 0, "the next sweep may evict it");
    CHECK(rl_xc_lookup(&c, 0, 3) < 0, "3 is gone");
    rl_xc_free(&c);
}

static void test_no_slots(void) {
    rl_xcache c;
    CHECK(rl_xc_init(&c, 2, 4, 0) == 0, "init");
    int a[1] = {2};
    touch1(&c, 0, a, 1, 5);
    CHECK(rl_xc_admit(&c, 0, 2) < 0 && rl_xc_lookup(&c, 0, 2) < 0, "no slots: nothing cached");
    rl_xc_free(&c);
    CHECK(rl_xc_init(&c, 1, 4, 9) == 0 && c.slots == 4, "slots capped at the experts");
    rl_xc_free(&c);
}

int main(void) {
    RUN(test_fill_and_hit);
    RUN(test_eviction);
    RUN(test_pinned);
    RUN(test_no_slots);
    TEST_END();
}
