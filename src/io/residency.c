/* The residency rule (see residency.h). */
#include "io/residency.h"

int rl_stages_resident(const rl_stage *st, int n, size_t budget, unsigned char *is_res, size_t *bytes) {
    size_t total = 0, res = 0;
    int n_res = 0;
    for (int i = 0; i < n; i++) { total += st[i].bytes; if (is_res) is_res[i] = 0; }
    if (budget && total) {
        double f = budget >= total ? 1.0 : (double)budget / (double)total, acc = 0;
        for (int i = 0; i < n; i++) {
            acc += f;
            if (acc < 1.0 - 1e-9 || res + st[i].bytes > budget) continue;
            acc -= 1.0;
            if (is_res) is_res[i] = 1;
            res += st[i].bytes;
            n_res++;
        }
    }
    if (bytes) *bytes = res;
    return n_res;
}
