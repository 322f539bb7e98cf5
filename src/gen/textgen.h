/* The text generation core behind the public session API (session.c): tokenizer + chat
 * template of a model, prompt building (template or raw), stop tokens and stop strings,
 * KV-cache prefix reuse between requests, and generation streamed as text pieces through a
 * callback. Library code: nothing is printed. */
#ifndef RL_GEN_TEXTGEN_H
#define RL_GEN_TEXTGEN_H
#include "gen/generate.h"
#include "tokenizer/tokenizer.h"
#include "template/chat_template.h"
#include <stdatomic.h>

typedef struct {
    rl_model *m;
    rl_tokenizer *tok;
    rl_chat_template *tmpl;   /* NULL: raw text */
    int32_t stop[16];         /* end-of-turn / eos token ids from the tokenizer */
    int n_stop;
    int32_t *cache;           /* token ids in the KV cache, as tracked by reuse_prefix / commit */
    int n_cache;
    rl_model *draft;          /* speculative decoding's draft model (NULL: none) */
    int draft_tokens;         /* its tree budget (0 = 64) */
    int draft_fixed;          /* 1: always that budget (no cost model) */
} rl_textgen;

/* Opens the model of model_dir (mo may be NULL), its tokenizer and, unless raw, its chat
 * template (none: g->tmpl stays NULL, prompts go in as text). 0 / -1 + rl_err. */
int rl_textgen_open(rl_textgen *g, const char *model_dir, const rl_model_opts *mo, int raw);
void rl_textgen_close(rl_textgen *g);
/* Sets d (opened by rl_draft_open from draft_dir; owned by g from now on, closed on failure)
 * as the draft model of speculative decoding for every later run, after checking it has the
 * target's vocabulary (size and token strings). 0 / -1 + rl_err. */
int rl_textgen_set_draft(rl_textgen *g, const char *target_dir, const char *draft_dir, rl_model *d, int draft_tokens, int fixed);
/* Builds prompt ids: the template rendered over messages with a generation prompt (encoded
 * without adding special tokens again; extra: template variables such as tools, may be NULL),
 * or raw text encoded with the tokenizer's special tokens. *ids malloc'd. 0 / -1 + rl_err. */
int rl_textgen_prompt_ex(rl_textgen *g, const cJSON *messages, const cJSON *extra, const char *raw_text, int32_t **ids, int *n);
int rl_textgen_prompt(rl_textgen *g, const cJSON *messages, const char *raw_text, int32_t **ids, int *n);

/* KV-cache prefix reuse: rewinds the model to the longest common prefix of the tracked cache
 * and ids[0..n) (at most n - 1 tokens, one must be evaluated) and returns its length. */
int rl_textgen_reuse_prefix(rl_textgen *g, const int32_t *ids, int n);
/* After a generation on prompt ids[0..n): the cache now holds the prompt and every generated
 * token but the last; a mismatch with the model's position resets the cache. */
void rl_textgen_commit(rl_textgen *g, const int32_t *ids, int n, const int32_t *gen, int n_gen);
/* Empties the KV cache. */
void rl_textgen_reset(rl_textgen *g);

typedef struct {
    int max_new;
    rl_sampling sampling;
    int ignore_eos;
    int draft;                         /* speculative tokens per sweep (0 = off) */
    const char *const *stop_strings;   /* generation stops when the text contains one; it is cut */
    int n_stop_strings;
    /* each new piece of text (stop-string prefixes held back until decided); nonzero = stop */
    int (*on_text)(void *ctx, const char *piece, size_t len);
    /* each new piece of reasoning kept apart from the answer (harmony's analysis channel,
     * <think>); may be NULL; nonzero = stop */
    int (*on_reasoning)(void *ctx, const char *piece, size_t len);
    void *ctx;
    const volatile int *interrupt;     /* stop when nonzero, checked after each token; may be NULL */
    atomic_int *cancel;                /* the same, set from any thread; may be NULL */
} rl_textgen_params;

typedef struct {
    char *text;        /* malloc'd answer, a stop string cut off */
    int32_t *ids;      /* malloc'd generated ids */
    int n_ids;
    int finish;        /* RL_FINISH_* (rabbitllm.h) */
    rl_gen_stats st;
} rl_textgen_result;

/* Generates after new_ids (appended to the KV cache); context: the whole prompt (its tail
 * gives word boundaries). Stops on eos / end-of-turn ids, max_new, the context, a stop string,
 * on_text or *interrupt. 0 / -1 + rl_err; *r is filled on success (free with _result_free). */
int rl_textgen_run(rl_textgen *g, const int32_t *context, int n_context, const int32_t *new_ids, int n_new,
                   const rl_textgen_params *p, rl_textgen_result *r);
void rl_textgen_result_free(rl_textgen_result *r);

#endif
