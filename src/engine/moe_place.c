/* Where the routed experts of a MoE layer live and run (see moe_state.h, moe.h): the expert
 * cache in the compute backend's memory (VRAM for a GPU backend, RAM for the cpu) holding each
 * layer's most used experts; the rest read from disk per sweep and, on a GPU backend, either run
 * by the CPU backend on host copies of their rows (few rows: KTransformers' hybrid placement;
 * only the rows cross the bus) or uploaded and run on the device (many rows). */
#include "engine/moe.h"
#include "engine/moe_state.h"
#include "io/pages.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB(n) ((double)(n) / (1 << 20))
#define RL_MOE_CPU_ROWS_DEFAULT 8

int rl_moe_place_plan(rl_model *m, rl_plan *p) {
    struct rl_moe_state *S = m->moe;
    S->xc_req = m->expert_cache;
    S->cpu_rows = m->be->ops->host_shared || m->moe_cpu_rows < 0 ? -1
                : m->moe_cpu_rows ? m->moe_cpu_rows : RL_MOE_CPU_ROWS_DEFAULT;
    if (S->cpu_rows < 0) return 0;
    size_t T = (size_t)S->max_T, H = (size_t)S->H, F = sizeof(float), Imax = (size_t)(S->I > S->Is ? S->I : S->Is);
    rl_plan_add(p, "moe rows for the CPU", RL_MEM_DEVICE, T * sizeof(int32_t), (void **)&S->d_ct);
    rl_plan_add(p, "moe CPU experts' rows and scratch", RL_MEM_HOST, (2 * T * H + (size_t)S->k * T * H + 2 * T * Imax) * F, NULL);
    return 0;
}

int rl_moe_plan_cache(rl_model *m, rl_plan *p, size_t avail, size_t room, size_t ram_avail) {
    struct rl_moe_state *S = m->moe;
    if (!S) return 0;
    size_t want = S->xc_req ? S->xc_req : avail, per_layer = rl_moe_slot_bytes(m);
    size_t slots = per_layer ? want / per_layer : 0;
    if (slots > (size_t)S->E) slots = (size_t)S->E;
    rl_xc_free(&S->xc);
    if (rl_xc_init(&S->xc, S->n_layers, S->E, (int)slots)) return -1;
    S->xc_bytes = slots * per_layer;
    int shared = m->be->ops->host_shared;
    if (S->xc_req && S->xc_bytes > room) {
        m->plan_fits = 0;
        return rl_err_c(RL_EC_NOMEM, "%s: --expert-cache: %zu experts per layer (%.2f MiB) do not fit beside the rest of the "
                        "memory plan: %.2f MiB of %s are left; use a smaller --expert-cache, or auto", m->dir, slots,
                        MIB(S->xc_bytes), MIB(room), shared ? "what the process may use" : "--gpu-mem");
    }
    rl_plan_add(p, "expert cache (own arenas)", shared ? RL_MEM_HOST : RL_MEM_DEVICE, S->xc_bytes, NULL);
    /* the RAM tier of a GPU backend: slots on their own pages (each is page-locked on its own) */
    S->hx_stride = rl_pages_round(S->ex_bytes);
    size_t ram_layer = (size_t)S->n_moe * S->hx_stride, hslots = shared || !ram_layer ? 0 : ram_avail / ram_layer;
    if (hslots > (size_t)S->E) hslots = (size_t)S->E;
    rl_xc_free(&S->hx);
    if (rl_xc_init(&S->hx, S->n_layers, S->E, (int)hslots)) return -1;
    S->hx_bytes = hslots * ram_layer;
    if (!shared) rl_plan_add(p, "expert cache in RAM (GPU's host tier)", RL_MEM_HOST, S->hx_bytes, NULL);
    const char *rest = S->cpu_rows >= 0 ? "the rest read from disk, run on the CPU (at most %d rows) or uploaded"
                                         : shared ? "the rest read from disk per sweep" : "the rest read from disk and uploaded per sweep";
    char tail[128];
    snprintf(tail, sizeof tail, rest, S->cpu_rows);
    char ram[128] = "";
    if (!shared) snprintf(ram, sizeof ram, "; %zu per layer in RAM (%.1f MiB, what the memory budget leaves)", hslots, MIB(S->hx_bytes));
    snprintf(S->xc_line, sizeof S->xc_line, "%zu of %d experts per layer cached in %s (%.1f MiB, %s)%s, %s", slots, S->E,
             shared ? "RAM" : "device memory", MIB(S->xc_bytes),
             S->xc_req ? "--expert-cache" : shared ? "what the memory budget leaves" : "what --gpu-mem leaves", ram, tail);
    return 0;
}

size_t rl_moe_cache_outside(const rl_model *m) {
    return m->moe && !m->be->ops->host_shared ? m->moe->xc_bytes : 0;
}

const char *rl_moe_placement(const rl_model *m) { return m->moe ? m->moe->xc_line : ""; }

size_t rl_moe_slot_bytes(const rl_model *m) { return m->moe ? (size_t)m->moe->n_moe * m->moe->ex_bytes : 0; }

void rl_moe_place_stats(const rl_model *m, uint64_t *hits, uint64_t *admits, uint64_t *cpu, uint64_t *dev, uint64_t *ram) {
    const struct rl_moe_state *S = m->moe;
    if (hits) *hits = S ? S->xc.hits : 0;
    if (admits) *admits = S ? S->xc.admits : 0;
    if (cpu) *cpu = S ? S->n_cpu : 0;
    if (dev) *dev = S ? S->n_dev : 0;
    if (ram) *ram = S ? S->hx.hits : 0;
}

/* A tier's tables for `slots` per layer: the layers' memory pointers, the slots' piece offsets
 * and filled flags. 0 / -1 + rl_err. */
static int tier_tables(rl_model *m, int slots, uint8_t ***mem, size_t **off, uint8_t **used) {
    size_t L = (size_t)m->moe->n_layers;
    *mem = calloc(L, sizeof **mem);
    *off = calloc(L * (size_t)slots * XP, sizeof **off);
    *used = calloc(L * (size_t)slots, 1);
    return *mem && *off && *used ? 0 : rl_err("%s: out of memory for the expert cache", m->dir);
}

/* Layer l is a MoE layer this process runs. */
static int own_moe_layer(const rl_model *m, int l) { return m->d.layer_moe[l] && l >= m->l0 && l < m->l1; }

int rl_moe_place_open(rl_model *m) {
    struct rl_moe_state *S = m->moe;
    rl_backend *be = m->be;
    if (S->xc.slots) {
        size_t lb = (size_t)S->xc.slots * S->ex_bytes;
        if (tier_tables(m, S->xc.slots, &S->xc_mem, &S->xc_off, &S->xc_used)) return -1;
        for (int l = 0; l < S->n_layers; l++)
            if (own_moe_layer(m, l) && !(S->xc_mem[l] = be->ops->arena_new(be, lb))) {
                char why[512];
                snprintf(why, sizeof why, "%s", rl_errmsg());
                return rl_err_c(RL_EC_NOMEM, "%s: the expert cache (%d experts per layer, %.1f MiB in all) does not fit: %s; "
                                "use a smaller --expert-cache (or --expert-cache off)", m->dir, S->xc.slots, MIB(S->xc_bytes), why);
            }
    }
    S->hslot = malloc((size_t)S->E * sizeof(int));
    S->hfill = malloc((size_t)S->E * sizeof(int));
    if (!S->hslot || !S->hfill) return rl_err("%s: out of memory for the MoE placement", m->dir);
    if (S->hx.slots) {
        size_t lb = (size_t)S->hx.slots * S->hx_stride;
        if (tier_tables(m, S->hx.slots, &S->hx_mem, &S->hx_off, &S->hx_used)) return -1;
        for (int l = 0; l < S->n_layers; l++)
            if (own_moe_layer(m, l) && !(S->hx_mem[l] = rl_pages_map(lb)))
                return rl_err_prefix("%s: the experts' RAM tier: ", m->dir);
    }
    if (S->cpu_rows < 0) return 0;
    size_t T = (size_t)S->max_T, H = (size_t)S->H, F = sizeof(float), Imax = (size_t)(S->I > S->Is ? S->I : S->Is);
    if (!(S->cpu = rl_backend_cpu_open(m->n_threads))) return -1;
    S->cpu->numerics = be->numerics;
    S->xc_h = be->ops->host_alloc(be, T * H * F);
    S->y_h = be->ops->host_alloc(be, T * (size_t)S->k * H * F);
    S->xe_h = malloc(T * H * F);
    S->g_h = malloc(T * Imax * F);
    S->u_h = malloc(T * Imax * F);
    S->gu_h = m->d.moe_interleaved || m->d.moe_transposed ? malloc(2 * T * Imax * F) : NULL;
    S->xbias_h = malloc((2 * Imax + H) * F);
    S->ct = malloc(T * sizeof(int32_t));
    S->crow = malloc(T * sizeof(int32_t));
    S->c_rows = malloc(T * (size_t)S->k * sizeof(int32_t));
    if (!S->xc_h || !S->y_h || !S->xe_h || !S->g_h || !S->u_h || !S->ct || !S->crow || !S->c_rows || !S->xbias_h ||
        ((m->d.moe_interleaved || m->d.moe_transposed) && !S->gu_h))
        return rl_err("%s: out of memory for the CPU experts' buffers", m->dir);
    return 0;
}

void rl_moe_place_close(rl_model *m) {
    struct rl_moe_state *S = m->moe;
    rl_backend *be = m->be;
    for (int l = 0; S->xc_mem && l < S->n_layers; l++)
        if (S->xc_mem[l]) be->ops->arena_free(be, S->xc_mem[l], (size_t)S->xc.slots * S->ex_bytes);
    free(S->xc_mem); free(S->xc_off); free(S->xc_used);
    rl_xc_free(&S->xc);
    for (int l = 0; S->hx_mem && l < S->n_layers; l++) {
        for (int s = 0; S->hx_mem[l] && s < S->hx.slots; s++)
            if (S->hx_used[(size_t)l * (size_t)S->hx.slots + (size_t)s] == 2) be->ops->host_unregister(be, rl_moe_ram_mem(m, l, s));
        rl_pages_unmap(S->hx_mem[l], (size_t)S->hx.slots * S->hx_stride);
    }
    free(S->hx_mem); free(S->hx_off); free(S->hx_used); free(S->hslot); free(S->hfill);
    rl_xc_free(&S->hx);
    if (S->xc_h) be->ops->host_free(be, S->xc_h);
    if (S->y_h) be->ops->host_free(be, S->y_h);
    free(S->xe_h); free(S->g_h); free(S->u_h); free(S->gu_h); free(S->xbias_h);
    free(S->ct); free(S->crow); free(S->c_rows);
    rl_backend_close(S->cpu);
}

int rl_moe_place(rl_model *m, int l, int n_need) {
    struct rl_moe_state *S = m->moe;
    rl_xcache *c = &S->xc, *h = &S->hx;
    if (c->slots) rl_xc_touch(c, l, S->cnt);
    if (h->slots) rl_xc_touch(h, l, S->cnt);
    int n_rd = 0, room = S->k; /* admissions per sweep: at most one token's worth (a long prompt
                                   does not stall on filling the cache; decode keeps filling it) */
    for (int j = 0; j < n_need; j++) {
        int e = S->needed[j], s = c->slots ? rl_xc_lookup(c, l, e) : -1;
        if (s >= 0) { S->kind[j] = XK_HIT; S->slot[j] = s; continue; }
        s = c->slots && room > 0 ? rl_xc_admit(c, l, e) : -1;
        room -= s >= 0;
        S->kind[j] = s >= 0 ? XK_ADMIT : S->cpu && S->cnt[e] <= S->cpu_rows ? XK_CPU : XK_DEV;
        S->slot[j] = s;
        /* the RAM tier serves every expert not in the device cache: the CPU's, the cache's fills
           and the many-row uploads (a prefill of a second prompt reads no disk) */
        S->hslot[j] = S->hfill[j] = -1;
        if (h->slots) {
            if ((S->hslot[j] = rl_xc_lookup(h, l, e)) >= 0) continue;
            S->hfill[j] = rl_xc_admit(h, l, e);
        }
        S->rd[n_rd++] = j;
    }
    return n_rd;
}

uint8_t *rl_moe_slot_mem(rl_model *m, int l, int slot) { return m->moe->xc_mem[l] + (size_t)slot * m->moe->ex_bytes; }
int rl_moe_slot_fill(rl_model *m, int l, int slot, const uint8_t *src, size_t reg, const size_t *off) {
    struct rl_moe_state *S = m->moe;
    uint8_t *dst = rl_moe_slot_mem(m, l, slot), *u = &S->xc_used[(size_t)l * (size_t)S->xc.slots + (size_t)slot];
    if (!*u && m->be->ops->host_shared) rl_pages_commit(dst, S->ex_bytes);
    *u = 1;
    if (m->be->ops->upload(m->be, dst, src + reg, S->ex_bytes)) return -1;
    size_t *o = rl_moe_slot_off(m, l, slot);
    for (int p = 0; p < XP; p++) o[p] = off[p] - reg;
    return 0;
}

uint8_t *rl_moe_ram_mem(rl_model *m, int l, int slot) { return m->moe->hx_mem[l] + (size_t)slot * m->moe->hx_stride; }
size_t *rl_moe_ram_off(rl_model *m, int l, int slot) {
    return m->moe->hx_off + ((size_t)l * (size_t)m->moe->hx.slots + (size_t)slot) * XP;
}

void rl_moe_ram_fill(rl_model *m, int l, int slot, const uint8_t *buf, size_t reg, const size_t *off) {
    struct rl_moe_state *S = m->moe;
    uint8_t *dst = rl_moe_ram_mem(m, l, slot), *u = &S->hx_used[(size_t)l * (size_t)S->hx.slots + (size_t)slot];
    if (!*u) { /* first use: its pages committed, and page-locked where the backend can (DMA uploads) */
        rl_pages_commit(dst, S->ex_bytes);
        rl_backend *be = m->be;
        *u = be->ops->host_register && be->ops->host_register(be, dst, S->ex_bytes) == 0 ? 2 : 1;
    }
    memcpy(dst, buf + reg, S->ex_bytes);
    size_t *o = rl_moe_ram_off(m, l, slot);
    for (int p = 0; p < XP; p++) o[p] = off[p] - reg;
}

size_t *rl_moe_slot_off(rl_model *m, int l, int slot) {
    return m->moe->xc_off + ((size_t)l * (size_t)m->moe->xc.slots + (size_t)slot) * XP;
}

int rl_moe_cpu_begin(rl_model *m, const float *xn, int n_need, int T) {
    struct rl_moe_state *S = m->moe;
    rl_backend *be = m->be;
    S->n_ct = 0;
    if (!S->cpu) return 0;
    for (int t = 0; t < T; t++) S->crow[t] = -1;
    for (int j = 0; j < n_need; j++) {
        if (S->kind[j] != XK_CPU) continue;
        int e = S->needed[j];
        for (int a = S->start[e]; a < S->start[e + 1]; a++) {
            int t = S->tok_of[a];
            if (S->crow[t] < 0) { S->crow[t] = S->n_ct; S->ct[S->n_ct++] = t; }
            S->c_rows[a] = S->crow[t];
        }
    }
    if (!S->n_ct) return 0;
    size_t rows = (size_t)S->n_ct * (size_t)S->H * sizeof(float);
    /* only the rows some CPU expert reads cross the bus: gathered on the device, one download */
    if (be->ops->upload(be, S->d_ct, S->ct, (size_t)S->n_ct * sizeof(int32_t))) return -1;
    be->ops->gather_rows(be, S->xe, xn, S->d_ct, S->n_ct, S->H);
    return be->ops->download(be, S->xc_h, S->xe, rows);
}

void rl_moe_cpu_expert(rl_model *m, int l, int e, const uint8_t *hb, const size_t *off) {
    struct rl_moe_state *S = m->moe;
    rl_moe_run r = {S->cpu, S->xc_h, S->xe_h, S->g_h, S->u_h, S->gu_h, S->xbias_h, S->w_in};
    rl_moe_run_expert(m, &r, l, e, hb, off, S->c_rows + S->start[e], S->start[e + 1] - S->start[e],
                      S->y_h + (size_t)S->start[e] * S->H);
    S->n_cpu++;
}

/* y_h is uploaded from host memory that the next sweep rewrites only after its first download
 * (which waits for every earlier op, these uploads included). */
int rl_moe_cpu_end(rl_model *m, int n_need) {
    struct rl_moe_state *S = m->moe;
    rl_backend *be = m->be;
    if (!S->n_ct) return 0;
    size_t H = (size_t)S->H;
    for (int j = 0; j < n_need; j++)
        if (S->kind[j] == XK_CPU) {
            int e = S->needed[j];
            size_t at = (size_t)S->start[e] * H;
            if (be->ops->upload(be, S->y + at, S->y_h + at, (size_t)(S->start[e + 1] - S->start[e]) * H * sizeof(float))) return -1;
        }
    return 0;
}
