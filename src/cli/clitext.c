/* The CLI's glue to the public session API (see clitext.h). */
#include "cli/clitext.h"
#include "cli/draft.h"
#include "cli/exitcode.h"
#include <unistd.h>

rl_session *rl_cli_session_open(const rl_cli_opts *o) {
    rl_session_opts so = {.model = o->model, .raw = o->raw, .draft_model = o->draft_model, .draft_tokens = o->draft_tokens,
                          .draft_backend = o->draft_backend, .draft_fixed = o->draft_fixed};
    rl_session *s = rl_session_open(o->model_dir, &so);
    if (!s) { rl_cli_fail(NULL); return NULL; }   /* the caller exits with rl_cli_exit_code() */
    if (!o->raw && !rl_session_template(s))
        fprintf(stderr, "note: %s has no chat template; sending the text as is\n", o->model_dir);
    return s;
}

rl_gen_params rl_cli_gen_params(const rl_cli_opts *o) {
    rl_gen_params p = rl_gen_params_default();
    p.max_tokens = o->n_new;
    p.sampling = o->sampling;
    p.ignore_eos = o->ignore_eos;
    p.draft = o->draft;
    return p;
}

int rl_cli_to_stdout(void *user, const char *piece, size_t len) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int rl_cli_reasoning_to_stderr(void *user, const char *piece, size_t len) {
    (void)user;
    int tty = isatty(fileno(stderr));
    fprintf(stderr, "%s%.*s%s", tty ? "\033[2m" : "", (int)len, piece, tty ? "\033[0m" : "");
    fflush(stderr);
    return 0;
}

void rl_cli_print_summary(FILE *f, const rl_gen_info *in) {
    int evaluated = in->n_prompt - in->n_reused;
    fprintf(f, "\n[%d prompt tokens, %.1f tok/s prefill; %d generated, %.2f tok/s decode",
            evaluated, in->prefill_s > 0 ? evaluated / in->prefill_s : 0.0, in->n_gen,
            in->decode_s > 0 && in->n_gen > 1 ? (in->n_gen - 1) / in->decode_s : 0.0);
    int model_draft = in->draft_s > 0 || in->target_compute_s > 0; /* a draft model ran */
    if (model_draft || in->drafted)
        rl_cli_draft_summary(f, in->sweeps, in->drafted, in->accepted, model_draft, in->draft_s, in->target_read_s,
                             in->target_compute_s);
    fprintf(f, "%s%s]\n", in->finish == RL_FINISH_CANCELLED ? ", interrupted" : "",
            in->ctx_full ? ", stopped: context full (--ctx)" : "");
}
