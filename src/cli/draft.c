/* The draft model of --draft-model and the summary line's draft part (see draft.h). */
#include "cli/draft.h"
#include "cli/exitcode.h"
#include "gen/spec_tree.h"
#include "util/err.h"

rl_model *rl_cli_open_draft(const rl_cli_opts *o, int *failed) {
    *failed = 0;
    if (!o->draft_model) return NULL; /* resolved (hub id, --draft-quant cache) by rl_cli_parse */
    rl_model *d = rl_draft_open(o->draft_model, &o->model, o->draft_backend, 1);
    if (!d) { rl_cli_fail(NULL); *failed = 1; }
    return d;
}

int rl_cli_check_draft(const rl_cli_opts *o, const rl_model *m, rl_model *d) {
    if (!d || !rl_draft_check(o->model_dir, m, o->draft_model, d)) return 0;
    rl_cli_fail(NULL);
    rl_model_close(d);
    return -1;
}

void rl_cli_draft_summary(FILE *f, int sweeps, int drafted, int accepted, int with_times, double draft_s,
                          double read_s, double compute_s) {
    fprintf(f, ", nodes/sweep %.2f accepted/sweep %.2f", sweeps ? 1.0 + (double)drafted / sweeps : 0,
            sweeps ? (double)accepted / sweeps : 0);
    if (with_times)
        fprintf(f, ", draft %.3f s, target read %.3f s, target compute %.3f s", draft_s, read_s > 0 ? read_s : 0,
                compute_s);
}
