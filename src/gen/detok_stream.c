/* Streaming detokenizer (see detok_stream.h). */
#include "gen/detok_stream.h"
#include "gen/out_router.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTX_KEEP 8

struct rl_detok_stream {
    const rl_tokenizer *t;
    int32_t *ids;        /* context then generated */
    int n_ctx, n, cap;
    size_t ctx_len;      /* bytes of decode(context) */
    char *text;          /* decode(context + generated) minus the context part */
    size_t text_len, printed;
    rl_out_router *hm;   /* harmony / <think> tokenizers: the answer apart from reasoning and tool calls */
    rl_detok_stream *rs; /* ... and the reasoning goes here */
    struct { char name[96]; int seq; rl_detok_stream *args; } calls[RL_DETOK_MAX_CALLS]; /* ... and tool calls */
    int n_calls;
};

static rl_detok_stream *stream_new(const rl_tokenizer *t, const int32_t *context, int n_context, int route);

rl_detok_stream *rl_detok_stream_new(const rl_tokenizer *t, const int32_t *context, int n_context) {
    return stream_new(t, context, n_context, 1);
}

static rl_detok_stream *stream_new(const rl_tokenizer *t, const int32_t *context, int n_context, int route) {
    rl_detok_stream *s = calloc(1, sizeof *s);
    if (!s) { rl_err("out of memory"); return NULL; }
    s->t = t;
    if (route && (s->hm = rl_out_router_new(t))) { /* the prompt sets the router's state; no text context */
        for (int i = 0; i < n_context; i++) rl_out_router_route(s->hm, context[i]);
        n_context = 0;
        if (!(s->rs = stream_new(t, NULL, 0, 0))) { rl_detok_stream_free(s); return NULL; }
    }
    if (n_context > CTX_KEEP) { context += n_context - CTX_KEEP; n_context = CTX_KEEP; }
    s->cap = 64 + n_context;
    s->ids = malloc((size_t)s->cap * sizeof *s->ids);
    if (!s->ids) { free(s); rl_err("out of memory"); return NULL; }
    if (n_context) memcpy(s->ids, context, (size_t)n_context * sizeof *s->ids);
    s->n_ctx = s->n = n_context;
    char *txt = NULL;
    size_t len = 0;
    if (n_context && rl_tok_decode(t, s->ids, (size_t)n_context, 1, &txt, &len)) { rl_detok_stream_free(s); return NULL; }
    s->ctx_len = len;
    free(txt);
    return s;
}

void rl_detok_stream_free(rl_detok_stream *s) {
    if (!s) return;
    rl_out_router_free(s->hm);
    rl_detok_stream_free(s->rs);
    for (int i = 0; i < s->n_calls; i++) rl_detok_stream_free(s->calls[i].args);
    free(s->ids); free(s->text); free(s);
}

/* Length of the prefix of t[0..n) that ends on a complete character that is not a trailing
 * U+FFFD (an incomplete byte sequence decodes to U+FFFD until its last byte arrives). */
static size_t complete_prefix(const char *t, size_t n) {
    size_t end = n;
    /* drop an incomplete UTF-8 sequence at the end */
    size_t i = n;
    while (i > 0 && i > n - 4 && ((unsigned char)t[i - 1] & 0xC0) == 0x80) i--;
    if (i > 0) {
        unsigned char c = (unsigned char)t[i - 1];
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (n - (i - 1) < need) end = i - 1;
    }
    /* hold back trailing replacement characters */
    while (end >= 3 && (unsigned char)t[end - 3] == 0xEF && (unsigned char)t[end - 2] == 0xBF && (unsigned char)t[end - 1] == 0xBD) end -= 3;
    return end;
}

int rl_detok_stream_push(rl_detok_stream *s, int32_t tok, const char **piece, size_t *len) {
    if (s->hm) {
        rl_hm_route r = rl_out_router_route(s->hm, tok);
        if (r != RL_HM_CONTENT) {
            *piece = "";
            *len = 0;
            const char *rp;
            size_t rl;
            if (r == RL_HM_CALL) { /* a message to a recipient: a tool call of its own */
                int seq = rl_out_router_message_seq(s->hm);
                if (!s->n_calls || s->calls[s->n_calls - 1].seq != seq) {
                    if (s->n_calls == RL_DETOK_MAX_CALLS) return 0; /* (more calls than kept: dropped) */
                    if (!(s->calls[s->n_calls].args = stream_new(s->t, NULL, 0, 0))) return -1;
                    snprintf(s->calls[s->n_calls].name, sizeof s->calls[0].name, "%s", rl_out_router_recipient(s->hm));
                    s->calls[s->n_calls++].seq = seq;
                }
                return rl_detok_stream_push(s->calls[s->n_calls - 1].args, tok, &rp, &rl);
            }
            return r == RL_HM_REASONING ? rl_detok_stream_push(s->rs, tok, &rp, &rl) : 0;
        }
    }
    if (s->n == s->cap) {
        int32_t *n = realloc(s->ids, (size_t)(s->cap *= 2) * sizeof *n);
        if (!n) return rl_err("out of memory");
        s->ids = n;
    }
    s->ids[s->n++] = tok;
    char *full = NULL;
    size_t flen = 0;
    if (rl_tok_decode(s->t, s->ids, (size_t)s->n, 1, &full, &flen)) return -1;
    size_t skip = s->ctx_len <= flen ? s->ctx_len : flen;
    free(s->text);
    s->text_len = flen - skip;
    s->text = malloc(s->text_len + 1);
    if (!s->text) { free(full); return rl_err("out of memory"); }
    memcpy(s->text, full + skip, s->text_len);
    s->text[s->text_len] = 0;
    free(full);
    size_t end = complete_prefix(s->text, s->text_len);
    if (end < s->printed) end = s->printed;
    *piece = s->text + s->printed;
    *len = end - s->printed;
    s->printed = end;
    return 0;
}

int rl_detok_stream_finish(rl_detok_stream *s, const char **piece, size_t *len) {
    if (s->rs) { const char *rp; size_t rl; rl_detok_stream_finish(s->rs, &rp, &rl); }
    *piece = s->text ? s->text + s->printed : "";
    *len = s->text && s->text_len > s->printed ? s->text_len - s->printed : 0;
    s->printed += *len;
    return 0;
}

int rl_detok_stream_n_calls(const rl_detok_stream *s) { return s->n_calls; }

const char *rl_detok_stream_call(const rl_detok_stream *s, int i, const char **args, size_t *args_len) {
    if (i < 0 || i >= s->n_calls) return NULL;
    *args = rl_detok_stream_text(s->calls[i].args, args_len);
    return s->calls[i].name;
}

const char *rl_detok_stream_reasoning(const rl_detok_stream *s, size_t *len) {
    if (!s->rs || !s->rs->text) { if (len) *len = 0; return ""; }
    if (len) *len = s->rs->printed; /* complete characters (all of it after finish) */
    return s->rs->text;
}

const char *rl_detok_stream_text(const rl_detok_stream *s, size_t *len) {
    if (len) *len = s->text_len;
    return s->text ? s->text : "";
}
