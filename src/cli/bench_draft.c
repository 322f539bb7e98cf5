/* `bench MODEL_DIR --draft-model DRAFT`: the target streamed (--mem-budget 0, as every streaming
 * bench), the draft resident; -n tokens decoded after the same prompt, first without the draft
 * (the single-token streaming floor), then with it (the cost model, or --draft-fixed trees of
 * --draft-tokens), on the same open target. Prints s/token and tokens/s of both, the speedup,
 * sweeps, nodes/sweep, accepted/sweep and the time split (draft, target read, target compute);
 * with greedy decoding the two outputs must be the same ids (an error otherwise). */
#include "cli/bench_draft.h"
#include "cli/draft.h"
#include "cli/exitcode.h"
#include "gen/generate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One generation after prompt[0..P) from an empty cache; dm NULL = plain decoding. */
static int gen(rl_model *m, rl_model *dm, const rl_cli_opts *o, const int32_t *prompt, int P, int32_t *out, int *n_out,
               rl_gen_stats *st) {
    if (rl_model_rewind(m, 0)) return -1;
    rl_gen_opts g = {.max_new = o->n_new, .sampling = o->sampling, .ignore_eos = 1, .draft = dm ? o->draft : 0,
                     .draft_model = dm, .draft_tokens = o->draft_tokens, .draft_fixed = o->draft_fixed};
    return rl_generate(m, prompt, P, &g, out, n_out, st);
}

int rl_bench_draft(rl_cli_opts *o) {
    int dfail, rc = RL_EXIT_NOMEM;
    if (o->n_new < 1) { fprintf(stderr, "error: bench --draft-model needs -n of at least 1\n"); return RL_EXIT_USAGE; }
    rl_model *dm = rl_cli_open_draft(o, &dfail); /* first: the target's memory plan counts it */
    if (dfail) return rl_cli_exit_code();
    o->model.mem_budget = 0; /* measure streaming: nothing of the target resident */
    rl_model *m = rl_model_open(o->model_dir, &o->model);
    if (!m) { rl_model_close(dm); return rl_cli_fail(NULL); }
    if (rl_cli_check_draft(o, m, dm)) { int code = rl_cli_exit_code(); rl_model_close(m); return code; }
    int V = rl_model_vocab(m), P = 0;
    int32_t *prompt = NULL, *a = malloc((size_t)o->n_new * sizeof *a), *b = malloc((size_t)o->n_new * sizeof *b);
    if (o->ids) {
        if (rl_cli_parse_ids(o->ids, &prompt, &P)) { fprintf(stderr, "error: --ids must be a comma-separated list of token ids\n"); rc = RL_EXIT_USAGE; goto done; }
    } else if ((prompt = malloc(32 * sizeof *prompt))) { /* bench's fixed pseudo-random prompt */
        P = 32;
        for (int i = 0; i < P; i++) prompt[i] = (int32_t)((i * 7919 + 13) % V);
    }
    if (!prompt || !a || !b) { fprintf(stderr, "error: out of memory\n"); goto done; }
    rl_gen_stats sa, sb;
    int na = 0, nb = 0;
    printf("draft bench: target %s streamed (--mem-budget 0), draft %s, prompt %d tokens, -n %d, %s\n", o->model_dir,
           o->draft_model, P, o->n_new,
           o->draft_fixed ? "fixed trees (--draft-fixed)" : "tree size by the cost model");
    if (gen(m, NULL, o, prompt, P, a, &na, &sa) || gen(m, dm, o, prompt, P, b, &nb, &sb)) {
        rc = rl_cli_fail(NULL);
        goto done;
    }
    double ta = na > 1 ? sa.decode_s / (na - 1) : 0, tb = nb > 1 ? sb.decode_s / (nb - 1) : 0;
    printf("no draft    %8.4f s/token %9.2f tok/s  %d sweeps\n", ta, ta > 0 ? 1 / ta : 0, sa.sweeps);
    printf("with draft  %8.4f s/token %9.2f tok/s  %d sweeps", tb, tb > 0 ? 1 / tb : 0, sb.sweeps);
    rl_cli_draft_summary(stdout, sb.sweeps, sb.drafted, sb.accepted, 1, sb.draft_s, sb.target_s - sb.target_compute_s,
                         sb.target_compute_s);
    printf("\nspeedup %.2f x (no-draft s/token / with-draft s/token)\n", tb > 0 ? ta / tb : 0);
    if (o->sampling.temperature <= 0) {
        int same = na == nb && !memcmp(a, b, (size_t)na * sizeof *a);
        printf("greedy ids identical: %s\n", same ? "yes" : "NO");
        if (!same) { fprintf(stderr, "error: speculative decoding changed the greedy output\n"); rc = RL_EXIT_INPUT; goto done; }
    }
    rc = 0;
done:
    free(prompt); free(a); free(b);
    rl_model_close(dm);
    rl_model_close(m);
    return rc;
}
