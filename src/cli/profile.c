/* Prints the streaming profile collected by the loader and the engine (see profile.h). */
#include "cli/profile.h"
#include "dist/dist.h"
#include "engine/model.h"
#include "engine/moe.h"
#include <string.h>

static void reset_local(rl_model *m) {
    if (m->ld) rl_loader_reset_stats(m->ld);
    memset(m->compute_s, 0, (size_t)m->n_stages * sizeof(double));
    rl_moe_reset_stats(m);
}

static void print_local(const rl_model *m, FILE *f);

void rl_profile_install_hooks(void) { rl_dist_set_profile_hooks(print_local, reset_local); }

void rl_profile_reset(rl_model *m) {
    reset_local(m);
    if (m->dist) rl_dist_profile(m, 1, NULL); /* the other pipeline ranks' layers too */
}

void rl_profile_print(const rl_model *m, FILE *f) {
    if (m->dist) fprintf(f, "pipeline rank 0 (layers %d..%d):\n", m->l0, m->l1 - 1);
    print_local(m, f);
    if (m->dist) rl_dist_profile((rl_model *)m, 0, f); /* the other pipeline ranks' parts, in rank order */
}

static void print_local(const rl_model *m, FILE *f) {
    if (!m->ld) { fprintf(f, "no stages in this process (pipeline rank without layers)\n"); return; }
    /* this process's stages [s0, s1): all of them, or a pipeline rank's (src/dist) */
    const rl_load_stats *ls0 = rl_loader_stats(m->ld);
    double tb = 0, tr = 0, tw = 0, tc = 0;
    /* MoE layers: "bytes read" includes the routed experts read (also shown apart, with the wait
     * for them and the layer's expert bytes on disk) */
    int moe = m->moe != NULL;
    double te = 0, tew = 0, tet = 0;
    fprintf(f, "%-10s %12s %10s %10s %10s %9s", "stage", "bytes read", "read ms", "wait ms", "compute ms", "read GB/s");
    if (moe) fprintf(f, " %14s %13s %14s", "expert bytes", "expert wait", "experts total");
    fprintf(f, "\n");
    for (int s = m->s0; s < m->s1; s++) {
        const rl_stage *st = &m->stages[s];
        const rl_load_stats *ls = &ls0[s - m->s0];
        char name[32];
        if (st->kind == RL_STAGE_LAYER) snprintf(name, sizeof name, "layer %d%s", st->layer, rl_loader_is_resident(m->ld, s - m->s0) ? "*" : "");
        else snprintf(name, sizeof name, "head %d%s", s - m->d.n_layers, rl_loader_is_resident(m->ld, s - m->s0) ? "*" : "");
        double gbs = ls->read_s > 0 ? ls->bytes / ls->read_s / 1e9 : 0;
        int is_l = st->kind == RL_STAGE_LAYER;
        uint64_t eb = moe && is_l ? rl_moe_layer_bytes(m, st->layer) : 0;
        fprintf(f, "%-10s %12llu %10.2f %10.2f %10.2f %9.2f", name, (unsigned long long)(ls->bytes + eb),
                ls->read_s * 1e3, ls->wait_s * 1e3, m->compute_s[s] * 1e3, gbs);
        if (moe && is_l) {
            double ew = rl_moe_layer_wait_s(m, st->layer);
            uint64_t et = rl_moe_layer_total_bytes(m, st->layer);
            fprintf(f, " %14llu %10.2f ms %14llu", (unsigned long long)eb, ew * 1e3, (unsigned long long)et);
            te += (double)eb; tew += ew; tet += (double)et;
        }
        fprintf(f, "\n");
        tb += (double)(ls->bytes + eb); tr += ls->read_s; tw += ls->wait_s; tc += m->compute_s[s];
    }
    fprintf(f, "%-10s %12.0f %10.2f %10.2f %10.2f %9.2f", "total", tb, tr * 1e3, tw * 1e3, tc * 1e3, tr > 0 ? (tb - te) / tr / 1e9 : 0);
    if (moe) fprintf(f, " %14.0f %10.2f ms %14.0f", te, tew * 1e3, tet);
    fprintf(f, "\n");
    int nres;
    size_t rb = rl_loader_resident_bytes(m->ld, &nres);
    if (nres) fprintf(f, "* resident: %d of %d stages, %.1f MB kept in memory (read once at open in %.2f s, %.2f GB/s; --mem-budget)\n",
                      nres, m->s1 - m->s0, rb / 1e6, rl_loader_open_read_s(m->ld),
                      rl_loader_open_read_s(m->ld) > 0 ? rb / rl_loader_open_read_s(m->ld) / 1e9 : 0);
    char bd[1400];
    uint64_t wt = 0;
    for (int s = m->s0; s < m->s1; s++) wt += m->stages[s].bytes;
    rl_budget_describe(&m->budget, wt, bd, sizeof bd);
    fprintf(f, "memory budget: %s\n", bd);
    if (m->gpu_line[0]) fprintf(f, "device budget: %s\n", m->gpu_line);
    if (m->moe) {
        uint64_t hits, admits, cpu, dev, ram;
        rl_moe_place_stats(m, &hits, &admits, &cpu, &dev, &ram);
        fprintf(f, "routed experts: %s; since open: %llu uses from the cache, %llu taken in, %llu run on the CPU, %llu uploaded, "
                "%llu read from RAM instead of disk\n", rl_moe_placement(m), (unsigned long long)hits, (unsigned long long)admits,
                (unsigned long long)cpu, (unsigned long long)dev, (unsigned long long)ram);
    }
    if (rl_loader_drops_page_cache(m->ld))
        fprintf(f, "page cache: kept out; %.1f MB read with O_DIRECT since open, the rest read and dropped\n",
                rl_loader_direct_bytes(m->ld) / 1e6);
    fprintf(f, "backend: %s\n", m->be->ops->describe(m->be));
}

void rl_profile_print_draft(const rl_model *dm, int sweeps, int drafted, int accepted, double draft_s, double read_s,
                            double compute_s, FILE *f) {
    int nres;
    size_t rb = rl_loader_resident_bytes(dm->ld, &nres);
    uint64_t wt = 0;
    for (int s = 0; s < dm->n_stages; s++) wt += dm->stages[s].bytes;
    char bd[1400];
    rl_budget_describe(&dm->budget, wt, bd, sizeof bd);
    fprintf(f, "draft model: %d of %d stages resident, %.1f MB of %.1f MB (memory budget: %s); backend: %s\n", nres,
            dm->n_stages, rb / 1e6, wt / 1e6, bd, dm->be->ops->describe(dm->be));
    double tot = draft_s + (read_s > 0 ? read_s : 0) + compute_s;
    fprintf(f, "speculative decoding: %d sweeps, nodes/sweep %.2f accepted/sweep %.2f; time draft %.3f s (%.0f %%), "
               "target read %.3f s (%.0f %%), target compute %.3f s (%.0f %%)\n",
            sweeps, sweeps ? 1.0 + (double)drafted / sweeps : 0, sweeps ? (double)accepted / sweeps : 0, draft_s,
            tot > 0 ? 100 * draft_s / tot : 0, read_s > 0 ? read_s : 0, tot > 0 && read_s > 0 ? 100 * read_s / tot : 0,
            compute_s, tot > 0 ? 100 * compute_s / tot : 0);
}
