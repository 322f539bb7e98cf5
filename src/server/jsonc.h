/* Constrained JSON output for `serve` (response_format json_object / json_schema): a JSON
 * schema (a subset: type object with properties, array with items, string, number, integer,
 * boolean, null, enum, const; anything else is any JSON value) is compiled into a character-level
 * pushdown automaton; before each token, every vocabulary token whose text the automaton accepts
 * from its current state is allowed, the rest are masked out. Objects with properties get all
 * of them, in the schema's order. The answer ends when the top value is complete. */
#ifndef RL_SERVER_JSONC_H
#define RL_SERVER_JSONC_H
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <stddef.h>

/* The text each token adds after ordinary text (special tokens and partial characters: NULL),
 * computed once per model. NULL: out of memory, or the tokenizer failed (rl_last_error). */
typedef struct rl_vocab_text rl_vocab_text;
rl_vocab_text *rl_vocab_text_new(const rl_tokenizer *tok, int vocab);
void rl_vocab_text_free(rl_vocab_text *v);

typedef struct rl_jsonc rl_jsonc;
/* A constraint for schema (NULL: any JSON object). NULL with a message in err (bad schema). */
rl_jsonc *rl_jsonc_new(const cJSON *schema, const rl_vocab_text *vt, char *err, size_t errsz);
void rl_jsonc_free(rl_jsonc *c);
/* rl_sched_filter callbacks (user = the rl_jsonc). */
int rl_jsonc_allowed(void *user, unsigned char *mask);
int rl_jsonc_accept(void *user, int32_t id);
/* 1 once the top value is complete. */
int rl_jsonc_done(const rl_jsonc *c);
/* Feeds text directly (tests); 0 if every character was accepted. */
int rl_jsonc_feed(rl_jsonc *c, const char *text);

#endif
