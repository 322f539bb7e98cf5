/* Monotonic wall-clock time in seconds, for profiles and benchmarks. */
#ifndef RL_TIMER_H
#define RL_TIMER_H
#include <time.h>

static inline double rl_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
