/* The output router (see out_router.h): a small state machine over the control tokens. Harmony:
 * a message's route is fixed at its <|message|> from the header and channel text before it;
 * <think>: inside or outside the tags. */
#include "gen/out_router.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OUT, HEADER, CHANNEL, MESSAGE, THINK };
#define HDR_MAX 64

struct rl_out_router {
    const rl_tokenizer *t;
    int harmony;                             /* else <think> tags */
    int32_t start, channel, message, end, ret, call;
    int32_t think, unthink;
    int after_think;                         /* just past </think>: its whitespace is dropped */
    int state;
    rl_hm_route route;                       /* of the current message */
    int32_t hdr[HDR_MAX], chan[HDR_MAX];     /* header / channel tokens of the message being opened */
    int n_hdr, n_chan;
    char to[96];                             /* the current message's recipient, or "" */
    int seq;
};

rl_out_router *rl_out_router_new(const rl_tokenizer *t) {
    int32_t s = rl_tok_token_id(t, "<|start|>"), c = rl_tok_token_id(t, "<|channel|>"), m = rl_tok_token_id(t, "<|message|>"),
            e = rl_tok_token_id(t, "<|end|>"), th = rl_tok_token_id(t, "<think>"), un = rl_tok_token_id(t, "</think>");
    int harmony = s >= 0 && c >= 0 && m >= 0 && e >= 0;
    if (!harmony && (th < 0 || un < 0)) return NULL;
    rl_out_router *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    *h = (rl_out_router){.t = t, .harmony = harmony, .start = s, .channel = c, .message = m, .end = e,
                         .ret = rl_tok_token_id(t, "<|return|>"), .call = rl_tok_token_id(t, "<|call|>"), .think = th,
                         .unthink = un, .state = OUT, .route = RL_HM_CONTENT};
    return h;
}

void rl_out_router_free(rl_out_router *h) { free(h); }

/* The decoded text of ids[0..n) contains `what` (a failed decode counts as not); with to, the
 * word after "to=" is copied there. */
static int has(const rl_out_router *h, const int32_t *ids, int n, const char *what, char *to, size_t cap) {
    char *txt = NULL;
    size_t len = 0;
    if (!n || rl_tok_decode(h->t, ids, (size_t)n, 1, &txt, &len)) { free(txt); return 0; }
    const char *f = strstr(txt, what);
    if (f && to) {
        const char *b = f + strlen(what), *e = b;
        while (*e && *e != ' ' && *e != '\n' && *e != '<') e++;
        snprintf(to, cap, "%.*s", (int)(e - b), b);
    }
    free(txt);
    return f != NULL;
}

const char *rl_out_router_recipient(const rl_out_router *h) { return h->to; }
int rl_out_router_message_seq(const rl_out_router *h) { return h->seq; }

/* 1 if token tok decodes to whitespace only. */
static int blank(const rl_out_router *h, int32_t tok) {
    char *txt = NULL;
    size_t len = 0;
    int r = !rl_tok_decode(h->t, &tok, 1, 1, &txt, &len);
    for (size_t i = 0; r && i < len; i++) r = txt[i] == ' ' || txt[i] == '\n' || txt[i] == '\r' || txt[i] == '\t';
    free(txt);
    return r;
}

/* <think> tags: inside is reasoning; the whitespace right after </think> is dropped. */
static rl_hm_route think_route(rl_out_router *h, int32_t tok) {
    if (tok == h->think) { h->state = THINK; return RL_HM_SKIP; }
    if (tok == h->unthink) { h->state = OUT; h->after_think = 1; return RL_HM_SKIP; }
    if (h->state == THINK) return RL_HM_REASONING;
    if (h->after_think && blank(h, tok)) return RL_HM_SKIP;
    h->after_think = 0;
    return RL_HM_CONTENT;
}

rl_hm_route rl_out_router_route(rl_out_router *h, int32_t tok) {
    if (!h->harmony) return think_route(h, tok);
    if (tok == h->start) { h->state = HEADER; h->n_hdr = h->n_chan = 0; return RL_HM_SKIP; }
    if (tok == h->channel) { h->state = CHANNEL; return RL_HM_SKIP; }
    if (tok == h->message) { /* addressed to a recipient: a tool call; analysis: reasoning */
        h->to[0] = 0;
        int to = has(h, h->hdr, h->n_hdr, "to=", h->to, sizeof h->to) || has(h, h->chan, h->n_chan, "to=", h->to, sizeof h->to);
        h->route = to && h->to[0] ? RL_HM_CALL : has(h, h->chan, h->n_chan, "analysis", NULL, 0) ? RL_HM_REASONING : RL_HM_CONTENT;
        h->state = MESSAGE;
        h->seq++;
        return RL_HM_SKIP;
    }
    if (tok == h->end || (h->ret >= 0 && tok == h->ret) || (h->call >= 0 && tok == h->call)) { h->state = OUT; return RL_HM_SKIP; }
    switch (h->state) {
    case HEADER: if (h->n_hdr < HDR_MAX) h->hdr[h->n_hdr++] = tok; return RL_HM_SKIP;
    case CHANNEL: if (h->n_chan < HDR_MAX) h->chan[h->n_chan++] = tok; return RL_HM_SKIP;
    case MESSAGE: return h->route;
    default: return RL_HM_CONTENT; /* text outside any message */
    }
}
