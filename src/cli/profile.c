/* Prints the streaming profile collected by the loader and the engine (see profile.h). */
#include "cli/profile.h"
#include "engine/model.h"
#include <string.h>

void rl_profile_reset(rl_model *m) {
    rl_loader_reset_stats(m->ld);
    memset(m->compute_s, 0, (size_t)m->n_stages * sizeof(double));
}

void rl_profile_print(const rl_model *m, FILE *f) {
    const rl_load_stats *ls = rl_loader_stats(m->ld);
    double tb = 0, tr = 0, tw = 0, tc = 0;
    fprintf(f, "%-10s %12s %10s %10s %10s %9s\n", "stage", "bytes read", "read ms", "wait ms", "compute ms", "read GB/s");
    for (int s = 0; s < m->n_stages; s++) {
        const rl_stage *st = &m->stages[s];
        char name[32];
        if (st->kind == RL_STAGE_LAYER) snprintf(name, sizeof name, "layer %d", st->layer);
        else snprintf(name, sizeof name, "head %d", s - m->d.n_layers);
        double gbs = ls[s].read_s > 0 ? ls[s].bytes / ls[s].read_s / 1e9 : 0;
        fprintf(f, "%-10s %12llu %10.2f %10.2f %10.2f %9.2f\n", name, (unsigned long long)ls[s].bytes,
                ls[s].read_s * 1e3, ls[s].wait_s * 1e3, m->compute_s[s] * 1e3, gbs);
        tb += (double)ls[s].bytes; tr += ls[s].read_s; tw += ls[s].wait_s; tc += m->compute_s[s];
    }
    fprintf(f, "%-10s %12.0f %10.2f %10.2f %10.2f %9.2f\n", "total", tb, tr * 1e3, tw * 1e3, tc * 1e3, tr > 0 ? tb / tr / 1e9 : 0);
}
