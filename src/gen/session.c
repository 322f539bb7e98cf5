/* The public text API of include/rabbitllm.h: sessions (model + tokenizer + chat template,
 * generation with prefix reuse, streamed pieces, cancellation) over gen/textgen.h. */
#include "gen/textgen.h"
#include "gen/spec_tree.h"
#include "hub/hub.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct rl_session {
    rl_textgen g;
    atomic_int cancel;
};

rl_session *rl_session_open(const char *model, const rl_session_opts *opts) {
    if (!model) { rl_err("rl_session_open: no model given"); return NULL; }
    char *dir = rl_hub_resolve(model);
    if (!dir) return NULL;
    rl_session *s = calloc(1, sizeof *s);
    if (!s) { free(dir); rl_err("out of memory"); return NULL; }
    atomic_init(&s->cancel, 0);
    /* speculative decoding: the draft opens first, so the target's memory plan counts it */
    char *dd = opts && opts->draft_model ? rl_hub_resolve(opts->draft_model) : NULL;
    rl_model *d = dd ? rl_draft_open(dd, &opts->model, opts->draft_backend, opts->model.n_seq) : NULL;
    int rc = opts && opts->draft_model && !d ? -1 : rl_textgen_open(&s->g, dir, opts ? &opts->model : NULL, opts ? opts->raw : 0);
    if (rc) rl_model_close(d);
    else if (d) {
        rc = rl_textgen_set_draft(&s->g, dir, dd, d, opts->draft_tokens, opts->draft_fixed);
        if (rc) rl_textgen_close(&s->g);
    }
    free(dd);
    free(dir);
    if (rc) { free(s); return NULL; }
    return s;
}

void rl_session_close(rl_session *s) {
    if (!s) return;
    rl_textgen_close(&s->g);
    free(s);
}

rl_model *rl_session_model(rl_session *s) { return s->g.m; }
rl_model *rl_session_draft_model(rl_session *s) { return s->g.draft; }
const rl_tokenizer *rl_session_tokenizer(const rl_session *s) { return s->g.tok; }
const rl_chat_template *rl_session_template(const rl_session *s) { return s->g.tmpl; }
int rl_session_stop_ids(const rl_session *s, const int32_t **ids) { *ids = s->g.stop; return s->g.n_stop; }
void rl_session_cancel(rl_session *s) { atomic_store(&s->cancel, 1); }

int rl_session_reset(rl_session *s) {
    rl_textgen_reset(&s->g);
    return 0;
}

rl_gen_params rl_gen_params_default(void) {
    return (rl_gen_params){.sampling = rl_sampling_default()};
}

/* Parses optional JSON of the expected shape (array / object); *out NULL when text is NULL. */
static int parse_json(const char *text, int want_array, const char *what, cJSON **out) {
    *out = NULL;
    if (!text) return 0;
    cJSON *j = cJSON_Parse(text);
    if (!j) return rl_err("%s: not valid JSON", what);
    if (want_array ? !cJSON_IsArray(j) : !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rl_err("%s: must be a JSON %s", what, want_array ? "array" : "object");
    }
    *out = j;
    return 0;
}

static int prompt_cjson(rl_session *s, const cJSON *msgs, const cJSON *extra, const char *text, int32_t **ids, int *n) {
    *ids = NULL; *n = 0;
    if (msgs && !s->g.tmpl) return rl_err("the model has no chat template (or the session is raw): give the prompt as text");
    if (!msgs && !text) return rl_err("no prompt: give messages or text");
    return rl_textgen_prompt_ex(&s->g, msgs, extra, msgs ? NULL : text, ids, n);
}

int rl_session_prompt(rl_session *s, const char *messages_json, const char *extra_json, const char *text,
                      int32_t **ids, int *n) {
    cJSON *msgs, *extra;
    *ids = NULL; *n = 0;
    if (parse_json(messages_json, 1, "messages", &msgs)) return -1;
    if (parse_json(extra_json, 0, "extra", &extra)) { cJSON_Delete(msgs); return -1; }
    int rc = prompt_cjson(s, msgs, extra, text, ids, n);
    cJSON_Delete(msgs);
    cJSON_Delete(extra);
    return rc;
}

int rl_session_generate_ids(rl_session *s, const int32_t *ids, int n, const rl_gen_params *p, char **text,
                            rl_gen_info *info) {
    rl_gen_params def = rl_gen_params_default();
    if (!p) p = &def;
    if (text) *text = NULL;
    if (info) memset(info, 0, sizeof *info);
    int ctx = rl_model_ctx(s->g.m), rc = -1;
    if (!ids || n <= 0) rl_err("the prompt is empty");
    else if (n >= ctx) rl_err("the prompt has %d tokens but the context holds %d (and at least one must be generated)", n, ctx);
    else if (p->max_tokens < 0 || p->n_stop < 0 || (p->n_stop > 0 && !p->stop)) rl_err("bad generation parameters (max_tokens, stop)");
    else {
        rl_textgen_params tp = {.max_new = p->max_tokens > 0 && p->max_tokens < ctx - n ? p->max_tokens : ctx - n,
                                .sampling = p->sampling, .ignore_eos = p->ignore_eos, .draft = p->draft,
                                .stop_strings = p->stop, .n_stop_strings = p->n_stop, .on_text = p->on_text, .on_reasoning = p->on_reasoning,
                                .ctx = p->user, .interrupt = p->cancel, .cancel = &s->cancel};
        int reused = rl_textgen_reuse_prefix(&s->g, ids, n);
        rl_textgen_result r;
        if (rl_textgen_run(&s->g, ids, n, ids + reused, n - reused, &tp, &r)) {
            rl_textgen_reset(&s->g);
        } else {
            rl_textgen_commit(&s->g, ids, n, r.ids, r.n_ids);
            if (info) *info = (rl_gen_info){.finish = r.finish, .ctx_full = r.st.ctx_full, .n_prompt = n,
                                            .n_reused = reused, .n_gen = r.n_ids, .prefill_s = r.st.prefill_s,
                                            .decode_s = r.st.decode_s, .drafted = r.st.drafted, .accepted = r.st.accepted,
                                            .sweeps = r.st.sweeps, .draft_s = r.st.draft_s,
                                            .target_read_s = r.st.target_s - r.st.target_compute_s,
                                            .target_compute_s = r.st.target_compute_s};
            if (text) { *text = r.text; r.text = NULL; }
            rl_textgen_result_free(&r);
            rc = 0;
        }
    }
    atomic_store(&s->cancel, 0);
    return rc;
}

static int generate_from(rl_session *s, const cJSON *msgs, const cJSON *extra, const char *raw, const rl_gen_params *p,
                         char **text, rl_gen_info *info) {
    int32_t *ids;
    int n;
    if (text) *text = NULL;
    if (prompt_cjson(s, msgs, extra, raw, &ids, &n)) { atomic_store(&s->cancel, 0); return -1; }
    int rc = rl_session_generate_ids(s, ids, n, p, text, info);
    free(ids);
    return rc;
}

int rl_session_generate(rl_session *s, const char *prompt, const rl_gen_params *p, char **text, rl_gen_info *info) {
    if (!prompt) return rl_err("rl_session_generate: no prompt");
    return generate_from(s, NULL, NULL, prompt, p, text, info);
}

int rl_session_chat(rl_session *s, const rl_chat_message *messages, int n, const rl_gen_params *p, char **text,
                    rl_gen_info *info) {
    if (text) *text = NULL;
    if (n < 0 || (n > 0 && !messages)) return rl_err("rl_session_chat: bad message list");
    cJSON *msgs = cJSON_CreateArray();
    for (int i = 0; msgs && i < n; i++) {
        if (!messages[i].role || !messages[i].content) { cJSON_Delete(msgs); return rl_err("message %d: role and content are required", i); }
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddStringToObject(m, "role", messages[i].role) ||
            !cJSON_AddStringToObject(m, "content", messages[i].content) || !cJSON_AddItemToArray(msgs, m)) {
            cJSON_Delete(m); cJSON_Delete(msgs); msgs = NULL;
        }
    }
    if (!msgs) return rl_err("out of memory");
    int rc = generate_from(s, msgs, NULL, NULL, p, text, info);
    cJSON_Delete(msgs);
    return rc;
}

int rl_session_chat_json(rl_session *s, const char *messages_json, const char *extra_json, const rl_gen_params *p,
                         char **text, rl_gen_info *info) {
    cJSON *msgs, *extra;
    if (text) *text = NULL;
    if (!messages_json) return rl_err("rl_session_chat_json: no messages");
    if (parse_json(messages_json, 1, "messages", &msgs)) return -1;
    if (parse_json(extra_json, 0, "extra", &extra)) { cJSON_Delete(msgs); return -1; }
    int rc = generate_from(s, msgs, extra, NULL, p, text, info);
    cJSON_Delete(msgs);
    cJSON_Delete(extra);
    return rc;
}
