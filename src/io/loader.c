/* Background stage loader (see loader.h): streamed stages go through two fixed slots (double
 * buffering); resident stages, chosen at start within a memory budget, are read once at open
 * into buffers of their own (populated before the read) and stay. Under a memory cap, streamed
 * stages bypass the page cache (O_DIRECT, else dropped right after each read). Buffers come from
 * the backend's host memory (io/hostmem.h: pinned for a GPU) and are invalidated before they are
 * read into. */
#include "io/loader.h"
#include "io/pages.h"
#include "io/residency.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    int drop;            /* 1: keep stages out of the page cache (O_DIRECT, else drop after the read) */
    double open_read_s;  /* read_resident: seconds to commit and read every resident stage at open */
    int populated;       /* read_resident: stages [0, populated) have their buffers committed */
    uint64_t dio_bytes;  /* bytes read with O_DIRECT so far */
    int *dio_fd;         /* (checkpoint files) O_DIRECT descriptors when drop; -1 = not possible */
    unsigned char *skip; /* (n) 1: the stage lives elsewhere (on the device, rl_loader_skip): never read */
    int next;            /* next stage to consider for prefetching */
    int running;         /* 0 = paused */
    int quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rl_load_stats *stats;
};

/* Reads range r of a stage into buf with O_DIRECT: the range widened to RL_DIO_ALIGN on both
 * sides, straight into place (stage.c laid it out for this). 0; 1 when the kernel refuses
 * O_DIRECT here (the caller falls back to a buffered read); -1 with rl_err on a read error. */
static int read_direct(rl_loader *L, const rl_read_range *r, uint8_t *buf) {
    const uint64_t A = RL_DIO_ALIGN;
    uint64_t a0 = r->off / A * A, need = r->off + r->len - a0, n = (need + A - 1) / A * A, got = 0;
    uint8_t *dst = buf + r->buf_off - (r->off - a0);
    if (!r->dio || L->dio_fd[r->file] < 0 || (uintptr_t)dst % A) return 1;
    while (got < need) {
        ssize_t k = pread(L->dio_fd[r->file], dst + got, (size_t)(n - got), (off_t)(a0 + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EINVAL && !got) { L->dio_fd[r->file] = -1; return 1; } /* not supported: buffered from now on */
        if (k < 0) return rl_err("%s: read failed at offset %llu: %s", rl_ckpt_path(L->ck, r->file), (unsigned long long)(a0 + got), strerror(errno));
        if (k == 0) return rl_err("%s: file truncated (needed %llu bytes at offset %llu)", rl_ckpt_path(L->ck, r->file),
                                  (unsigned long long)r->len, (unsigned long long)r->off);
        got += (uint64_t)k;
    }
    __atomic_add_fetch(&L->dio_bytes, r->len, __ATOMIC_RELAXED);
    return 0;
}

/* Reads all ranges of stage s into buf; returns 0 or -1 with msg filled. With direct (under a
 * cap), ranges go through O_DIRECT (no page cache at all) where the kernel allows it; the rest
 * through the page cache, dropped right after when under a cap. */
static int read_stage(rl_loader *L, int s, uint8_t *buf, int direct, char *msg, size_t cap) {
    const rl_stage *st = &L->st[s];
    char done[RL_STAGE_MAX_RANGES] = {0};
    int rest = 0;
    for (int i = 0; i < st->n_ranges; i++) {
        int rc = direct ? read_direct(L, &st->ranges[i], buf) : 1;
        if (rc < 0) { snprintf(msg, cap, "%s", rl_errmsg()); return -1; }
        done[i] = rc == 0;
        rest |= rc;
    }
    if (!rest) return 0;
    /* queue the whole stage's I/O at once (asynchronous readahead), then copy it in order */
    for (int i = 0; i < st->n_ranges; i++)
        if (!done[i]) posix_fadvise(rl_ckpt_fd(L->ck, st->ranges[i].file), (off_t)st->ranges[i].off, (off_t)st->ranges[i].len, POSIX_FADV_WILLNEED);
    for (int i = 0; i < st->n_ranges; i++) {
        const rl_read_range *r = &st->ranges[i];
        int fd = rl_ckpt_fd(L->ck, r->file);
        if (done[i]) continue; /* read with O_DIRECT above */
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

/* Helper thread of read_resident: commits the resident buffers in sweep order, publishing how
 * many stages are done in L->populated. */
static void *populate_main(void *arg) {
    rl_loader *L = arg;
    for (int s = 0; s < L->n; s++) {
        if (L->res[s].buf) rl_pages_commit(L->res[s].buf, L->st[s].bytes);
        __atomic_store_n(&L->populated, s + 1, __ATOMIC_RELEASE);
    }
    return NULL;
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
        if (L->skip[k]) {
        } else if (L->res[k].buf) {
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
        int rc = read_stage(L, s, sl->buf, L->drop, sl->err, sizeof sl->err);
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
    free(L->skip);
    free(L->stats);
    if (L->dio_fd) for (int i = 0; i < rl_ckpt_n_files(L->ck); i++) if (L->dio_fd[i] >= 0) close(L->dio_fd[i]);
    free(L->dio_fd);
}

static rl_loader_progress_fn progress_fn;
static void *progress_ud;
void rl_loader_set_progress(rl_loader_progress_fn fn, void *ud) { progress_fn = fn; progress_ud = ud; }

/* Reads every resident stage now, in order (at open, before any compute competes for the
 * CPUs and memory bandwidth). 0, or -1 with rl_err naming the file. */
static int read_resident(rl_loader *L) {
    if (!L->n_res) return 0;
    /* Committing fresh memory costs about as much as reading it from disk (page faults, and
     * in a VM the host backing each page): a helper thread commits buffer i+1 while buffer i
     * is read, so the two overlap and the read runs at streaming speed. */
    double t_open = rl_now_s();
    pthread_t th;
    int helper = pthread_create(&th, NULL, populate_main, L) == 0;
    if (!helper) populate_main(L);
    int rc = 0;
    uint64_t total = 0, done = 0;
    for (int s = 0; s < L->n; s++) if (L->res[s].buf) total += L->st[s].bytes;
    if (progress_fn) progress_fn(progress_ud, 0, total);
    for (int s = 0; s < L->n && !rc; s++) {
        slot *sl = &L->res[s];
        if (!sl->buf) continue;
        while (__atomic_load_n(&L->populated, __ATOMIC_ACQUIRE) <= s) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        double t0 = rl_now_s();
        if (read_stage(L, s, sl->buf, L->drop, sl->err, sizeof sl->err)) { rc = rl_err_c(RL_EC_IO, "%s", sl->err); break; }
        L->stats[s].read_s += rl_now_s() - t0;
        L->stats[s].bytes += L->st[s].bytes;
        sl->state = SLOT_READY;
        done += L->st[s].bytes;
        if (progress_fn) progress_fn(progress_ud, done, total);
    }
    if (helper) pthread_join(th, NULL);
    L->open_read_s = rl_now_s() - t_open;
    return rc;
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
    L->skip = calloc((size_t)n + 1, 1);
    L->dio_fd = malloc((size_t)rl_ckpt_n_files(ck) * sizeof *L->dio_fd);
    if (!L->stats || !L->res || !L->skip || !L->dio_fd) { free(L->dio_fd); L->dio_fd = NULL; loader_free_bufs(L); free(L); rl_err("out of memory"); return NULL; }
    for (int i = 0; i < rl_ckpt_n_files(ck); i++) /* -1 where O_DIRECT is refused (tmpfs): buffered + dropped */
        L->dio_fd[i] = L->drop && !getenv("RL_NO_DIRECT") ? open(rl_ckpt_path(ck, i), O_RDONLY | O_DIRECT | O_CLOEXEC) : -1;
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
        if (L->skip[s]) { rl_err("loader: stage %d is kept on the device, not read", s); break; }
        if (L->res[s].buf) sl = L->res[s].state != SLOT_FREE ? &L->res[s] : NULL;
        else for (int i = 0; i < 2; i++) if (L->slots[i].stage == s && L->slots[i].state != SLOT_FREE) sl = &L->slots[i];
        if (sl) {
            if (sl->state == SLOT_READY) { if (!L->res[s].buf) sl->state = SLOT_IN_USE; out = sl->buf; break; }
            if (sl->state == SLOT_ERROR) {
                rl_err_c(RL_EC_IO, "%s", sl->err);   /* a read failure of the prefetch thread */
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

void rl_loader_skip(rl_loader *L, int s) {
    if (s < 0 || s >= L->n) return;
    pthread_mutex_lock(&L->mu);
    L->skip[s] = 1;
    for (int i = 0; i < 2; i++) /* a prefetched copy is not needed any more */
        if (L->slots[i].stage == s && (L->slots[i].state == SLOT_READY || L->slots[i].state == SLOT_ERROR)) {
            L->slots[i].state = SLOT_FREE;
            L->slots[i].stage = -1;
        }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
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
uint64_t rl_loader_direct_bytes(const rl_loader *L) { return __atomic_load_n(&L->dio_bytes, __ATOMIC_RELAXED); }
int rl_loader_drops_page_cache(const rl_loader *L) { return L->drop; }
double rl_loader_open_read_s(const rl_loader *L) { return L->open_read_s; }
