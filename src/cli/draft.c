/* The draft model of --draft-model (see draft.h). */
#include "cli/draft.h"
#include "hub/hub.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>

/* 0 if the two tokenizers give the same string for every id (or either has none). */
static int same_vocab(const char *a_dir, const char *b_dir, int V) {
    rl_tokenizer *a = rl_tokenizer_open(a_dir), *b = rl_tokenizer_open(b_dir);
    int rc = 0;
    for (int id = 0; a && b && id < V && !rc; id++) {
        char *pa = NULL, *pb = NULL;
        size_t la = 0, lb = 0;
        int ea = rl_token_to_piece(a, id, &pa, &la), eb = rl_token_to_piece(b, id, &pb, &lb);
        if (ea != eb || (!ea && (la != lb || memcmp(pa, pb, la))))
            rc = rl_err("draft model %s: token %d is \"%.*s\" there but \"%.*s\" in the target %s", b_dir, id,
                        (int)(eb ? 0 : lb), eb ? "" : pb, (int)(ea ? 0 : la), ea ? "" : pa, a_dir);
        rl_release(pa); rl_release(pb);
    }
    rl_tokenizer_close(a); rl_tokenizer_close(b);
    return rc;
}

rl_model *rl_cli_open_draft(const rl_cli_opts *o, const rl_model *target, int *failed) {
    *failed = 0;
    if (!o->draft_model) return NULL;
    const char *dir = rl_hub_model_dir(o->draft_model);
    rl_model_opts mo = o->model;
    mo.mem_budget = RL_MEM_BUDGET_AUTO; /* resident as far as memory allows */
    mo.n_seq = 1;
    rl_model *d = dir ? rl_model_open(dir, &mo) : NULL;
    if (d && rl_model_vocab(d) != rl_model_vocab(target)) {
        rl_err("draft model %s: vocabulary of %d tokens, the target %s has %d", dir, rl_model_vocab(d), o->model_dir,
               rl_model_vocab(target));
        rl_model_close(d);
        d = NULL;
    }
    if (d && same_vocab(o->model_dir, dir, rl_model_vocab(d))) { rl_model_close(d); d = NULL; }
    if (!d) { fprintf(stderr, "error: %s\n", rl_errmsg()); *failed = 1; }
    return d;
}
