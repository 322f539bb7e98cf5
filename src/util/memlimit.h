/* What memory this process may really use: MemAvailable from /proc/meminfo and the memory limit
 * of its own cgroup (v1 or v2, the smallest headroom on the path up to the hierarchy's root),
 * found through /proc/self/cgroup and /proc/self/mountinfo. */
#ifndef RL_MEMLIMIT_H
#define RL_MEMLIMIT_H
#include <stdint.h>

typedef struct {
    uint64_t mem_available; /* /proc/meminfo MemAvailable in bytes (0 = unknown) */
    int cg_version;         /* 1 or 2: a memory cgroup with a limit was found; 0 = none */
    char cg_dir[512];       /* the cgroup directory whose limit binds (smallest headroom) */
    const char *cg_file;    /* the limit file read there: "memory.max", "memory.high", "memory.limit_in_bytes" */
    uint64_t cg_limit;      /* that limit in bytes (0 = none found) */
    uint64_t cg_usage;      /* its charged usage (memory.current / memory.usage_in_bytes), page cache included */
    uint64_t cg_reclaim;    /* inactive page cache in it (inactive_file), which the kernel reclaims first */
    uint64_t avail;         /* what the process may still use: min(MemAvailable, limit - (usage - inactive_file)) */
    const char *source;     /* where avail came from: "cgroup v2", "cgroup v1" or "MemAvailable"; "unknown" */
    uint64_t rss;           /* this process's resident bytes now (VmRSS) */
} rl_memlimit;

/* Fills *out for the calling process. Never fails: what cannot be read is left 0 (source
 * "unknown" when neither MemAvailable nor a cgroup limit was found). */
void rl_memlimit_probe(rl_memlimit *out);

/* Same, with every path (/proc/..., and the mount points named in mountinfo) prefixed by root
 * ("" = the real system); for tests over a fake tree. */
void rl_memlimit_probe_in(const char *root, rl_memlimit *out);

#endif
