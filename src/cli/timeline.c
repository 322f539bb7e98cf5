/* Draws the per-stage profile of one sweep as SVG (see timeline.h). */
#include "cli/timeline.h"
#include "engine/model.h"
#include "util/err.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rl_timeline_svg(const rl_model *m, const char *path) {
    if (!m->ld) { fprintf(stderr, "error: --timeline: no stages in this process\n"); return -1; }
    const rl_load_stats *ls = rl_loader_stats(m->ld); /* this process's stages [s0, s1) (src/dist) */
    int n = m->s1 - m->s0;
    double total = 0;
    for (int s = 0; s < n; s++) total += ls[s].wait_s + m->compute_s[m->s0 + s];
    if (total <= 0) total = 1e-9;
    const double W = 900, left = 110, row = 14, top = 40;
    double H = top + row * n + 40, sx = W / total;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "error: --timeline: cannot create %s: %s\n", tmp, strerror(errno)); return -1; }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" font-family=\"monospace\" font-size=\"10\">\n", left + W + 20, H);
    fprintf(f, "<title>rabbitllm: one sweep, %d stages, %.2f ms</title>\n", n, total * 1e3);
    fprintf(f, "<text x=\"4\" y=\"14\">one sweep: %.2f ms. read (blue, ends when its wait ended) / prefetch wait (red) / "
               "compute (green); * resident</text>\n", total * 1e3);
    double t = 0;
    for (int s = 0; s < n; s++) {
        const rl_stage *st = &m->stages[m->s0 + s];
        int res = rl_loader_is_resident(m->ld, s);
        char name[48];
        if (st->kind == RL_STAGE_LAYER) snprintf(name, sizeof name, "layer %d%s", st->layer, res ? "*" : "");
        else snprintf(name, sizeof name, "head %d%s", m->s0 + s - m->d.n_layers, res ? "*" : "");
        double y = top + row * s, w0 = t, w1 = t + ls[s].wait_s, c1 = w1 + m->compute_s[m->s0 + s];
        double r0 = w1 - ls[s].read_s;
        if (r0 < 0) r0 = 0;
        fprintf(f, "<g class=\"stage\" data-stage=\"%d\" data-resident=\"%d\">\n", s, res);
        fprintf(f, "  <text x=\"4\" y=\"%.1f\">%s</text>\n", y + 10, name);
        if (!res && ls[s].read_s > 0)
            fprintf(f, "  <rect class=\"read\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"4\" fill=\"#3b6fd4\"><title>read %.3f ms, "
                       "%llu bytes</title></rect>\n", left + r0 * sx, y + 1, (w1 - r0) * sx, ls[s].read_s * 1e3,
                    (unsigned long long)ls[s].bytes);
        fprintf(f, "  <rect class=\"wait\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"8\" fill=\"#d43b3b\"><title>wait %.3f ms</title></rect>\n",
                left + w0 * sx, y + 5, (w1 - w0) * sx, ls[s].wait_s * 1e3);
        fprintf(f, "  <rect class=\"compute\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"8\" fill=\"%s\"><title>compute %.3f ms</title></rect>\n",
                left + w1 * sx, y + 5, (c1 - w1) * sx, res ? "#7a7a7a" : "#3bb04a", m->compute_s[m->s0 + s] * 1e3);
        fprintf(f, "</g>\n");
        t = c1;
    }
    double ya = top + row * n + 12;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", left, ya, left + W, ya);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%.2f ms</text>\n", left + W * k / 4 - (k ? 30 : 0), ya + 14, total * 1e3 * k / 4);
    fprintf(f, "</svg>\n");
    int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        fprintf(stderr, "error: --timeline: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
