/* The memory plan: every buffer a model needs (activations, KV cache, recurrent state, scratch,
 * device weight slots; host staging: layer slots, resident stages, expert buffers, embedding
 * rows, logits), computed once at open from the description, the context, the sequence count,
 * the tokens per sweep and the budget. Device entries are placed in one backend arena; host
 * entries are what the loader and the engine allocate from the backend's host memory. `info`
 * prints it; the budget logic reads its totals. */
#ifndef RL_ENGINE_PLAN_H
#define RL_ENGINE_PLAN_H
#include <stddef.h>
#include <stdio.h>

#define RL_PLAN_MAX 96

typedef enum { RL_MEM_DEVICE = 0, RL_MEM_HOST } rl_mem_where;

typedef struct {
    const char *name;        /* what it holds */
    rl_mem_where where;
    size_t bytes;
    size_t off;              /* device entries: offset in the arena (64-aligned) */
    void **dst;              /* device entries: where open stores the placed pointer (may be NULL) */
} rl_plan_entry;

typedef struct {
    rl_plan_entry e[RL_PLAN_MAX];
    int n;
    size_t device_bytes, host_bytes;
    int overflow;            /* more than RL_PLAN_MAX entries were added (a bug) */
} rl_plan;

/* Adds an entry (bytes 0 entries are kept in the table but take no space). */
void rl_plan_add(rl_plan *p, const char *name, rl_mem_where where, size_t bytes, void **dst);
/* Sets each device entry's pointer to arena + off. */
void rl_plan_place(rl_plan *p, void *arena);
/* Prints the table (buffer, where, bytes) and the totals. */
void rl_plan_print(const rl_plan *p, const char *backend, FILE *f);
/* The same as a JSON object {"backend", "buffers": [{"name", "where", "bytes"}], "device_bytes",
 * "host_bytes"} (NULL when out of memory). The cJSON type is opaque here. */
struct cJSON *rl_plan_json(const rl_plan *p, const char *backend);

#endif
