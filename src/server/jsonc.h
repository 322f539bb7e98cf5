/* Constrained JSON output for `serve` (response_format json_object / json_schema, forced tool
 * calls): a JSON schema is compiled into a character-level pushdown automaton; before each token,
 * every vocabulary token whose text the automaton accepts from its current state is allowed, the
 * rest are masked out. The answer ends when the top value is complete.
 * Schema keywords enforced: type (a name or an array of names), properties + required (listed
 * properties in the schema's order, optional ones may be left out, no others),
 * additionalProperties (the member schema of objects without properties; false: none),
 * minProperties / maxProperties, items, minItems / maxItems, minLength / maxLength (code points),
 * minimum / maximum / exclusiveMinimum / exclusiveMaximum (numbers then have no exponent),
 * enum / const of any JSON values, anyOf / oneOf (oneOf as anyOf: exact when the alternatives
 * exclude each other), allOf of one schema, $ref (JSON pointers into the schema: #/$defs/..,
 * #/definitions/.., #; recursion allowed), nullable. Annotations (title, description, default,
 * format, examples, ...) are ignored; assertions it cannot enforce (pattern, not, if, multipleOf,
 * uniqueItems, prefixItems, ...) make the schema an error rather than an output that may not
 * validate. Alternatives run side by side (a set of automaton states). */
#ifndef RL_SERVER_JSONC_H
#define RL_SERVER_JSONC_H
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <stddef.h>

/* The text each token adds after ordinary text (special tokens and partial characters: NULL),
 * computed once per model. NULL: out of memory, or the tokenizer failed (rl_last_error). */
typedef struct rl_vocab_text rl_vocab_text;
rl_vocab_text *rl_vocab_text_new(const rl_tokenizer *tok, int vocab);
/* A table from given texts (tests): texts[i] may be NULL (never allowed). NULL: out of memory. */
rl_vocab_text *rl_vocab_text_from(const char *const *texts, int vocab);
void rl_vocab_text_free(rl_vocab_text *v);

typedef struct rl_jsonc rl_jsonc;
/* A constraint for schema (NULL: any JSON object). NULL with a message in err (bad schema). */
rl_jsonc *rl_jsonc_new(const cJSON *schema, const rl_vocab_text *vt, char *err, size_t errsz);
/* The same with fixed text before and after the value (prefix / suffix may be NULL), e.g. a
 * forced tool call "<tool_call>\n" VALUE "\n</tool_call>". */
rl_jsonc *rl_jsonc_new_ex(const cJSON *schema, const char *prefix, const char *suffix, const rl_vocab_text *vt, char *err,
                          size_t errsz);
void rl_jsonc_free(rl_jsonc *c);
/* rl_sched_filter callbacks (user = the rl_jsonc). */
int rl_jsonc_allowed(void *user, unsigned char *mask);
int rl_jsonc_accept(void *user, int32_t id);
/* 1 once the top value (and the suffix) is complete. */
int rl_jsonc_done(const rl_jsonc *c);
/* Feeds text directly (tests); 0 if every character was accepted. */
int rl_jsonc_feed(rl_jsonc *c, const char *text);

#endif
