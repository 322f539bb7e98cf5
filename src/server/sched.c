/* Continuous batching over rl_model_eval_batch (see sched.h): slots, steps, sampling with the
 * OpenAI knobs, stop strings over the streamed text. Speculative steps (a draft model) are in
 * sched_draft.c. */
#include "server/sched_int.h"
#include "server/tools.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char err_msg[512];

const char *rl_sched_last_error(void) { return err_msg; }

int rl_sched_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return -1;
}

double rl_sched_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

rl_sched *rl_sched_new(rl_session *g, int n_slots, int batch_tokens) {
    rl_model *m = rl_session_model(g);
    if (n_slots < 1 || n_slots > rl_model_n_seq(m)) { rl_sched_fail("serve: %d slots but the model has %d sequences", n_slots, rl_model_n_seq(m)); return NULL; }
    rl_sched *s = calloc(1, sizeof *s);
    if (!s) { rl_sched_fail("out of memory"); return NULL; }
    s->g = g; s->m = m; s->tok = rl_session_tokenizer(g);
    s->n_slots = n_slots;
    s->budget = batch_tokens > 0 ? batch_tokens : 256;
    if (s->budget < n_slots) s->budget = n_slots;
    s->vocab = rl_model_vocab(m);
    s->ctx = rl_model_ctx(m);
    s->n_stop_ids = rl_session_stop_ids(g, &s->stop_ids);
    s->slots = calloc((size_t)n_slots, sizeof *s->slots);
    s->items = calloc((size_t)n_slots, sizeof *s->items);
    s->item_slot = calloc((size_t)n_slots, sizeof *s->item_slot);
    s->item_last = calloc((size_t)n_slots, sizeof *s->item_last);
    s->logits = malloc((size_t)n_slots * (size_t)s->vocab * sizeof *s->logits);
    s->row = malloc((size_t)s->vocab * sizeof *s->row);
    s->mask = malloc((size_t)s->vocab);
    if (!s->slots || !s->items || !s->item_slot || !s->item_last || !s->logits || !s->row || !s->mask) {
        rl_sched_free(s);
        rl_sched_fail("out of memory");
        return NULL;
    }
    rl_session_reset(g);
    for (int i = 0; i < n_slots; i++) rl_model_seq_rewind(m, i, 0);
    return s;
}

static void slot_release(slot *sl) {
    rl_sampler_free(sl->smp); sl->smp = NULL;
    rl_detok_stream_free(sl->ds); sl->ds = NULL;
    free(sl->counts); sl->counts = NULL;
    free(sl->lp); sl->lp = NULL;
    sl->n_lp = sl->lp_cap = 0;
    sl->busy = 0;
}

void rl_sched_free(rl_sched *s) {
    if (!s) return;
    for (int i = 0; s->slots && i < s->n_slots; i++) { slot_release(&s->slots[i]); free(s->slots[i].toks); }
    free(s->slots); free(s->items); free(s->item_slot); free(s->item_last);
    free(s->logits); free(s->row); free(s->mask);
    free(s->dreq); free(s->trees); free(s->tlog); free(s->path);
    free(s);
}

int rl_sched_n_busy(const rl_sched *s) {
    int n = 0;
    for (int i = 0; i < s->n_slots; i++) n += s->slots[i].busy;
    return n;
}
int rl_sched_n_free(const rl_sched *s) { return s->n_slots - rl_sched_n_busy(s); }
void rl_sched_get_stats(const rl_sched *s, rl_sched_stats *st) { *st = s->st; }

int rl_sched_set_draft(rl_sched *s, rl_drafter *d) {
    int cap = rl_drafter_max_nodes(d);
    if (cap < s->n_slots) return rl_sched_fail("serve: %d slots but a sweep holds %d tree nodes (--batch)", s->n_slots, cap);
    s->dreq = malloc((size_t)s->n_slots * sizeof *s->dreq);
    s->trees = malloc((size_t)s->n_slots * sizeof *s->trees);
    s->tlog = malloc((size_t)cap * (size_t)s->vocab * sizeof *s->tlog);
    s->path = malloc((size_t)cap * sizeof *s->path);
    if (!s->dreq || !s->trees || !s->tlog || !s->path) return rl_sched_fail("out of memory");
    s->draft = d;
    return 0;
}

int rl_sched_push_tok(slot *sl, int32_t t) {
    if (sl->n_toks == sl->cap) {
        int cap = sl->cap ? sl->cap * 2 : 256;
        int32_t *n = realloc(sl->toks, (size_t)cap * sizeof *n);
        if (!n) return rl_sched_fail("out of memory");
        sl->toks = n; sl->cap = cap;
    }
    sl->toks[sl->n_toks++] = t;
    return 0;
}

int rl_sched_add(rl_sched *s, const rl_sched_task *t) {
    if (t->n_prompt < 1 || t->n_prompt >= s->ctx) return rl_sched_fail("serve: bad prompt length %d", t->n_prompt);
    /* the free slot sharing the longest prefix with the prompt (at most n - 1: one is evaluated) */
    int best = -1, best_common = -1;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->busy) continue;
        int c = 0;
        while (c < sl->n_cached && c < t->n_prompt - 1 && sl->toks[c] == t->prompt[c]) c++;
        if (c > best_common) { best = i; best_common = c; }
    }
    if (best < 0) return rl_sched_fail("serve: no free slot");
    slot *sl = &s->slots[best];
    if (rl_model_seq_rewind(s->m, best, best_common)) best_common = 0;
    if (rl_model_seq_pos(s->m, best) != best_common) { rl_model_seq_rewind(s->m, best, 0); best_common = 0; }
    sl->n_toks = sl->n_cached = best_common;
    for (int i = best_common; i < t->n_prompt; i++) if (rl_sched_push_tok(sl, t->prompt[i])) { sl->n_toks = sl->n_cached = 0; return -1; }
    sl->t = *t;
    sl->t.prompt = NULL;
    if (sl->t.top_logprobs > RL_SCHED_MAX_TOP) sl->t.top_logprobs = RL_SCHED_MAX_TOP;
    sl->n_prompt_end = t->n_prompt;
    sl->n_reused = best_common;
    sl->n_gen = 0;
    sl->has_next = 0;
    sl->complete = sl->emitted = sl->reasoned = 0;
    sl->cut = SIZE_MAX;
    sl->t_add = rl_sched_now();
    sl->ttft = 0;
    int nctx = t->n_prompt < 8 ? t->n_prompt : 8;
    sl->smp = rl_sampler_new(s->vocab, &t->sampling);
    sl->ds = rl_detok_stream_new(s->tok, t->prompt + t->n_prompt - nctx, nctx);
    sl->counts = calloc((size_t)s->vocab, sizeof *sl->counts);
    if (!sl->smp || !sl->ds || !sl->counts) { slot_release(sl); return rl_sched_fail("out of memory"); }
    sl->busy = 1;
    s->st.prompt_tokens += t->n_prompt;
    s->st.reused_tokens += best_common;
    return 0;
}

/* Sends text[emitted..end) with the pending logprobs. */
static void emit(slot *sl, const char *text, size_t end, int force) {
    if (end <= sl->emitted && !(force && sl->n_lp)) return;
    rl_sched_event e = {.text = text + sl->emitted, .len = end > sl->emitted ? end - sl->emitted : 0, .lp = sl->lp, .n_lp = sl->n_lp};
    sl->t.on_event(sl->t.user, &e);
    if (end > sl->emitted) sl->emitted = end;
    sl->n_lp = 0;
}

/* Sends the reasoning that grew since the last call (harmony's analysis channel) in an event of its own. */
static void emit_reasoning(slot *sl) {
    size_t rl;
    const char *r = rl_detok_stream_reasoning(sl->ds, &rl);
    if (rl <= sl->reasoned) return;
    rl_sched_event e = {.text = "", .reasoning_delta = r + sl->reasoned, .reasoning_len = rl - sl->reasoned};
    sl->reasoned = rl;
    sl->t.on_event(sl->t.user, &e);
}

/* Stop-string search over the complete text, emitting what can no longer start one; 1 = found. */
static int advance(slot *sl) {
    size_t tl;
    const char *t = rl_detok_stream_text(sl->ds, &tl);
    size_t end = sl->complete < tl ? sl->complete : tl;
    if (end < sl->emitted) end = sl->emitted;
    const rl_sched_task *p = &sl->t;
    size_t best = SIZE_MAX;
    for (int i = 0; i < p->n_stop; i++) {
        size_t l = strlen(p->stop[i]);
        if (!l || end - sl->emitted < l) continue;
        const char *f = memmem(t + sl->emitted, end - sl->emitted, p->stop[i], l);
        if (f && (size_t)(f - t) < best) best = (size_t)(f - t);
    }
    if (best != SIZE_MAX) { sl->cut = best; emit(sl, t, best, 1); return 1; }
    size_t hold = 0;
    for (int i = 0; i < p->n_stop; i++) {
        size_t l = strlen(p->stop[i]);
        for (size_t k = l ? l - 1 : 0; k > hold; k--)
            if (k <= end - sl->emitted && !memcmp(t + end - k, p->stop[i], k)) { hold = k; break; }
    }
    size_t safe = end - hold;
    while (safe > sl->emitted && ((unsigned char)t[safe] & 0xC0) == 0x80) safe--;
    emit(sl, t, safe, 0);
    return 0;
}

void rl_sched_finish(rl_sched *s, slot *sl, int how, const char *error) {
    if (!error) {
        if (sl->cut == SIZE_MAX) {
            const char *piece;
            size_t len;
            rl_detok_stream_finish(sl->ds, &piece, &len);
            sl->complete += len;
            emit_reasoning(sl); /* the reasoning's held-back end */
            if (!advance(sl) && sl->cut == SIZE_MAX) {
                size_t tl;
                const char *t = rl_detok_stream_text(sl->ds, &tl);
                emit(sl, t, tl, 1);
            }
        }
        if (sl->cut != SIZE_MAX) how = RL_FINISH_STOP;
        if (sl->n_lp) emit(sl, "", sl->emitted, 1);
    }
    rl_sched_event e = {.text = "", .done = 1, .finish = how, .error = error, .n_prompt = sl->n_prompt_end,
                        .n_reused = sl->n_reused, .n_gen = sl->n_gen, .ttft_s = sl->ttft};
    size_t rl = 0;
    const char *r = sl->ds ? rl_detok_stream_reasoning(sl->ds, &rl) : "";
    char *reasoning = rl ? strndup(r, rl) : NULL; /* (the stream goes with the slot) */
    e.reasoning = reasoning;
    e.calls = sl->ds ? rl_tools_from_stream(sl->ds, s->st.gen_tokens + (uint64_t)sl->n_gen + 1) : NULL;
    s->st.gen_tokens += sl->n_gen;
    slot_release(sl);                       /* toks[0..n_cached) stay for prefix reuse */
    sl->n_toks = sl->n_cached;
    e.text = "";
    sl->t.on_event(sl->t.user, &e);
    free(reasoning);
    cJSON_Delete(e.calls);
}

static int is_stop_id(const rl_sched *s, int32_t id) {
    for (int i = 0; i < s->n_stop_ids; i++) if (s->stop_ids[i] == id) return 1;
    return rl_model_is_eos(s->m, id);
}

/* Log-probabilities of row (already biased / penalised / masked) into e: the chosen id's and the top n. */
static void logprobs(const float *row, int V, int32_t id, int n_top, rl_sched_lp *e) {
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) if (row[i] > mx) mx = row[i];
    double z = 0;
    for (int i = 0; i < V; i++) z += exp((double)(row[i] - mx));
    float lse = mx + (float)log(z);
    e->id = id;
    e->logprob = row[id] - lse;
    e->n_top = 0;
    for (int k = 0; k < n_top && k < V; k++) {       /* n_top is small: repeated scans */
        int b = -1;
        for (int i = 0; i < V; i++) {
            int taken = 0;
            for (int j = 0; j < e->n_top && !taken; j++) taken = e->top_id[j] == i;
            if (!taken && row[i] > -INFINITY && (b < 0 || row[i] > row[b])) b = i;
        }
        if (b < 0) break;
        e->top_id[e->n_top] = b;
        e->top_lp[e->n_top++] = row[b] - lse;
    }
}

/* Samples slot sl's next token from its logits row; 0, or 1 when the slot finished. */
int rl_sched_sample(rl_sched *s, slot *sl, const float *logits) {
    int V = s->vocab;
    float *row = s->row;
    memcpy(row, logits, (size_t)V * sizeof *row);
    const rl_sched_task *t = &sl->t;
    for (int i = 0; i < t->n_bias; i++)
        if (t->bias_id[i] >= 0 && t->bias_id[i] < V) row[t->bias_id[i]] += t->bias[i];
    if (t->presence != 0 || t->frequency != 0) {
        const int32_t *gen = sl->toks + sl->n_prompt_end;
        int ng = sl->n_toks - sl->n_prompt_end;
        for (int i = 0; i < ng; i++) sl->counts[gen[i]]++;
        if (sl->has_next) sl->counts[sl->next]++;
        for (int i = 0; i <= ng; i++) {
            int32_t id = i < ng ? gen[i] : sl->has_next ? sl->next : -1;
            if (id < 0 || !sl->counts[id]) continue;
            row[id] -= t->presence + t->frequency * (float)sl->counts[id];
            sl->counts[id] = 0;
        }
    }
    if (t->filter) {
        memset(s->mask, 0, (size_t)V);
        if (t->filter->allowed(t->filter->user, s->mask)) { rl_sched_finish(s, sl, RL_FINISH_STOP, "the output constraint failed"); return 1; }
        int any = 0;
        for (int i = 0; i < V; i++) if (!s->mask[i]) row[i] = -INFINITY; else any = 1;
        if (!any) { rl_sched_finish(s, sl, RL_FINISH_STOP, NULL); return 1; }   /* the constraint is complete */
    }
    rl_sched_lp e;
    int want_lp = t->logprobs;
    float *keep = NULL;
    if (want_lp) {
        keep = malloc((size_t)V * sizeof *keep);
        if (keep) memcpy(keep, row, (size_t)V * sizeof *keep);
    }
    int32_t id = rl_sampler_pick(sl->smp, row, sl->toks, sl->n_toks);
    if (t->filter && !s->mask[id]) {     /* a zero-probability draw (rounding): the best allowed token */
        int b = -1;
        for (int i = 0; i < V; i++) if (s->mask[i] && (b < 0 || s->row[i] > s->row[b])) b = i;
        id = b;
    }
    if (!sl->n_gen) sl->ttft = rl_sched_now() - sl->t_add;
    if (keep) { logprobs(keep, V, id, t->top_logprobs, &e); free(keep); }
    if (t->filter && t->filter->accept(t->filter->user, id)) { rl_sched_finish(s, sl, RL_FINISH_STOP, "the output constraint failed"); return 1; }
    if (!t->ignore_eos && !t->filter && is_stop_id(s, id)) { rl_sched_finish(s, sl, RL_FINISH_STOP, NULL); return 1; }
    if (t->filter && is_stop_id(s, id)) { rl_sched_finish(s, sl, RL_FINISH_STOP, NULL); return 1; }
    sl->n_gen++;
    if (want_lp) {
        if (sl->n_lp == sl->lp_cap) {
            int cap = sl->lp_cap ? sl->lp_cap * 2 : 16;
            rl_sched_lp *n = realloc(sl->lp, (size_t)cap * sizeof *n);
            if (n) { sl->lp = n; sl->lp_cap = cap; }
        }
        if (sl->n_lp < sl->lp_cap) sl->lp[sl->n_lp++] = e;
    }
    const char *piece;
    size_t len;
    if (rl_detok_stream_push(sl->ds, id, &piece, &len)) { rl_sched_finish(s, sl, RL_FINISH_STOP, rl_last_error()); return 1; }
    emit_reasoning(sl);
    sl->complete += len;
    if (advance(sl)) { rl_sched_finish(s, sl, RL_FINISH_STOP, NULL); return 1; }
    if (sl->n_gen >= t->max_tokens || sl->n_toks + 1 >= s->ctx) { rl_sched_finish(s, sl, RL_FINISH_LENGTH, NULL); return 1; }
    sl->next = id;
    sl->has_next = 1;
    return 0;
}

void rl_sched_cancel_all(rl_sched *s) {
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].busy) rl_sched_finish(s, &s->slots[i], RL_FINISH_CANCELLED, NULL);
}

int rl_sched_step(rl_sched *s) {
    double t0 = rl_sched_now();
    int n = 0, budget = s->budget;
    for (int i = 0; i < s->n_slots; i++) {      /* cancelled tasks leave before the sweep */
        slot *sl = &s->slots[i];
        if (sl->busy && sl->t.cancel && *sl->t.cancel) rl_sched_finish(s, sl, RL_FINISH_CANCELLED, NULL);
    }
    int dec = 0, pre = 0;                       /* slots decoding / being prefilled */
    for (int i = 0; i < s->n_slots; i++) {
        const slot *sl = &s->slots[i];
        if (sl->busy && sl->has_next) dec++;
        else if (sl->busy && sl->n_cached < sl->n_toks) pre++;
    }
    int dbudget = s->draft && dec && !pre ? rl_drafter_budget(s->draft) : 0;
    if (dbudget > 1) {                          /* only decoding: a speculative step */
        rl_sched_draft_step(s, dbudget);
        s->st.busy_s += rl_sched_now() - t0;
        return rl_sched_n_busy(s);
    }
    for (int i = 0; i < s->n_slots; i++) {      /* decode rows first: one token each */
        slot *sl = &s->slots[i];
        if (!sl->busy || !sl->has_next) continue;
        if (rl_sched_push_tok(sl, sl->next)) { rl_sched_finish(s, sl, RL_FINISH_STOP, err_msg); continue; }
        sl->has_next = 0;
        s->items[n] = (rl_batch_item){i, sl->toks + sl->n_cached, 1};
        s->item_slot[n] = i;
        s->item_last[n] = 1;
        n++;
        budget--;
    }
    for (int i = 0; i < s->n_slots && budget > 0; i++) {   /* prompt chunks from what is left */
        slot *sl = &s->slots[i];
        int inb = 0;
        for (int k = 0; k < n; k++) inb |= s->item_slot[k] == i;
        if (!sl->busy || inb || sl->has_next || sl->n_cached >= sl->n_toks) continue;
        int take = sl->n_toks - sl->n_cached;
        if (take > budget) take = budget;
        s->items[n] = (rl_batch_item){i, sl->toks + sl->n_cached, take};
        s->item_slot[n] = i;
        s->item_last[n] = sl->n_cached + take == sl->n_toks;
        n++;
        budget -= take;
    }
    if (!n) return rl_sched_n_busy(s);
    int rc = rl_model_eval_batch(s->m, s->items, n, s->logits);
    s->st.steps++;
    for (int k = 0; k < n; k++) {
        slot *sl = &s->slots[s->item_slot[k]];
        if (rc) {
            rl_model_seq_rewind(s->m, s->item_slot[k], 0);
            sl->n_cached = 0;
            rl_sched_finish(s, sl, RL_FINISH_STOP, rl_last_error());
            continue;
        }
        sl->n_cached += s->items[k].n;
        /* a hybrid (recurrent) model's state at the prompt's end: the next turn of a chat keeps
         * the prompt, so its slot restores this and feeds only what follows instead of the whole
         * conversation (inside that step's sweep) */
        if (s->item_last[k] && sl->n_cached == sl->n_prompt_end && !rl_model_rewind_is_cheap(s->m) &&
            rl_model_seq_checkpoint(s->m, s->item_slot[k])) {
            rl_model_seq_rewind(s->m, s->item_slot[k], 0);
            sl->n_cached = 0;
            rl_sched_finish(s, sl, RL_FINISH_STOP, rl_last_error());
            continue;
        }
        if (s->item_last[k]) rl_sched_sample(s, sl, s->logits + (size_t)k * s->vocab);
    }
    if (dbudget == 1) rl_drafter_record(s->draft, n, rl_sched_now() - t0);   /* the cost model's no-draft rate */
    s->st.busy_s += rl_sched_now() - t0;
    return rl_sched_n_busy(s);
}
