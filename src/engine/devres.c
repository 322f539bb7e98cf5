/* Device-resident layers within the --gpu-mem budget (see devres.h). */
#include "engine/devres.h"
#include "io/loader.h"
#include "util/err.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A64(n) (((n) + 63) & ~(size_t)63)
#define MIB(n) ((double)(n) / (1 << 20))

/* The device budget: m->gpu_mem, or for RL_GPU_MEM_AUTO the backend's free device memory less
 * a margin for the driver and other users (5 % of the device, at least 512 MiB); 0 (stream
 * every layer) where the backend cannot tell. Describes the choice in m->gpu_line. */
static size_t gpu_budget(rl_model *m) {
    if (m->gpu_mem != RL_GPU_MEM_AUTO) {
        snprintf(m->gpu_line, sizeof m->gpu_line, "--gpu-mem %.0f MiB", MIB(m->gpu_mem));
        return m->gpu_mem;
    }
    size_t fr = 0, tot = 0;
    if (!m->be->ops->mem_info || m->be->ops->mem_info(m->be, &fr, &tot)) {
        snprintf(m->gpu_line, sizeof m->gpu_line, "--gpu-mem auto: backend %s cannot tell its free memory, every layer streams",
                 m->be->ops->name);
        return 0;
    }
    size_t margin = tot / 20 > ((size_t)512 << 20) ? tot / 20 : (size_t)512 << 20;
    size_t b = fr > margin ? fr - margin : 0;
    snprintf(m->gpu_line, sizeof m->gpu_line, "--gpu-mem auto: %.0f MiB free of %.0f MiB less a margin of %.0f MiB = %.0f MiB",
             MIB(fr), MIB(tot), MIB(margin), MIB(b));
    return b;
}

int rl_devres_plan(rl_model *m, rl_plan *p) {
    size_t fixed = p->device_bytes, all = 0, largest = 0, res = 0, slot = 0;
    size_t budget = m->gpu_budget = gpu_budget(m);
    for (int s = m->s0; s < m->s1; s++) { /* this process's stages (an MPI pipeline rank's: src/dist) */
        all += A64(m->stages[s].bytes);
        if (m->stages[s].bytes > largest) largest = m->stages[s].bytes;
    }
    free(m->dev_off);
    m->dev_off = NULL;
    m->n_dev_res = 0;
    if (budget && m->n_stages) {
        if (!(m->dev_off = malloc((size_t)m->n_stages * sizeof *m->dev_off))) return rl_err("out of memory");
        for (int s = 0; s < m->n_stages; s++) m->dev_off[s] = SIZE_MAX;
        int all_fit = fixed + all <= budget;
        if (!all_fit && fixed + 2 * A64(largest) > budget) {
            m->plan_fits = 0;
            return rl_err_c(RL_EC_NOMEM, "%s: %s is less than the %.1f MiB of device memory the activations, KV cache "
                            "and scratch (%.1f MiB) and two layer slots (%.1f MiB) need", m->dir, m->gpu_line,
                            MIB(fixed + 2 * A64(largest)), MIB(fixed), MIB(2 * A64(largest)));
        }
        for (int s = m->s0; s < m->s1; s++) {
            size_t b = A64(m->stages[s].bytes);
            if (!all_fit && fixed + 2 * A64(largest) + res + b > budget) break;
            m->dev_off[s] = res;
            res += b;
            m->n_dev_res++;
        }
    }
    for (int s = m->s0; s < m->s1; s++)
        if ((!m->dev_off || m->dev_off[s] == SIZE_MAX) && m->stages[s].bytes > slot) slot = m->stages[s].bytes;
    rl_plan_add(p, "layer slots on device (2)", RL_MEM_DEVICE, 2 * slot, NULL);
    /* the last entry, outside the arena: one arena per stage (drivers cap single allocations,
     * e.g. at 2 GiB, well below a model's size) */
    m->dev_res_bytes = res;
    rl_plan_add(p, RL_DEVRES_ENTRY, RL_MEM_DEVICE, res, NULL);
    size_t n = strlen(m->gpu_line);
    snprintf(m->gpu_line + n, sizeof m->gpu_line - n, "; %d of %d stages on the device (%.1f MiB), %d streamed",
             m->n_dev_res, m->s1 - m->s0, MIB(res), m->s1 - m->s0 - m->n_dev_res);
    return 0;
}

size_t rl_devres_outside(const rl_model *m) { return m->dev_res_bytes; }

void rl_devres_free(rl_model *m) {
    for (int s = 0; m->dev_stage && s < m->n_stages; s++)
        if (m->dev_stage[s]) m->be->ops->arena_free(m->be, m->dev_stage[s], m->stages[s].bytes);
    free(m->dev_stage);
    m->dev_stage = NULL;
}

int rl_devres_open(rl_model *m) {
    if (!m->n_dev_res) return 0;
    if (!(m->dev_stage = calloc((size_t)m->n_stages, sizeof *m->dev_stage))) return rl_err("out of memory");
    rl_backend *be = m->be;
    for (int s = m->s0; s < m->s1; s++) {
        if (m->dev_off[s] == SIZE_MAX) continue;
        uint8_t *d = be->ops->arena_new(be, m->stages[s].bytes);
        if (!d)
            return rl_err_prefix("%s: --gpu-mem %.0f MiB: keeping stage %d (%.1f MiB) on the device failed (%.1f MiB of "
                                 "layers there so far; a smaller --gpu-mem keeps fewer): ", m->dir, MIB(m->gpu_budget), s,
                                 MIB(m->stages[s].bytes), MIB(m->dev_off[s]));
        m->dev_stage[s] = d;
        const uint8_t *h = rl_loader_acquire(m->ld, s - m->s0);
        if (!h) return -1;
        int rc = be->ops->upload(be, d, h, m->stages[s].bytes);
        if (!rc) rc = be->ops->wait(be, be->ops->fence(be)); /* the loader's slot goes back next */
        rl_loader_release(m->ld, s - m->s0);
        if (rc) return rl_err_prefix("%s: uploading the resident stage %d: ", m->dir, s);
        rl_loader_skip(m->ld, s - m->s0);
    }
    return 0;
}

const uint8_t *rl_devres_weights(rl_model *m, int s, rl_prefetch *pf, int *held) {
    rl_backend *be = m->be;
    const uint8_t *d = rl_devres_stage(m, s);
    *held = 0;
    if (d) return d;
    if (pf && pf->stage == s) { /* uploaded ahead: the ops from here on wait for the copy */
        pf->stage = -1;
        *held = 1;
        if (pf->ticket && be->ops->upload_join(be, pf->ticket)) { rl_loader_release(m->ld, s - m->s0); *held = 0; return NULL; }
        return m->wslot[s & 1];
    }
    const uint8_t *h = rl_loader_acquire(m->ld, s - m->s0);
    if (!h) return NULL;
    *held = 1;
    const uint8_t *buf = rl_weights_on_device(m, h, m->stages[s].bytes, s);
    if (!buf) { rl_loader_release(m->ld, s - m->s0); *held = 0; }
    return buf;
}

int rl_devres_prefetch(rl_model *m, int s, rl_prefetch *pf) {
    rl_backend *be = m->be;
    const char *e = getenv("RL_NO_UPLOAD_AHEAD"); /* 1: upload each layer when it is needed (comparisons) */
    if ((e && *e && strcmp(e, "0")) || be->ops->host_shared || !be->ops->upload_async || !be->ops->upload_join || pf->stage >= 0 ||
        s < m->s0 || s >= m->s1 || rl_devres_stage(m, s))
        return 0;
    be->ops->fence(be); /* the ops issued so far start before the host waits for the read */
    const uint8_t *h = rl_loader_acquire(m->ld, s - m->s0);
    if (!h) return -1;
    uint64_t t = 0;
    if (be->ops->upload_async(be, m->wslot[s & 1], h, m->stages[s].bytes, &t)) { rl_loader_release(m->ld, s - m->s0); return -1; }
    pf->stage = s;
    pf->ticket = t;
    return 0;
}

void rl_devres_cancel(rl_model *m, rl_prefetch *pf) {
    if (pf->stage < 0) return;
    rl_backend *be = m->be;
    if (pf->ticket) be->ops->upload_join(be, pf->ticket);
    be->ops->wait(be, be->ops->fence(be)); /* the copy read the host slot: done before it goes back */
    rl_loader_release(m->ld, pf->stage - m->s0);
    pf->stage = -1;
}

const uint8_t *rl_devres_stage(const rl_model *m, int s) { return m->dev_stage ? m->dev_stage[s] : NULL; }

int rl_devres_count(const rl_model *m, size_t *bytes) {
    if (bytes) *bytes = m->dev_res_bytes;
    return m->n_dev_res;
}
