/* Text clean-up after decoding: transformers' clean_up_tokenization and the WordPiece
 * decoder's cleanup (the same list plus " do not" -> " don't"). */
#ifndef RL_TOK_CLEANUP_H
#define RL_TOK_CLEANUP_H
#include "tokenizer/tok_internal.h"

int rl_tk_cleanup_transformers(rl_buf *b);
int rl_tk_cleanup_wordpiece(rl_buf *b);
#endif
