/* SentencePiece "precompiled_charsmap" normalizer (double-array trie + replacement strings),
 * applied per grapheme cluster as HuggingFace tokenizers' Precompiled normalizer does. */
#ifndef RL_TOK_PRECOMPILED_H
#define RL_TOK_PRECOMPILED_H
#include "tokenizer/tok_internal.h"

typedef struct rl_precompiled rl_precompiled;
rl_precompiled *rl_precompiled_new(const char *base64);   /* NULL + rl_err */
int rl_precompiled_apply(const rl_precompiled *pc, const char *s, size_t n, rl_buf *out);
void rl_precompiled_free(rl_precompiled *pc);
#endif
