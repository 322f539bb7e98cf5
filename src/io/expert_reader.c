/* Double-buffered background reader of expert byte ranges (see expert_reader.h); its two
 * buffers come from the backend's host memory (io/hostmem.h). */
#include "io/expert_reader.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rl_expert_reader {
    const rl_checkpoint *ck;
    const rl_host_mem *hm;
    uint8_t *buf[2];
    size_t buf_bytes;
    const rl_xr_batch *batches;
    int n;                 /* batches of the current job */
    int next_read;         /* next batch the thread reads */
    int done_upto;         /* batches [0, done_upto) read (or failed) */
    int released;          /* batches [0, released) given back */
    int failed;            /* batch index that failed, -1 none */
    char err[512];
    int quit;
    double read_s;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int read_batch(rl_expert_reader *x, const rl_xr_batch *b, uint8_t *buf, char *msg, size_t cap) {
    for (int i = 0; i < b->n_ranges; i++) {
        const rl_xr_range *r = &b->ranges[i];
        if (rl_pread_full(rl_ckpt_fd(x->ck, r->file), buf + r->buf_off, r->len, r->off, rl_ckpt_path(x->ck, r->file))) {
            snprintf(msg, cap, "experts: %s", rl_errmsg());
            return -1;
        }
    }
    return 0;
}

static void *xr_main(void *arg) {
    rl_expert_reader *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        /* a batch may be read when its buffer is free: batch i uses buffer i % 2, freed by release of i - 2 */
        while (!x->quit && !(x->next_read < x->n && x->failed < 0 && x->next_read - x->released < 2))
            pthread_cond_wait(&x->cv, &x->mu);
        if (x->quit) break;
        int i = x->next_read++;
        const rl_xr_batch *b = &x->batches[i];
        uint8_t *buf = x->buf[i % 2];
        char msg[512];
        pthread_mutex_unlock(&x->mu);
        rl_hm_invalidate(x->hm, buf);
        double t0 = rl_now_s();
        int rc = read_batch(x, b, buf, msg, sizeof msg);
        double dt = rl_now_s() - t0;
        pthread_mutex_lock(&x->mu);
        x->read_s += dt;
        if (rc) { x->failed = i; snprintf(x->err, sizeof x->err, "%s", msg); x->done_upto = x->n; }
        else x->done_upto = i + 1;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

rl_expert_reader *rl_xr_new(const rl_checkpoint *ck, size_t buf_bytes, const rl_host_mem *hm) {
    rl_expert_reader *x = calloc(1, sizeof *x);
    if (!x) { rl_err("out of memory"); return NULL; }
    x->ck = ck;
    x->hm = hm;
    x->buf_bytes = buf_bytes;
    x->failed = -1;
    for (int i = 0; i < 2; i++) x->buf[i] = rl_hm_alloc(hm, buf_bytes);
    if (!x->buf[0] || !x->buf[1]) {
        rl_err("out of memory allocating two expert buffers of %zu bytes", buf_bytes);
        rl_hm_free(hm, x->buf[0]); rl_hm_free(hm, x->buf[1]); free(x);
        return NULL;
    }
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    if (pthread_create(&x->th, NULL, xr_main, x)) {
        rl_err("cannot start the expert reader thread");
        pthread_mutex_destroy(&x->mu); pthread_cond_destroy(&x->cv);
        for (int i = 0; i < 2; i++) rl_hm_free(hm, x->buf[i]);
        free(x);
        return NULL;
    }
    return x;
}

void rl_xr_free(rl_expert_reader *x) {
    if (!x) return;
    pthread_mutex_lock(&x->mu);
    x->quit = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->th, NULL);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    for (int i = 0; i < 2; i++) rl_hm_free(x->hm, x->buf[i]);
    free(x);
}

void rl_xr_start(rl_expert_reader *x, const rl_xr_batch *batches, int n) {
    pthread_mutex_lock(&x->mu);
    x->batches = batches;
    x->n = n;
    x->next_read = x->done_upto = x->released = 0;
    x->failed = -1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

const uint8_t *rl_xr_wait(rl_expert_reader *x, int i, double *wait_s) {
    double t0 = rl_now_s();
    const uint8_t *out = NULL;
    pthread_mutex_lock(&x->mu);
    while (x->done_upto <= i) pthread_cond_wait(&x->cv, &x->mu);
    if (x->failed >= 0 && x->failed <= i) rl_err("%s", x->err);
    else out = x->buf[i % 2];
    pthread_mutex_unlock(&x->mu);
    if (wait_s) *wait_s += rl_now_s() - t0;
    return out;
}

void rl_xr_release(rl_expert_reader *x, int i) {
    pthread_mutex_lock(&x->mu);
    if (i + 1 > x->released) x->released = i + 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

void rl_xr_finish(rl_expert_reader *x) {
    pthread_mutex_lock(&x->mu);
    /* stop reading further batches, wait for one in flight */
    x->n = x->next_read;
    while (x->done_upto < x->next_read && x->failed < 0) pthread_cond_wait(&x->cv, &x->mu);
    x->n = 0;
    x->next_read = x->done_upto = x->released = 0;
    pthread_mutex_unlock(&x->mu);
}

double rl_xr_read_seconds(const rl_expert_reader *x) { return x->read_s; }
