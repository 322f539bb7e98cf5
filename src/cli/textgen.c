/* Text front end shared by run -p and chat (see textgen.h). */
#include "cli/textgen.h"
#include "gen/detok_stream.h"
#include "gen/generate.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Token texts that end a turn in the chat formats we know; used only if the vocabulary has them. */
static const char *END_OF_TURN[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>",
                                    "<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", NULL};

int rl_textgen_open(rl_textgen *g, const rl_cli_opts *o) {
    memset(g, 0, sizeof *g);
    g->o = o;
    if (!(g->tok = rl_tok_load(o->model_dir))) return -1;
    if (!(g->m = rl_model_open(o->model_dir, &o->model))) { rl_textgen_close(g); return -1; }
    if (!o->raw) {
        int found = 0;
        g->tmpl = rl_chat_template_load(o->model_dir, &found);
        if (!g->tmpl && found) { rl_textgen_close(g); return -1; }
        if (!g->tmpl) fprintf(stderr, "note: %s has no chat template; sending the text as is\n", o->model_dir);
    }
    const char *eos = rl_tok_config_str(g->tok, "eos_token");
    if (eos) { int id = rl_tok_token_id(g->tok, eos); if (id >= 0) g->stop[g->n_stop++] = id; }
    for (int i = 0; END_OF_TURN[i] && g->n_stop < 16; i++) {
        int id = rl_tok_token_id(g->tok, END_OF_TURN[i]);
        if (id >= 0) g->stop[g->n_stop++] = id;
    }
    return 0;
}

void rl_textgen_close(rl_textgen *g) {
    rl_model_close(g->m);
    rl_tok_free(g->tok);
    rl_chat_template_free(g->tmpl);
    memset(g, 0, sizeof *g);
}

int rl_textgen_prompt(rl_textgen *g, const cJSON *messages, const char *raw, int32_t **ids, int *n) {
    size_t nn = 0;
    int rc;
    if (g->tmpl && messages) {
        char *text = NULL;
        if (rl_chat_template_render(g->tmpl, messages, 1, NULL, &text)) return rl_err_prefix("chat template: ");
        rc = rl_tok_encode(g->tok, text, strlen(text), 0, ids, &nn);
        free(text);
    } else {
        rc = rl_tok_encode(g->tok, raw, strlen(raw), 1, ids, &nn);
    }
    *n = (int)nn;
    return rc;
}

typedef struct {
    rl_detok_stream *ds;
    volatile sig_atomic_t *interrupt;
    int failed;
} stream_ctx;

static int on_token(void *arg, int32_t tok) {
    stream_ctx *c = arg;
    const char *p;
    size_t len;
    if (rl_detok_stream_push(c->ds, tok, &p, &len)) { c->failed = 1; return 1; }
    if (len) { fwrite(p, 1, len, stdout); fflush(stdout); }
    return c->interrupt && *c->interrupt;
}

int rl_textgen_generate(rl_textgen *g, const int32_t *context, int n_context, const int32_t *new_ids, int n_new,
                        volatile sig_atomic_t *interrupt, char **answer, int32_t **gen_ids, int *n_gen) {
    const rl_cli_opts *o = g->o;
    int32_t *out = malloc(((size_t)o->n_new + 1) * sizeof *out);
    stream_ctx sc = {rl_detok_stream_new(g->tok, context, n_context), interrupt, 0};
    if (!out || !sc.ds) { free(out); rl_detok_stream_free(sc.ds); return rl_err("out of memory"); }
    rl_gen_opts go = {.max_new = o->n_new, .sampling = o->sampling, .ignore_eos = o->ignore_eos,
                      .stop_ids = g->stop, .n_stop = g->n_stop, .on_token = on_token, .ctx = &sc};
    int n_out = 0;
    rl_gen_stats st;
    int rc = rl_generate(g->m, new_ids, n_new, &go, out, &n_out, &st);
    if (!rc && sc.failed) rc = -1;
    if (!rc) {
        const char *p;
        size_t len;
        rl_detok_stream_finish(sc.ds, &p, &len);
        if (len) fwrite(p, 1, len, stdout);
        fflush(stdout);
        fprintf(stderr, "\n[%d prompt tokens, %.1f tok/s prefill; %d generated, %.2f tok/s decode%s]\n",
                st.n_prompt, st.prefill_s > 0 ? st.n_prompt / st.prefill_s : 0.0, st.n_gen,
                st.decode_s > 0 && st.n_gen > 1 ? (st.n_gen - 1) / st.decode_s : 0.0,
                interrupt && *interrupt ? ", interrupted" : "");
        if (answer) {
            size_t tl;
            const char *t = rl_detok_stream_text(sc.ds, &tl);
            *answer = strndup(t, tl);
        }
        if (gen_ids) { *gen_ids = out; out = NULL; }
        if (n_gen) *n_gen = n_out;
    }
    free(out);
    rl_detok_stream_free(sc.ds);
    return rc;
}
