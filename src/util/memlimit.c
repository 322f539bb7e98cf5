/* Finds the memory the process may use (see memlimit.h): MemAvailable, then the cgroup's limit
 * minus its working set (usage less inactive page cache), at every level from the process's own
 * cgroup up to the root of the mounted hierarchy; the smallest headroom binds. */
#include "util/memlimit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNLIMITED (UINT64_C(1) << 60) /* limits at or above this mean "none" (v1 writes 2^63-4096) */

/* Reads one unsigned number (or "max" = UINT64_MAX) from a file. 0 / -1. */
static int read_u64(const char *path, uint64_t *v) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[64] = "";
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    if (!strncmp(buf, "max", 3)) { *v = UINT64_MAX; return 0; }
    char *end;
    unsigned long long x = strtoull(buf, &end, 10);
    if (end == buf) return -1;
    *v = x;
    return 0;
}

/* Value of "key N" in a file of such lines (memory.stat, /proc/meminfo with unit), times mul. 0 / -1. */
static int read_key(const char *path, const char *key, uint64_t mul, uint64_t *v) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    size_t k = strlen(key);
    int rc = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && (line[k] == ' ' || line[k] == ':' || line[k] == '\t')) {
            *v = strtoull(line + k + 1 + strspn(line + k + 1, " \t"), NULL, 10) * mul;
            rc = 0;
            break;
        }
    fclose(f);
    return rc;
}

/* 1 if the comma-separated list s (length n) contains word w. */
static int has_word(const char *s, size_t n, const char *w) {
    size_t k = strlen(w);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        if (j - i == k && !strncmp(s + i, w, k)) return 1;
        i = j + 1;
    }
    return 0;
}

/* The process's cgroup path for v1's memory controller (v == 1) or the v2 hierarchy (v == 2). */
static int cgroup_path(const char *root, int v, char *out, size_t cap) {
    char p[600];
    snprintf(p, sizeof p, "%s/proc/self/cgroup", root);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char line[1024];
    int rc = -1;
    while (rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        int match = v == 2 ? (c2 == c1 + 1 && !strncmp(line, "0:", 2)) : has_word(c1 + 1, (size_t)(c2 - c1 - 1), "memory");
        if (match && strlen(c2 + 1) < cap) { strcpy(out, c2 + 1); rc = 0; }
    }
    fclose(f);
    return rc;
}

/* The mount of the v1 memory hierarchy (v == 1) or of cgroup2 (v == 2): its root within the
 * hierarchy and its mount point. 0 / -1. */
static int cgroup_mount(const char *root, int v, char *mroot, char *mpoint, size_t cap) {
    char p[600];
    snprintf(p, sizeof p, "%s/proc/self/mountinfo", root);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char line[2048];
    int rc = -1;
    while (rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        char fs[64] = "", src[256] = "", opts[512] = "", r[512] = "", mp[512] = "";
        if (sscanf(dash + 3, "%63s %255s %511s", fs, src, opts) < 2) continue;
        if (sscanf(line, "%*s %*s %*s %511s %511s", r, mp) != 2) continue;
        int match = v == 2 ? !strcmp(fs, "cgroup2") : (!strcmp(fs, "cgroup") && has_word(opts, strlen(opts), "memory"));
        if (match && strlen(r) < cap && strlen(mp) < cap) { strcpy(mroot, r); strcpy(mpoint, mp); rc = 0; }
    }
    fclose(f);
    return rc;
}

/* Limit, usage and reclaimable cache of one cgroup directory; 0 if it has a finite limit. */
static int level(int v, const char *dir, uint64_t *lim, uint64_t *use, uint64_t *rec, const char **file) {
    char p[1200];
    uint64_t a = UINT64_MAX, b = UINT64_MAX;
    if (v == 2) {
        snprintf(p, sizeof p, "%s/memory.max", dir);
        int ha = read_u64(p, &a);
        snprintf(p, sizeof p, "%s/memory.high", dir);
        int hb = read_u64(p, &b);
        if (ha && hb) return -1;
        *file = b < a ? "memory.high" : "memory.max";
        *lim = b < a ? b : a;
        snprintf(p, sizeof p, "%s/memory.current", dir);
        if (read_u64(p, use)) *use = 0;
        snprintf(p, sizeof p, "%s/memory.stat", dir);
        if (read_key(p, "inactive_file", 1, rec)) *rec = 0;
    } else {
        snprintf(p, sizeof p, "%s/memory.limit_in_bytes", dir);
        if (read_u64(p, &a)) return -1;
        *file = "memory.limit_in_bytes";
        *lim = a;
        snprintf(p, sizeof p, "%s/memory.usage_in_bytes", dir);
        if (read_u64(p, use)) *use = 0;
        snprintf(p, sizeof p, "%s/memory.stat", dir);
        if (read_key(p, "total_inactive_file", 1, rec)) *rec = 0;
    }
    if (*rec > *use) *rec = *use;
    return *lim >= UNLIMITED ? -1 : 0;
}

/* Walks from the process's cgroup up to the mount point of hierarchy v, keeping the level with
 * the smallest headroom in *out. 1 if a finite limit was found. */
static int probe_cgroup(const char *root, int v, rl_memlimit *out) {
    char cg[512], mroot[512], mpoint[512], dir[1100];
    if (cgroup_path(root, v, cg, sizeof cg) || cgroup_mount(root, v, mroot, mpoint, sizeof mpoint)) return 0;
    /* the cgroup path relative to the mount's root; outside it (a cgroup namespace shows "/"
     * or "/.."), the mount point itself is the process's cgroup as far as we can see */
    const char *rel = "";
    size_t k = strlen(mroot);
    if (!strcmp(mroot, "/")) rel = cg;
    else if (!strncmp(cg, mroot, k) && (cg[k] == '/' || !cg[k])) rel = cg + k;
    if (!strncmp(rel, "/..", 3)) rel = "";
    snprintf(dir, sizeof dir, "%s%s%s", root, mpoint, rel);
    size_t top = strlen(root) + strlen(mpoint);
    while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/') dir[strlen(dir) - 1] = 0;
    int found = 0;
    uint64_t best = UINT64_MAX;
    char leaf[1100];
    snprintf(leaf, sizeof leaf, "%s", dir);
    for (;;) {
        uint64_t lim, use, rec;
        const char *file;
        if (!level(v, dir, &lim, &use, &rec, &file)) {
            uint64_t ws = use - rec, room = lim > ws ? lim - ws : 0;
            if (room < best) {
                best = room;
                found = 1;
                out->cg_version = v; out->cg_file = file; out->cg_limit = lim; out->cg_usage = use; out->cg_reclaim = rec;
                snprintf(out->cg_dir, sizeof out->cg_dir, "%s", dir + strlen(root));
            }
        }
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= top || !slash || (size_t)(slash - dir) < top) break;
        *slash = 0;
    }
    /* v1: the kernel's own account of the smallest limit on the whole path, ancestors the
     * mount does not show (a container's view) included */
    uint64_t hl, use = 0, rec = 0;
    char p[1200], q[1200];
    snprintf(p, sizeof p, "%s/memory.stat", leaf);
    snprintf(q, sizeof q, "%s/memory.usage_in_bytes", leaf);
    if (v == 1 && !read_key(p, "hierarchical_memory_limit", 1, &hl) && hl < UNLIMITED && !read_u64(q, &use)) {
        if (read_key(p, "total_inactive_file", 1, &rec) || rec > use) rec = 0;
        uint64_t ws = use - rec, room = hl > ws ? hl - ws : 0;
        if (room < best) {
            found = 1;
            out->cg_version = 1; out->cg_file = "memory.stat hierarchical_memory_limit"; out->cg_limit = hl;
            out->cg_usage = use; out->cg_reclaim = rec;
            snprintf(out->cg_dir, sizeof out->cg_dir, "%s", leaf + strlen(root));
        }
    }
    return found;
}

void rl_memlimit_probe_in(const char *root, rl_memlimit *out) {
    memset(out, 0, sizeof *out);
    out->source = "unknown";
    char p[600];
    snprintf(p, sizeof p, "%s/proc/meminfo", root);
    uint64_t kb = 0;
    if (!read_key(p, "MemAvailable", 1024, &kb)) out->mem_available = kb;
    snprintf(p, sizeof p, "%s/proc/self/status", root);
    if (read_key(p, "VmRSS", 1024, &out->rss)) out->rss = 0;
    if (out->mem_available) { out->avail = out->mem_available; out->source = "MemAvailable"; }
    /* the memory controller lives in one hierarchy: v1 when mounted there, else v2 */
    if (probe_cgroup(root, 1, out) || probe_cgroup(root, 2, out)) {
        uint64_t ws = out->cg_usage - out->cg_reclaim, room = out->cg_limit > ws ? out->cg_limit - ws : 0;
        if (!out->mem_available || room < out->avail) {
            out->avail = room;
            out->source = out->cg_version == 2 ? "cgroup v2" : "cgroup v1";
        }
    }
}

void rl_memlimit_probe(rl_memlimit *out) { rl_memlimit_probe_in("", out); }
