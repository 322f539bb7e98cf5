/* The draft model of --draft-model (see draft.h). */
#include "cli/draft.h"
#include "gen/spec_tree.h"
#include "hub/hub.h"
#include "util/err.h"
#include <stdio.h>

rl_model *rl_cli_open_draft(const rl_cli_opts *o, const rl_model *target, int *failed) {
    *failed = 0;
    if (!o->draft_model) return NULL;
    const char *dir = rl_hub_model_dir(o->draft_model);
    rl_model_opts mo = o->model;
    mo.mem_budget = RL_MEM_BUDGET_AUTO; /* resident as far as memory allows */
    mo.n_seq = 1;
    rl_model *d = dir ? rl_model_open(dir, &mo) : NULL;
    if (d && rl_draft_check(o->model_dir, target, dir, d)) { rl_model_close(d); d = NULL; }
    if (!d) { fprintf(stderr, "error: %s\n", rl_errmsg()); *failed = 1; }
    return d;
}
