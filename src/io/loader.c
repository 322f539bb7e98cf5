/* Double-buffered background stage loader (see loader.h). */
#include "io/loader.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SLOT_FREE, SLOT_LOADING, SLOT_READY, SLOT_IN_USE, SLOT_ERROR };

typedef struct {
    uint8_t *buf;
    int stage;
    int state;
    char err[512];
} slot;

struct rl_loader {
    const rl_checkpoint *ck;
    const rl_stage *st;
    int n;
    size_t slot_bytes;
    slot slots[2];
    int next;            /* next stage to prefetch */
    int running;         /* 0 = paused */
    int quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rl_load_stats *stats;
};

/* Asks the kernel to start reading stage s into the page cache (asynchronous readahead), so the
 * disk queue stays busy while the loader copies the stage before it. Costs no process memory. */
static void hint_stage(rl_loader *L, int s) {
    const rl_stage *st = &L->st[s];
    for (int i = 0; i < st->n_ranges; i++)
        posix_fadvise(rl_ckpt_fd(L->ck, st->ranges[i].file), (off_t)st->ranges[i].off, (off_t)st->ranges[i].len, POSIX_FADV_WILLNEED);
}

/* Reads all ranges of stage s into buf; returns 0 or -1 with msg filled. */
static int read_stage(rl_loader *L, int s, uint8_t *buf, char *msg, size_t cap) {
    const rl_stage *st = &L->st[s];
    /* queue the whole stage's I/O at once (asynchronous readahead), then copy it in order */
    for (int i = 0; i < st->n_ranges; i++)
        posix_fadvise(rl_ckpt_fd(L->ck, st->ranges[i].file), (off_t)st->ranges[i].off, (off_t)st->ranges[i].len, POSIX_FADV_WILLNEED);
    for (int i = 0; i < st->n_ranges; i++) {
        const rl_read_range *r = &st->ranges[i];
        if (rl_pread_full(rl_ckpt_fd(L->ck, r->file), buf + r->buf_off, r->len, r->off, rl_ckpt_path(L->ck, r->file))) {
            snprintf(msg, cap, "%s", rl_errmsg());
            return -1;
        }
    }
    return 0;
}

static void *loader_main(void *arg) {
    rl_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        int k = -1;
        while (!L->quit) {
            if (L->running) {
                for (int i = 0; i < 2; i++) if (L->slots[i].state == SLOT_FREE) { k = i; break; }
                /* don't load a stage twice: skip stages already held by the other slot */
                for (int tries = 0; k >= 0 && tries < 2; tries++) {
                    int other = L->slots[1 - k].stage;
                    if (L->slots[1 - k].state == SLOT_FREE || other != L->next) break;
                    L->next = (L->next + 1) % L->n;
                }
                if (k >= 0 && (L->slots[1 - k].state == SLOT_FREE || L->slots[1 - k].stage != L->next)) break;
                k = -1;
            }
            pthread_cond_wait(&L->cv, &L->mu);
        }
        if (L->quit) break;
        int s = L->next;
        L->next = (s + 1) % L->n;
        slot *sl = &L->slots[k];
        sl->stage = s;
        sl->state = SLOT_LOADING;
        pthread_mutex_unlock(&L->mu);
        double t0 = rl_now_s();
        hint_stage(L, (s + 1) % L->n);
        int rc = read_stage(L, s, sl->buf, sl->err, sizeof sl->err);
        double dt = rl_now_s() - t0;
        pthread_mutex_lock(&L->mu);
        L->stats[s].read_s += dt;
        L->stats[s].bytes += L->st[s].bytes;
        sl->state = rc ? SLOT_ERROR : SLOT_READY;
        if (rc) L->running = 0;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

rl_loader *rl_loader_new(const rl_checkpoint *ck, const rl_stage *stages, int n) {
    rl_loader *L = calloc(1, sizeof *L);
    if (!L) { rl_err("out of memory"); return NULL; }
    L->ck = ck; L->st = stages; L->n = n;
    for (int i = 0; i < n; i++) if (stages[i].bytes > L->slot_bytes) L->slot_bytes = stages[i].bytes;
    L->stats = calloc((size_t)n, sizeof *L->stats);
    for (int i = 0; i < 2; i++) {
        L->slots[i].stage = -1;
        if (posix_memalign((void **)&L->slots[i].buf, 4096, L->slot_bytes ? L->slot_bytes : 64)) L->slots[i].buf = NULL;
    }
    if (!L->stats || !L->slots[0].buf || !L->slots[1].buf) {
        rl_err("out of memory allocating two layer slots of %zu bytes", L->slot_bytes);
        free(L->stats); free(L->slots[0].buf); free(L->slots[1].buf); free(L);
        return NULL;
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->running = 1;
    if (pthread_create(&L->th, NULL, loader_main, L)) {
        rl_err("cannot start the loader thread");
        pthread_mutex_destroy(&L->mu); pthread_cond_destroy(&L->cv);
        free(L->stats); free(L->slots[0].buf); free(L->slots[1].buf); free(L);
        return NULL;
    }
    return L;
}

void rl_loader_free(rl_loader *L) {
    if (!L) return;
    pthread_mutex_lock(&L->mu);
    L->quit = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->th, NULL);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    free(L->slots[0].buf); free(L->slots[1].buf);
    free(L->stats);
    free(L);
}

const uint8_t *rl_loader_acquire(rl_loader *L, int s) {
    double t0 = rl_now_s();
    const uint8_t *out = NULL;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        int found = -1;
        for (int i = 0; i < 2; i++) if (L->slots[i].stage == s && L->slots[i].state != SLOT_FREE) found = i;
        if (found >= 0) {
            slot *sl = &L->slots[found];
            if (sl->state == SLOT_READY) { sl->state = SLOT_IN_USE; out = sl->buf; break; }
            if (sl->state == SLOT_ERROR) {
                rl_err("%s", sl->err);
                sl->state = SLOT_FREE; sl->stage = -1;
                break;
            }
            if (sl->state == SLOT_IN_USE) { rl_err("loader: stage %d acquired twice", s); break; }
        } else {
            /* not prefetched: drop ready slots holding other stages and restart from s */
            int busy = 0;
            for (int i = 0; i < 2; i++) {
                if (L->slots[i].state == SLOT_READY || L->slots[i].state == SLOT_ERROR) { L->slots[i].state = SLOT_FREE; L->slots[i].stage = -1; }
                if (L->slots[i].state == SLOT_LOADING) busy = 1;
            }
            if (!busy || !L->running) { L->next = s; L->running = 1; pthread_cond_broadcast(&L->cv); }
        }
        pthread_cond_wait(&L->cv, &L->mu);
    }
    L->stats[s].wait_s += rl_now_s() - t0;
    pthread_mutex_unlock(&L->mu);
    return out;
}

void rl_loader_release(rl_loader *L, int s) {
    pthread_mutex_lock(&L->mu);
    for (int i = 0; i < 2; i++)
        if (L->slots[i].stage == s && L->slots[i].state == SLOT_IN_USE) { L->slots[i].state = SLOT_FREE; L->slots[i].stage = -1; }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

void rl_loader_pause(rl_loader *L) {
    pthread_mutex_lock(&L->mu);
    L->running = 0;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < 2; i++) if (L->slots[i].state == SLOT_LOADING) busy = 1;
        if (!busy) break;
        pthread_cond_wait(&L->cv, &L->mu);
    }
    for (int i = 0; i < 2; i++)
        if (L->slots[i].state != SLOT_IN_USE) { L->slots[i].state = SLOT_FREE; L->slots[i].stage = -1; }
    pthread_mutex_unlock(&L->mu);
}

const rl_load_stats *rl_loader_stats(const rl_loader *L) { return L->stats; }
void rl_loader_reset_stats(rl_loader *L) {
    pthread_mutex_lock(&L->mu);
    memset(L->stats, 0, (size_t)L->n * sizeof *L->stats);
    pthread_mutex_unlock(&L->mu);
}
size_t rl_loader_slot_bytes(const rl_loader *L) { return L->slot_bytes; }
