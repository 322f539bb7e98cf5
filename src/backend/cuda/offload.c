/* Policy of the optional CUDA matmul offload (see cuda.h): when to ask the backend, the one-line
 * notes on stderr, and the permanent fallback to the CPU after an error. */
#include "backend/cuda/cuda.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(RL_DT_F32 == 0 && RL_DT_F16 == 1 && RL_DT_BF16 == 2 && RL_DT_Q8_0 == 10 && RL_DT_Q4_1 == 11,
               "matmul.cu mirrors these rl_dtype values");

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int requested = -1;  /* -1: not said, the RL_CUDA env var decides */
static int init_state;      /* 0: not tried, 1: device ready, -1: unavailable or failed */
static char dev_name[256], why_off[512];
static int min_t = 16;
static long long min_elems = 1 << 20;
static unsigned long long n_offloaded, n_seen;

static int env_wants(void) {
    const char *e = getenv("RL_CUDA");
    return e && *e && strcmp(e, "0") != 0;
}

/* Under mu: 1 if the offload is asked for and the device is ready (initializing it once). */
static int active_locked(void) {
    if (requested < 0) __atomic_store_n(&requested, env_wants(), __ATOMIC_RELAXED);
    if (!requested) return 0;
    if (init_state) return init_state > 0;
    const char *e;
    if ((e = getenv("RL_CUDA_MIN_T")) && *e) min_t = atoi(e);
    if ((e = getenv("RL_CUDA_MIN_ELEMS")) && *e) min_elems = atoll(e);
    char err[400] = "";
    if (rl_cudab_init(dev_name, sizeof dev_name, err, sizeof err)) {
        init_state = -1;
        snprintf(why_off, sizeof why_off, "CUDA unavailable: %s", err);
        fprintf(stderr, "rabbitllm: matmul path: cpu (%s)\n", why_off);
    } else {
        init_state = 1;
        fprintf(stderr, "rabbitllm: matmul path: cuda on %s for products with T >= %d and out*in >= %lld, cpu otherwise\n",
                dev_name, min_t, min_elems);
    }
    return init_state > 0;
}

/* Under mu: an error from the backend turns the offload off for good. */
static void fail_locked(const char *err) {
    init_state = -1;
    snprintf(why_off, sizeof why_off, "CUDA error, offload off from here on: %s", err);
    fprintf(stderr, "rabbitllm: matmul path: cpu (%s)\n", why_off);
}

void rl_cuda_request(int on) {
    pthread_mutex_lock(&mu);
    __atomic_store_n(&requested, on != 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&mu);
}

int rl_cuda_active(void) {
    pthread_mutex_lock(&mu);
    int a = active_locked();
    pthread_mutex_unlock(&mu);
    return a;
}

int rl_cuda_matmul(float *y, const float *x, const void *w, rl_dtype wtype, const float *bias, int T, int in,
                   int out, int force) {
    if (T <= 0 || in <= 0 || out <= 0 || !rl_dtype_is_weight(wtype) ||
        (rl_dtype_is_block(wtype) && in % RL_DTYPES[wtype].block))
        return -1;
    /* cheap exit for the common case: offload not asked for (read without the lock: a stale
     * value only delays a request by one call) */
    int r = __atomic_load_n(&requested, __ATOMIC_RELAXED);
    if (r == 0 || (r < 0 && !env_wants())) return -1;
    int rc = -1;
    pthread_mutex_lock(&mu);
    if (active_locked()) {
        n_seen++;
        if (force || (T >= min_t && (long long)out * in >= min_elems)) {
            char err[400] = "";
            size_t wbytes = (size_t)out * rl_dtype_row_bytes(wtype, in);
            if (rl_cudab_matmul(y, x, w, (int)wtype, wbytes, bias, T, in, out, err, sizeof err) == 0) {
                n_offloaded++;
                rc = 0;
            } else {
                fail_locked(err);
            }
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void rl_cuda_register(void *p, size_t n) {
    if (!p || !n) return;
    int r = __atomic_load_n(&requested, __ATOMIC_RELAXED);
    if (r == 0 || (r < 0 && !env_wants())) return;
    pthread_mutex_lock(&mu);
    char err[400] = "";
    /* a failure here (no pinning) only costs speed: the buffer stays unknown to the backend */
    if (active_locked() && rl_cudab_register(p, n, err, sizeof err) && getenv("RL_CUDA_VERBOSE"))
        fprintf(stderr, "rabbitllm: cuda: buffer of %zu bytes not pinned: %s\n", n, err);
    pthread_mutex_unlock(&mu);
}

void rl_cuda_invalidate(const void *p) {
    if (!p) return;
    pthread_mutex_lock(&mu);
    char err[400] = "";
    if (init_state > 0 && rl_cudab_invalidate(p, err, sizeof err)) fail_locked(err);
    pthread_mutex_unlock(&mu);
}

void rl_cuda_unregister(void *p) {
    if (!p) return;
    pthread_mutex_lock(&mu);
    if (init_state != 0) rl_cudab_unregister(p); /* also after an error: the pages stay pinned otherwise */
    pthread_mutex_unlock(&mu);
}

const char *rl_cuda_describe(char *buf, size_t n) {
    char note[256];
    pthread_mutex_lock(&mu);
    rl_cudab_note(note, sizeof note);
    if (requested < 0) __atomic_store_n(&requested, env_wants(), __ATOMIC_RELAXED);
    if (!requested || init_state == 0) snprintf(buf, n, "cpu");
    else if (init_state < 0 && !n_offloaded) snprintf(buf, n, "cpu (%s)", why_off);
    else if (init_state < 0) snprintf(buf, n, "cpu (%s; %llu matmul calls offloaded before)", why_off, n_offloaded);
    else snprintf(buf, n, "cuda (%s), %llu of %llu matmul calls offloaded (T >= %d, out*in >= %lld)%s%s", dev_name,
                  n_offloaded, n_seen, min_t, min_elems, *note ? "; " : "", note);
    pthread_mutex_unlock(&mu);
    return buf;
}
