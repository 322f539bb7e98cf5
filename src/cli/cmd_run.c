/* `rabbitllm run`: generate from token ids (--ids) or text (-p); prints ids or streams text. */
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "cli/profile.h"
#include "cli/clitext.h"
#include "cli/trace.h"
#include "cli/draft.h"
#include "gen/generate.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump_rows(void *ctx, const float *rows, int n, int vocab) {
    return fwrite(rows, sizeof(float), (size_t)n * vocab, (FILE *)ctx) != (size_t)n * vocab;
}

/* run -p: prompt text through the chat template (or raw), streamed answer on stdout. */
static int run_text(const rl_cli_opts *o) {
    rl_session *s = rl_cli_session_open(o);
    if (!s) return rl_cli_exit_code();
    rl_chat_message msgs[2];
    int n = 0;
    if (o->system) msgs[n++] = (rl_chat_message){"system", o->system};
    msgs[n++] = (rl_chat_message){"user", o->prompt};
    rl_gen_params p = rl_cli_gen_params(o);
    p.on_text = rl_cli_to_stdout;
    p.on_reasoning = rl_cli_reasoning_to_stderr;
    rl_gen_info in;
    int rc = rl_session_template(s) ? rl_session_chat(s, msgs, n, &p, NULL, &in)
                                    : rl_session_generate(s, o->prompt, &p, NULL, &in);
    fflush(stdout);
    if (rc) rc = rl_cli_fail(NULL);
    else {
        rl_cli_print_summary(stderr, &in);
        if (o->profile) rl_profile_print(rl_session_model(s), stderr);
    }
    rl_session_close(s);
    return rc;
}

int cmd_run(int argc, char **argv) {
    rl_cli_opts o;
    int prc = rl_cli_parse(argc, argv, &o);
    if (prc) return prc;
    if (o.prompt && o.ids) { fprintf(stderr, "error: give either --ids or -p, not both\n"); return RL_EXIT_USAGE; }
    if (o.ids_file || o.prompts) return rl_run_batch(&o);
    if (o.prompt) return run_text(&o);
    if (!o.ids) { fprintf(stderr, "error: run needs --ids 1,2,3 or -p TEXT\n"); return RL_EXIT_USAGE; }
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if (rl_cli_parse_ids(o.ids, &prompt, &n_prompt)) { fprintf(stderr, "error: --ids must be a comma-separated list of token ids\n"); return RL_EXIT_USAGE; }
    int dfail;
    rl_model *dm = rl_cli_open_draft(&o, &dfail); /* first: the target's memory plan counts it */
    if (dfail) { free(prompt); return rl_cli_exit_code(); }
    rl_model *m = rl_model_open(o.model_dir, &o.model);
    if (!m) { rl_model_close(dm); free(prompt); return rl_cli_fail(NULL); }
    if (rl_cli_check_draft(&o, m, dm)) { int code = rl_cli_exit_code(); rl_model_close(m); free(prompt); return code; }
    FILE *tf = NULL;
    if (o.trace && !(tf = rl_cli_trace_open(m, o.trace))) { rl_model_close(dm); rl_model_close(m); free(prompt); return rl_cli_exit_code(); }

    char tmp[4200] = "";
    FILE *df = NULL;
    if (o.dump_logits) {
        snprintf(tmp, sizeof tmp, "%s.tmp", o.dump_logits);
        if (!(df = fopen(tmp, "wb"))) { fprintf(stderr, "error: %s: cannot create: %s\n", tmp, strerror(errno)); rl_model_close(dm); rl_model_close(m); free(prompt); return RL_EXIT_IO; }
    }
    int32_t *out = malloc(((size_t)o.n_new + 1) * sizeof *out);
    rl_gen_opts g = {.max_new = o.n_new, .sampling = o.sampling, .ignore_eos = o.ignore_eos, .draft = o.draft,
                     .on_logits = df ? dump_rows : NULL, .ctx = df, .draft_model = dm, .draft_tokens = o.draft_tokens,
                     .draft_fixed = o.draft_fixed};
    int n_out = 0, rc = 0;
    rl_gen_stats st;
    if (o.profile) rl_profile_reset(m);
    if (!out || rl_generate(m, prompt, n_prompt, &g, out, &n_out, &st)) {
        if (out) rc = rl_cli_fail(NULL);
        else { fprintf(stderr, "error: out of memory\n"); rc = RL_EXIT_NOMEM; }
    } else {
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
        fprintf(stderr, "%d prompt tokens in %.3f s (%.1f tok/s), %d generated in %.3f s (%.2f tok/s, %d sweeps",
                st.n_prompt, st.prefill_s, st.prefill_s > 0 ? st.n_prompt / st.prefill_s : 0,
                st.n_gen, st.decode_s, st.decode_s > 0 && st.n_gen > 1 ? (st.n_gen - 1) / st.decode_s : 0, st.sweeps);
        if (dm) rl_cli_draft_summary(stderr, st.sweeps, st.drafted, st.accepted, 1, st.draft_s,
                                     st.target_s - st.target_compute_s, st.target_compute_s);
        else if (st.drafted) fprintf(stderr, ", %d of %d draft tokens accepted", st.accepted, st.drafted);
        if (st.ctx_full) fprintf(stderr, ", stopped: context full (--ctx)");
        fprintf(stderr, ")\n");
        if (o.profile) {
            rl_profile_print(m, stderr);
            if (dm) rl_profile_print_draft(dm, st.sweeps, st.drafted, st.accepted, st.draft_s,
                                           st.target_s - st.target_compute_s, st.target_compute_s, stderr);
        }
    }
    if (rl_cli_trace_close(m, tf) && !rc) { fprintf(stderr, "error: %s: write failed\n", o.trace); rc = RL_EXIT_IO; }
    if (df) {
        if (fclose(df) != 0 && !rc) { fprintf(stderr, "error: %s: write failed\n", tmp); rc = RL_EXIT_IO; }
        if (!rc && rename(tmp, o.dump_logits)) { fprintf(stderr, "error: %s: cannot rename: %s\n", o.dump_logits, strerror(errno)); rc = RL_EXIT_IO; }
        if (rc) remove(tmp);
    }
    free(out); free(prompt);
    rl_model_close(dm);
    rl_model_close(m);
    return rc;
}
