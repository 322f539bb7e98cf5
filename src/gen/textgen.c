/* Text generation core: prompts, stop handling, prefix reuse, streamed pieces (see textgen.h). */
#include "gen/textgen.h"
#include "gen/spec_tree.h"
#include "gen/detok_stream.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

/* Token texts that end a turn in the chat formats we know; used only if the vocabulary has them. */
static const char *END_OF_TURN[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>",
                                    "<|endoftext|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", NULL};

int rl_textgen_open(rl_textgen *g, const char *model_dir, const rl_model_opts *mo, int raw) {
    memset(g, 0, sizeof *g);
    if (!(g->tok = rl_tok_load(model_dir))) return -1;
    if (!(g->m = rl_model_open(model_dir, mo))) { rl_textgen_close(g); return -1; }
    if (!(g->cache = malloc(((size_t)rl_model_ctx(g->m) + 1) * sizeof *g->cache))) {
        rl_textgen_close(g);
        return rl_err("out of memory");
    }
    if (!raw) {
        int found = 0;
        g->tmpl = rl_chat_template_load(model_dir, &found);
        if (!g->tmpl && found) { rl_textgen_close(g); return -1; }
    }
    const char *eos = rl_tok_config_str(g->tok, "eos_token");
    if (eos) { int id = rl_tok_token_id(g->tok, eos); if (id >= 0) g->stop[g->n_stop++] = id; }
    for (int i = 0; END_OF_TURN[i] && g->n_stop < 16; i++) {
        int id = rl_tok_token_id(g->tok, END_OF_TURN[i]);
        if (id >= 0) g->stop[g->n_stop++] = id;
    }
    return 0;
}

int rl_textgen_set_draft(rl_textgen *g, const char *target_dir, const char *draft_dir, rl_model *d, int draft_tokens, int fixed) {
    if (rl_draft_check(target_dir, g->m, draft_dir, d)) { rl_model_close(d); return -1; }
    rl_model_close(g->draft);
    g->draft = d;
    g->draft_tokens = draft_tokens;
    g->draft_fixed = fixed;
    return 0;
}

void rl_textgen_close(rl_textgen *g) {
    rl_model_close(g->draft);
    rl_model_close(g->m);
    rl_tok_free(g->tok);
    rl_chat_template_free(g->tmpl);
    free(g->cache);
    memset(g, 0, sizeof *g);
}

int rl_textgen_prompt_ex(rl_textgen *g, const cJSON *messages, const cJSON *extra, const char *raw, int32_t **ids, int *n) {
    size_t nn = 0;
    int rc;
    *ids = NULL;
    if (g->tmpl && messages) {
        char *text = NULL;
        if (rl_chat_template_render(g->tmpl, messages, 1, extra, &text)) return rl_err_prefix("chat template: ");
        rc = rl_tok_encode(g->tok, text, strlen(text), 0, ids, &nn);
        free(text);
    } else {
        if (!raw) return rl_err("no prompt text");
        rc = rl_tok_encode(g->tok, raw, strlen(raw), 1, ids, &nn);
    }
    *n = (int)nn;
    return rc;
}

int rl_textgen_prompt(rl_textgen *g, const cJSON *messages, const char *raw, int32_t **ids, int *n) {
    return rl_textgen_prompt_ex(g, messages, NULL, raw, ids, n);
}

int rl_textgen_reuse_prefix(rl_textgen *g, const int32_t *ids, int n) {
    int common = 0;
    while (common < g->n_cache && common < n - 1 && g->cache[common] == ids[common]) common++;
    rl_model_rewind(g->m, common);
    g->n_cache = common;
    return common;
}

void rl_textgen_commit(rl_textgen *g, const int32_t *ids, int n, const int32_t *gen, int n_gen) {
    int cap = rl_model_ctx(g->m) + 1;
    g->n_cache = 0;
    if (n > cap) { rl_textgen_reset(g); return; }
    memcpy(g->cache, ids, (size_t)n * sizeof *g->cache);
    g->n_cache = n;
    for (int i = 0; i + 1 < n_gen && g->n_cache < cap; i++) g->cache[g->n_cache++] = gen[i];
    if (g->n_cache != rl_model_pos(g->m)) rl_textgen_reset(g);
}

void rl_textgen_reset(rl_textgen *g) {
    rl_model_rewind(g->m, 0);
    g->n_cache = 0;
}

typedef struct {
    rl_detok_stream *ds;
    const rl_textgen_params *p;
    size_t complete;   /* bytes of the text known complete (whole characters) */
    size_t emitted;    /* bytes handed to on_text */
    size_t cut;        /* where a stop string starts, or SIZE_MAX */
    size_t reasoned;   /* bytes of the reasoning handed to on_reasoning */
    int failed, cancelled;
} stream_ctx;

/* Hands the reasoning that grew since the last call to on_reasoning; 1 if it asks to stop. */
static int emit_reasoning(stream_ctx *c) {
    size_t rl;
    const char *r = rl_detok_stream_reasoning(c->ds, &rl);
    if (rl <= c->reasoned || !c->p->on_reasoning) return 0;
    int stop = c->p->on_reasoning(c->p->ctx, r + c->reasoned, rl - c->reasoned);
    c->reasoned = rl;
    return stop;
}

/* Hands text[emitted..end) to on_text; 1 if it asks to stop. */
static int emit(stream_ctx *c, const char *text, size_t end) {
    int stop = 0;
    if (end > c->emitted && c->p->on_text) stop = c->p->on_text(c->p->ctx, text + c->emitted, end - c->emitted);
    if (end > c->emitted) c->emitted = end;
    if (stop) c->cancelled = 1;
    return stop;
}

/* Looks for a stop string in the complete text and emits what can no longer become one.
 * Returns 1 when generation should stop (a stop string was found or on_text said stop). */
static int advance(stream_ctx *c) {
    size_t tl;
    const char *t = rl_detok_stream_text(c->ds, &tl);
    size_t end = c->complete < tl ? c->complete : tl;
    if (end < c->emitted) end = c->emitted;
    const rl_textgen_params *p = c->p;
    if (!p->n_stop_strings) return emit(c, t, end);
    /* a stop string can only start at or after emitted: any earlier start was held back */
    size_t best = SIZE_MAX;
    for (int i = 0; i < p->n_stop_strings; i++) {
        size_t sl = strlen(p->stop_strings[i]);
        if (!sl || end - c->emitted < sl) continue;
        const char *f = memmem(t + c->emitted, end - c->emitted, p->stop_strings[i], sl);
        if (f && (size_t)(f - t) < best) best = (size_t)(f - t);
    }
    if (best != SIZE_MAX) { c->cut = best; emit(c, t, best); return 1; }
    /* hold back the longest tail that is the start of a stop string */
    size_t hold = 0;
    for (int i = 0; i < p->n_stop_strings; i++) {
        size_t sl = strlen(p->stop_strings[i]);
        for (size_t k = sl ? sl - 1 : 0; k > hold; k--)
            if (k <= end - c->emitted && !memcmp(t + end - k, p->stop_strings[i], k)) { hold = k; break; }
    }
    size_t safe = end - hold;
    while (safe > c->emitted && ((unsigned char)t[safe] & 0xC0) == 0x80) safe--;
    return emit(c, t, safe);
}

static int on_token(void *arg, int32_t tok) {
    stream_ctx *c = arg;
    const char *piece;
    size_t len;
    if (rl_detok_stream_push(c->ds, tok, &piece, &len)) { c->failed = 1; return 1; }
    c->complete += len;
    if (emit_reasoning(c) || advance(c)) return 1;
    if ((c->p->interrupt && *c->p->interrupt) || (c->p->cancel && atomic_load(c->p->cancel))) { c->cancelled = 1; return 1; }
    return 0;
}

int rl_textgen_run(rl_textgen *g, const int32_t *context, int n_context, const int32_t *new_ids, int n_new,
                   const rl_textgen_params *p, rl_textgen_result *r) {
    memset(r, 0, sizeof *r);
    int max_new = p->max_new > 0 ? p->max_new : 0;
    int32_t *out = malloc(((size_t)max_new + 1) * sizeof *out);
    stream_ctx sc = {.ds = rl_detok_stream_new(g->tok, context, n_context), .p = p, .cut = SIZE_MAX};
    if (!out || !sc.ds) { free(out); rl_detok_stream_free(sc.ds); return rl_err("out of memory"); }
    rl_gen_opts go = {.max_new = max_new, .sampling = p->sampling, .ignore_eos = p->ignore_eos, .draft = p->draft,
                      .stop_ids = g->stop, .n_stop = g->n_stop, .on_token = on_token, .ctx = &sc,
                      .draft_model = g->draft, .draft_tokens = g->draft_tokens, .draft_fixed = g->draft_fixed};
    int n_out = 0;
    int rc = rl_generate(g->m, new_ids, n_new, &go, out, &n_out, &r->st);
    if (!rc && sc.failed) rc = -1;
    if (!rc) {
        if (sc.cut == SIZE_MAX) {
            const char *piece;
            size_t len;
            rl_detok_stream_finish(sc.ds, &piece, &len);
            sc.complete += len;
            emit_reasoning(&sc);
            if (!advance(&sc) && sc.cut == SIZE_MAX) {   /* the end: nothing more can complete a stop string */
                size_t tl;
                const char *t = rl_detok_stream_text(sc.ds, &tl);
                emit(&sc, t, tl);
            }
        }
        size_t tl;
        const char *t = rl_detok_stream_text(sc.ds, &tl);
        if (sc.cut != SIZE_MAX && sc.cut < tl) tl = sc.cut;
        r->text = strndup(t, tl);
        r->ids = out; out = NULL;
        r->n_ids = n_out;
        r->finish = sc.cut != SIZE_MAX || r->st.stopped_by_eos ? RL_FINISH_STOP
                  : sc.cancelled ? RL_FINISH_CANCELLED : RL_FINISH_LENGTH;
        if (!r->text) { rl_textgen_result_free(r); rc = rl_err("out of memory"); }
    }
    free(out);
    rl_detok_stream_free(sc.ds);
    return rc;
}

void rl_textgen_result_free(rl_textgen_result *r) {
    free(r->text); free(r->ids);
    memset(r, 0, sizeof *r);
}
