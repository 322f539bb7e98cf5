/* The memory plan table (see plan.h). */
#include "engine/plan.h"
#include <string.h>

void rl_plan_add(rl_plan *p, const char *name, rl_mem_where where, size_t bytes, void **dst) {
    if (p->n >= RL_PLAN_MAX) { p->overflow = 1; return; }
    rl_plan_entry *e = &p->e[p->n++];
    *e = (rl_plan_entry){name, where, bytes, 0, dst};
    if (where == RL_MEM_DEVICE) {
        e->off = p->device_bytes;
        p->device_bytes += (bytes + 63) & ~(size_t)63;
    } else
        p->host_bytes += bytes;
}

void rl_plan_place(rl_plan *p, void *arena) {
    for (int i = 0; i < p->n; i++)
        if (p->e[i].where == RL_MEM_DEVICE && p->e[i].dst) *p->e[i].dst = p->e[i].bytes ? (char *)arena + p->e[i].off : NULL;
}

static void human(char *b, size_t n, size_t v) {
    if (v >= (1u << 30)) snprintf(b, n, "%.2f GiB", v / 1073741824.0);
    else if (v >= (1u << 20)) snprintf(b, n, "%.2f MiB", v / 1048576.0);
    else if (v >= 1024) snprintf(b, n, "%.1f KiB", v / 1024.0);
    else snprintf(b, n, "%zu B", v);
}

void rl_plan_print(const rl_plan *p, const char *backend, FILE *f) {
    char h[32];
    int w = 28;
    for (int i = 0; i < p->n; i++) if (p->e[i].bytes && (int)strlen(p->e[i].name) > w) w = (int)strlen(p->e[i].name);
    fprintf(f, "memory plan (backend %s):\n  %-*s %-7s %16s\n", backend, w, "buffer", "where", "bytes");
    for (int i = 0; i < p->n; i++) {
        if (!p->e[i].bytes) continue;
        human(h, sizeof h, p->e[i].bytes);
        fprintf(f, "  %-*s %-7s %16zu  (%s)\n", w, p->e[i].name, p->e[i].where == RL_MEM_DEVICE ? "device" : "host",
                p->e[i].bytes, h);
    }
    human(h, sizeof h, p->device_bytes);
    fprintf(f, "  %-*s %-7s %16zu  (%s)\n", w, "total", "device", p->device_bytes, h);
    human(h, sizeof h, p->host_bytes);
    fprintf(f, "  %-*s %-7s %16zu  (%s)\n", w, "total", "host", p->host_bytes, h);
}
