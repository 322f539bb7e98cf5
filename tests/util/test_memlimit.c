/* The memory limit probe over fake /proc and cgroup trees (v1 with a binding ancestor, v2
 * inside a cgroup namespace, a container's own mount, no cgroup), and the budget decision. */
#include "test.h"
#include "io/budget.h"
#include "util/err.h"
#include "util/memlimit.h"
#include <sys/stat.h>

static char root[64];

/* Writes root/rel (creating its directories). */
static void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) { *s = 0; mkdir(p, 0755); *s = '/'; }
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "create %s", p);
    if (f) { fputs(text, f); fclose(f); }
}

static void fresh(void) {
    char cmd[128];
    if (root[0]) { snprintf(cmd, sizeof cmd, "rm -rf '%s'", root); CHECK(system(cmd) == 0, "rm"); }
    snprintf(root, sizeof root, "/tmp/rl_memlimit_XXXXXX");
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    put("proc/meminfo", "MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:    8000000 kB\n");
    put("proc/self/status", "Name:\tx\nVmRSS:\t    2048 kB\n");
}

static void test_v1_ancestor_binds(void) {
    fresh();
    put("proc/self/cgroup", "5:cpu:/\n4:memory:/a/b\n0::/\n");
    put("proc/self/mountinfo", "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                               "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                               "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
    put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put("sys/fs/cgroup/memory/memory.usage_in_bytes", "5000000000\n");
    put("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "1000000000\n");
    put("sys/fs/cgroup/memory/a/memory.usage_in_bytes", "300000000\n");
    put("sys/fs/cgroup/memory/a/memory.stat", "cache 150000000\ninactive_file 1\ntotal_inactive_file 100000000\n");
    put("sys/fs/cgroup/memory/a/b/memory.limit_in_bytes", "9223372036854771712\n");
    put("sys/fs/cgroup/memory/a/b/memory.usage_in_bytes", "200000000\n");
    rl_memlimit m;
    rl_memlimit_probe_in(root, &m);
    CHECK(m.mem_available == 8000000ull * 1024, "MemAvailable %llu", (unsigned long long)m.mem_available);
    CHECK(m.rss == 2048ull * 1024, "rss %llu", (unsigned long long)m.rss);
    CHECK(m.cg_version == 1 && m.cg_limit == 1000000000ull, "v%d limit %llu", m.cg_version, (unsigned long long)m.cg_limit);
    CHECK(!strcmp(m.cg_dir, "/sys/fs/cgroup/memory/a"), "dir %s", m.cg_dir);
    CHECK(m.avail == 800000000ull, "avail %llu (limit - usage + inactive file)", (unsigned long long)m.avail);
    CHECK(!strcmp(m.source, "cgroup v1") && !strcmp(m.cg_file, "memory.limit_in_bytes"), "%s %s", m.source, m.cg_file);
}

static void test_v2_namespace(void) {
    fresh();
    put("proc/self/cgroup", "0::/\n");
    put("proc/self/mountinfo", "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    put("sys/fs/cgroup/memory.max", "max\n");
    put("sys/fs/cgroup/memory.high", "500000000\n");
    put("sys/fs/cgroup/memory.current", "100000000\n");
    put("sys/fs/cgroup/memory.stat", "anon 60000000\nfile 40000000\ninactive_file 30000000\n");
    rl_memlimit m;
    rl_memlimit_probe_in(root, &m);
    CHECK(m.cg_version == 2 && m.cg_limit == 500000000ull && !strcmp(m.cg_file, "memory.high"), "v%d %llu %s", m.cg_version,
          (unsigned long long)m.cg_limit, m.cg_file ? m.cg_file : "-");
    CHECK(m.avail == 430000000ull, "avail %llu", (unsigned long long)m.avail);
    CHECK(!strcmp(m.cg_dir, "/sys/fs/cgroup"), "dir %s", m.cg_dir);
}

static void test_v2_container_mount(void) {
    fresh();
    put("proc/self/cgroup", "0::/docker/abc/inner\n");
    put("proc/self/mountinfo", "30 22 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    put("sys/fs/cgroup/memory.max", "2000000000\n");
    put("sys/fs/cgroup/memory.current", "1000000000\n");
    put("sys/fs/cgroup/inner/memory.max", "max\n");
    put("sys/fs/cgroup/inner/memory.current", "10\n");
    rl_memlimit m;
    rl_memlimit_probe_in(root, &m);
    CHECK(m.cg_version == 2 && m.avail == 1000000000ull && !strcmp(m.cg_dir, "/sys/fs/cgroup"), "v%d avail %llu dir %s",
          m.cg_version, (unsigned long long)m.avail, m.cg_dir);
}

static void test_v1_hidden_ancestor(void) {
    fresh();
    put("proc/self/cgroup", "4:memory:/docker/x\n");
    put("proc/self/mountinfo", "35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    put("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    put("sys/fs/cgroup/memory/memory.usage_in_bytes", "100000000\n");
    put("sys/fs/cgroup/memory/memory.stat", "hierarchical_memory_limit 600000000\ntotal_inactive_file 0\n");
    rl_memlimit m;
    rl_memlimit_probe_in(root, &m);
    CHECK(m.cg_version == 1 && m.cg_limit == 600000000ull && m.avail == 500000000ull, "v%d limit %llu avail %llu",
          m.cg_version, (unsigned long long)m.cg_limit, (unsigned long long)m.avail);
}

static void test_no_cgroup(void) {
    fresh();
    put("proc/self/cgroup", "0::/user.slice\n");
    put("proc/self/mountinfo", "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    rl_memlimit m;
    rl_memlimit_probe_in(root, &m);
    CHECK(m.cg_version == 0 && m.avail == 8000000ull * 1024 && !strcmp(m.source, "MemAvailable"), "v%d %llu %s", m.cg_version,
          (unsigned long long)m.avail, m.source);
}

static void test_budget(void) {
    rl_memlimit lim = {.mem_available = 4000000000ull, .avail = 2000000000ull, .source = "cgroup v1", .cg_version = 1};
    rl_budget b;
    rl_budget_in in = {.request = RL_BUDGET_AUTO, .weights = 1000000000, .largest = 50000000, .kv = 100000000, .act = 10000000};
    CHECK(rl_budget_decide(&in, &lim, &b) == 0 && b.all_resident && b.resident == in.weights && b.cache_streamed, "all fit");
    in.weights = 6000000000ull;
    CHECK(rl_budget_decide(&in, &lim, &b) == 0 && !b.all_resident && !b.cache_streamed, "partial");
    CHECK(b.resident + b.need + b.margin == lim.avail, "resident %llu need %llu margin %llu",
          (unsigned long long)b.resident, (unsigned long long)b.need, (unsigned long long)b.margin);
    CHECK(b.need == in.kv + in.act + 3 * in.largest, "need %llu", (unsigned long long)b.need);
    in.kv = 3000000000ull;
    CHECK(rl_budget_decide(&in, &lim, &b) == -1 && strstr(rl_errmsg(), "--ctx"), "too big: %s", rl_errmsg());
    in.kv = 100000000;
    in.request = 500000000;
    CHECK(rl_budget_decide(&in, &lim, &b) == 0 && b.resident == 500000000 && !b.is_auto, "explicit");
    in.request = 1900000000;
    CHECK(rl_budget_decide(&in, &lim, &b) == -1 && strstr(rl_errmsg(), "--mem-budget"), "explicit too big: %s", rl_errmsg());
    char line[1400];
    rl_budget_describe(&b, in.weights, line, sizeof line);
    CHECK(strstr(line, "cgroup v1") != NULL, "%s", line);
}

int main(void) {
    RUN(test_v1_ancestor_binds);
    RUN(test_v2_namespace);
    RUN(test_v2_container_mount);
    RUN(test_v1_hidden_ancestor);
    RUN(test_no_cgroup);
    RUN(test_budget);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) return 1;
    TEST_END();
}
