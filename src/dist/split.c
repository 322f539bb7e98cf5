/* Layer ranges of the pipeline's ranks: balanced by bytes, or the counts of --pp-split. Pure
 * arithmetic, built with and without MPI. */
#include "dist/dist.h"
#include "util/err.h"
#include <stdlib.h>

static int parse_spec(const char *spec, int n_layers, int n, int *first) {
    const char *p = spec;
    first[0] = 0;
    for (int r = 0; r < n; r++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > n_layers) return rl_err("--pp-split '%s': expected %d layer counts separated by commas", spec, n);
        first[r + 1] = first[r] + (int)v;
        if (first[r + 1] > n_layers) break;
        p = end;
        if (r + 1 < n) {
            if (*p != ',') return rl_err("--pp-split '%s': expected %d layer counts (one per rank) separated by commas", spec, n);
            p++;
        }
    }
    if (*p) return rl_err("--pp-split '%s': expected %d layer counts (one per rank), got more", spec, n);
    if (first[n] != n_layers) return rl_err("--pp-split '%s': the counts must add up to the model's %d layers", spec, n_layers);
    return 0;
}

int rl_dist_split(const size_t *layer_bytes, int n_layers, size_t head_bytes, int n, const char *spec, int *first) {
    if (n < 1 || n_layers < 0) return rl_err("pipeline split: %d ranks, %d layers", n, n_layers);
    if (spec && *spec) return parse_spec(spec, n_layers, n, first);
    double total = (double)head_bytes;
    for (int l = 0; l < n_layers; l++) total += (double)layer_bytes[l];
    /* boundary r: the layer count whose prefix bytes come closest to r/n of the total */
    first[0] = 0;
    double acc = 0;
    int l = 0;
    for (int r = 1; r < n; r++) {
        double target = total * r / n;
        while (l < n_layers && acc + (double)layer_bytes[l] / 2 < target) acc += (double)layer_bytes[l++];
        first[r] = l;
    }
    first[n] = n_layers;
    return 0;
}
