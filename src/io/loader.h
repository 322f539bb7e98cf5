/* The layer loader: a background thread that reads the next stage of the sweep into a free
 * slot (one of two fixed, aligned buffers sized to the largest streamed stage) while the current
 * stage computes. Stages are read in cyclic order, so after the last stage of a sweep it already
 * prefetches the first of the next. Within a memory budget, some stages (spread evenly over
 * the sweep) are resident instead: read once at open into buffers of their own and kept. */
#ifndef RL_LOADER_H
#define RL_LOADER_H
#include "io/hostmem.h"
#include "io/stage.h"

typedef struct rl_loader rl_loader;

typedef struct {
    uint64_t bytes;     /* bytes read */
    double read_s;      /* time the loader spent in pread */
    double wait_s;      /* time the consumer waited for a stage */
} rl_load_stats;

typedef struct {
    size_t budget;        /* bytes of stages to keep resident (0 = stream everything) */
    int drop_page_cache;  /* 1: drop each stage's pages from the page cache right after reading
                             it (under a memory cap, where the page cache is charged too) */
    const rl_host_mem *hm; /* where the slots and resident buffers come from (NULL: plain host
                             memory); must outlive the loader */
} rl_loader_opts;

/* Starts the loader over stages[0..n) (not copied: must outlive it). Keeps stages resident up
 * to o->budget bytes, reading them all now (a read error fails here), and allocates the two
 * slots. NULL + rl_err. */
rl_loader *rl_loader_new_opts(const rl_checkpoint *ck, const rl_stage *stages, int n, const rl_loader_opts *o);
/* Same with {budget, keep the page cache, plain host memory}. */
rl_loader *rl_loader_new(const rl_checkpoint *ck, const rl_stage *stages, int n, size_t budget);
/* Stops the thread and frees the slots. */
void rl_loader_free(rl_loader *L);
/* Waits until stage s is loaded and returns its buffer (valid until rl_loader_release(L, s);
 * a resident stage's buffer stays valid).
 * If s is not the stage being prefetched, the loader restarts from s. NULL + rl_err on a read
 * error (naming the file). */
const uint8_t *rl_loader_acquire(rl_loader *L, int s);
/* Gives stage s's slot back for prefetching. */
void rl_loader_release(rl_loader *L, int s);
/* Stage s is never read again (its weights stay on the device, --gpu-mem): prefetching passes
 * it over and a slot holding it is freed; acquiring it afterwards is an error. */
void rl_loader_skip(rl_loader *L, int s);
/* Per-stage statistics since the last reset (array of n). */
const rl_load_stats *rl_loader_stats(const rl_loader *L);
void rl_loader_reset_stats(rl_loader *L);
/* Bytes of each slot. */
size_t rl_loader_slot_bytes(const rl_loader *L);
/* Bytes kept resident, and (optional) how many stages. */
size_t rl_loader_resident_bytes(const rl_loader *L, int *n_stages);
/* Bytes read with O_DIRECT since the start (0 unless the page cache is dropped and the file
 * system takes O_DIRECT; RL_NO_DIRECT=1 in the environment turns it off, for comparisons). */
uint64_t rl_loader_direct_bytes(const rl_loader *L);
/* 1 if stages are kept out of the page cache (rl_loader_opts.drop_page_cache). */
int rl_loader_drops_page_cache(const rl_loader *L);
/* 1 if stage s is resident. */
int rl_loader_is_resident(const rl_loader *L, int s);
/* Bytes read with O_DIRECT since the start (0 unless the page cache is dropped and the file
 * system takes O_DIRECT; RL_NO_DIRECT=1 in the environment turns it off, for comparisons). */
uint64_t rl_loader_direct_bytes(const rl_loader *L);
/* Progress of the resident read at open (the CLI's progress line): fn(ud, done, total) with
 * bytes, done = 0 first and done = total last (or not, on a read error). Process-wide, like
 * rl_qcache_set_progress; set it from one thread before opening models (NULL: off). */
typedef void (*rl_loader_progress_fn)(void *ud, uint64_t done, uint64_t total);
void rl_loader_set_progress(rl_loader_progress_fn fn, void *ud);
/* Seconds rl_loader_new spent committing and reading the resident stages (0 if none). */
double rl_loader_open_read_s(const rl_loader *L);
/* 1 if stages are kept out of the page cache (rl_loader_opts.drop_page_cache). */
int rl_loader_drops_page_cache(const rl_loader *L);
/* Pauses prefetching (e.g. before the page cache is dropped for a cold measurement): waits
 * for a read in flight, empties both slots. The next acquire restarts the loader. */
void rl_loader_pause(rl_loader *L);

#endif
