/* Background stage loader (see loader.h): streamed stages go through two fixed slots (double
 * buffering); resident stages, chosen at start within a memory budget, are read once at open
 * into buffers of their own (huge pages, populated before the read) and stay. Under a memory
 * cap, the page cache of what was read is dropped right after each read. Buffers come from the
 * backend's host memory (io/hostmem.h: huge pages on the CPU, pinned for a GPU) and are
 * invalidated before they are read into. */
#include "io/loader.h"
#include "io/residency.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_LOADING, SLOT_READY, SLOT_IN_USE, SLOT_ERROR };

/* A buffer a stage is read into: one of the two streaming slots, or a resident stage's own. */
typedef struct {
    uint8_t *buf;
    int stage;           /* slots: stage held (-1 = none); resident: its stage */
    int state;           /* SLOT_*; a resident buffer is never freed once READY */
    char err[512];
} slot;

struct rl_loader {
    const rl_checkpoint *ck;
    const rl_host_mem *hm;
    const rl_stage *st;
    int n;
    size_t slot_bytes;
    slot slots[2];
    slot *res;           /* (n) resident buffers; res[s].buf NULL = stage s is streamed */
    size_t res_bytes;
    int n_res;
    int drop;            /* 1: drop the page cache of each stage after reading it */
    int next;            /* next stage to consider for prefetching */
    int running;         /* 0 = paused */
    int quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rl_load_stats *stats;
};

/* Reads all ranges of stage s into buf; returns 0 or -1 with msg filled. */
static int read_stage(rl_loader *L, int s, uint8_t *buf, char *msg, size_t cap) {
    const rl_stage *st = &L->st[s];
    /* queue the whole stage's I/O at once (asynchronous readahead), then copy it in order */
    for (int i = 0; i < st->n_ranges; i++)
        posix_fadvise(rl_ckpt_fd(L->ck, st->ranges[i].file), (off_t)st->ranges[i].off, (off_t)st->ranges[i].len, POSIX_FADV_WILLNEED);
    for (int i = 0; i < st->n_ranges; i++) {
        const rl_read_range *r = &st->ranges[i];
        int fd = rl_ckpt_fd(L->ck, r->file);
        if (rl_pread_full(fd, buf + r->buf_off, r->len, r->off, rl_ckpt_path(L->ck, r->file))) {
            snprintf(msg, cap, "%s", rl_errmsg());
            return -1;
        }
        /* the page cache is charged to the cgroup like the resident set: under a cap, give
         * these pages back now instead of letting them push out what must stay */
        if (L->drop) posix_fadvise(fd, (off_t)r->off, (off_t)r->len, POSIX_FADV_DONTNEED);
    }
    return 0;
}

/* 1 if one of the two slots holds stage s (in any state but free). */
static int in_slot(const rl_loader *L, int s) {
    for (int i = 0; i < 2; i++) if (L->slots[i].state != SLOT_FREE && L->slots[i].stage == s) return 1;
    return 0;
}

/* The next piece of work in sweep order from L->next: a resident stage not read yet, or a
 * streamed stage not in a slot when a slot is free. Returns its buffer (stage in *s), or NULL
 * when there is nothing to do now. Called with the lock held. */
static slot *pick_work(rl_loader *L, int *s) {
    for (int tries = 0; tries < L->n; tries++) {
        int k = L->next;
        if (L->res[k].buf) {
            if (L->res[k].state == SLOT_FREE) { *s = k; return &L->res[k]; }
        } else if (!in_slot(L, k)) {
            for (int i = 0; i < 2; i++)
                if (L->slots[i].state == SLOT_FREE) { *s = k; return &L->slots[i]; }
            return NULL; /* the next streamed stage waits for a slot */
        }
        L->next = (k + 1) % L->n;
    }
    return NULL;
}

static void *loader_main(void *arg) {
    rl_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        slot *sl = NULL;
        int s = -1;
        while (!L->quit && !(L->running && (sl = pick_work(L, &s)))) pthread_cond_wait(&L->cv, &L->mu);
        if (L->quit) break;
        L->next = (s + 1) % L->n;
        sl->stage = s;
        sl->state = SLOT_LOADING;
        pthread_mutex_unlock(&L->mu);
        rl_hm_invalidate(L->hm, sl->buf); /* its device copy (if any) is stale from here on */
        double t0 = rl_now_s();
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

/* Allocates the resident stages' buffers (rl_stages_resident says which). */
static void choose_resident(rl_loader *L, size_t budget) {
    unsigned char *is_res = calloc((size_t)L->n + 1, 1);
    if (!is_res) return; /* stream everything */
    rl_stages_resident(L->st, L->n, budget, is_res, NULL);
    for (int i = 0; i < L->n; i++) {
        if (!is_res[i]) continue;
        uint8_t *b = rl_hm_alloc(L->hm, L->st[i].bytes);
        if (!b) break; /* keep what we have */
        L->res[i] = (slot){b, i, SLOT_FREE, ""};
        L->res_bytes += L->st[i].bytes;
        L->n_res++;
    }
    free(is_res);
}

static void loader_free_bufs(rl_loader *L) {
    for (int i = 0; i < 2; i++) rl_hm_free(L->hm, L->slots[i].buf);
    if (L->res) for (int i = 0; i < L->n; i++) rl_hm_free(L->hm, L->res[i].buf);
    free(L->res);
    free(L->stats);
}

/* Reads every resident stage now, in order (at open, before any compute competes for the
 * CPUs and memory bandwidth). 0, or -1 with rl_err naming the file. */
static int read_resident(rl_loader *L) {
    for (int s = 0; s < L->n; s++) {
        slot *sl = &L->res[s];
        if (!sl->buf) continue;
        double t0 = rl_now_s();
        if (read_stage(L, s, sl->buf, sl->err, sizeof sl->err)) return rl_err("%s", sl->err);
        L->stats[s].read_s += rl_now_s() - t0;
        L->stats[s].bytes += L->st[s].bytes;
        sl->state = SLOT_READY;
    }
    return 0;
}

rl_loader *rl_loader_new(const rl_checkpoint *ck, const rl_stage *stages, int n, size_t budget) {
    rl_loader_opts o = {budget, 0, NULL};
    return rl_loader_new_opts(ck, stages, n, &o);
}

rl_loader *rl_loader_new_opts(const rl_checkpoint *ck, const rl_stage *stages, int n, const rl_loader_opts *o) {
    size_t budget = o->budget;
    rl_loader *L = calloc(1, sizeof *L);
    if (!L) { rl_err("out of memory"); return NULL; }
    L->ck = ck; L->st = stages; L->n = n; L->drop = o->drop_page_cache; L->hm = o->hm;
    L->stats = calloc((size_t)n, sizeof *L->stats);
    L->res = calloc((size_t)n, sizeof *L->res);
    if (!L->stats || !L->res) { loader_free_bufs(L); free(L); rl_err("out of memory"); return NULL; }
    choose_resident(L, budget);
    for (int i = 0; i < n; i++) if (!L->res[i].buf && stages[i].bytes > L->slot_bytes) L->slot_bytes = stages[i].bytes;
    for (int i = 0; i < 2; i++) {
        L->slots[i].stage = -1;
        L->slots[i].buf = rl_hm_alloc(L->hm, L->slot_bytes); /* checked below */
    }
    if (!L->slots[0].buf || !L->slots[1].buf) {
        rl_err("out of memory allocating two layer slots of %zu bytes", L->slot_bytes);
        loader_free_bufs(L); free(L);
        return NULL;
    }
    if (read_resident(L)) { loader_free_bufs(L); free(L); return NULL; }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->running = 1;
    if (pthread_create(&L->th, NULL, loader_main, L)) {
        rl_err("cannot start the loader thread");
        pthread_mutex_destroy(&L->mu); pthread_cond_destroy(&L->cv);
        loader_free_bufs(L); free(L);
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
    loader_free_bufs(L);
    free(L);
}

const uint8_t *rl_loader_acquire(rl_loader *L, int s) {
    double t0 = rl_now_s();
    const uint8_t *out = NULL;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        slot *sl = NULL;
        if (L->res[s].buf) sl = L->res[s].state != SLOT_FREE ? &L->res[s] : NULL;
        else for (int i = 0; i < 2; i++) if (L->slots[i].stage == s && L->slots[i].state != SLOT_FREE) sl = &L->slots[i];
        if (sl) {
            if (sl->state == SLOT_READY) { if (!L->res[s].buf) sl->state = SLOT_IN_USE; out = sl->buf; break; }
            if (sl->state == SLOT_ERROR) {
                rl_err("%s", sl->err);
                sl->state = SLOT_FREE;
                if (!L->res[s].buf) sl->stage = -1;
                break;
            }
            if (sl->state == SLOT_IN_USE) { rl_err("loader: stage %d acquired twice", s); break; }
        } else if (L->res[s].buf) {
            /* a resident stage not read yet: make it the loader's next piece of work */
            L->next = s; L->running = 1; pthread_cond_broadcast(&L->cv);
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
        for (int i = 0; i < L->n; i++) if (L->res[i].buf && L->res[i].state == SLOT_LOADING) busy = 1;
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
size_t rl_loader_resident_bytes(const rl_loader *L, int *n_stages) {
    if (n_stages) *n_stages = L->n_res;
    return L->res_bytes;
}
int rl_loader_is_resident(const rl_loader *L, int s) { return L->res[s].buf != NULL; }
