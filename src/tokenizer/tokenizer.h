/* Tokenizer facade used by the engine: loads a model directory's tokenizer.json (HuggingFace
 * tokenizers semantics) or, failing that, tokenizer.model (SentencePiece), plus
 * tokenizer_config.json; encodes text to ids and decodes ids to text. */
#ifndef RL_TOKENIZER_H
#define RL_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

typedef struct rl_tokenizer rl_tokenizer;

/* tokenizer.json preferred, else tokenizer.model; plus tokenizer_config.json when present.
 * NULL + rl_err naming the file and the problem. */
rl_tokenizer *rl_tok_load(const char *model_dir);
void rl_tok_free(rl_tokenizer *t);
/* Encodes UTF-8 text (special-token text is parsed as special tokens). add_special_tokens runs
 * the post-processor (BOS etc.). *ids is malloc'd (caller frees). Invalid UTF-8 -> -1 + rl_err. */
int rl_tok_encode(const rl_tokenizer *t, const char *text, size_t len, int add_special_tokens, int32_t **ids, size_t *n);
/* Decodes ids to UTF-8 text; *text is malloc'd and NUL-terminated (caller frees).
 * An id outside the vocabulary -> -1 + rl_err. */
int rl_tok_decode(const rl_tokenizer *t, const int32_t *ids, size_t n, int skip_special_tokens, char **text, size_t *len);
/* Vocabulary size including added tokens: max id + 1. */
size_t rl_tok_vocab_size(const rl_tokenizer *t);
/* Id of an exact token text (added or vocab), -1 if none. */
int rl_tok_token_id(const rl_tokenizer *t, const char *token_text);
/* tokenizer_config.json special token as a plain string ("bos_token", "eos_token", "pad_token",
 * "unk_token"; AddedToken objects reduced to content); NULL if absent. Owned by t. */
const char *rl_tok_config_str(const rl_tokenizer *t, const char *key);
/* 1 if id is a special token (skipped by skip_special_tokens). */
int rl_tok_is_special(const rl_tokenizer *t, int32_t id);

#endif
