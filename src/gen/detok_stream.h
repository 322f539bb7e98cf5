/* Streaming detokenizer: turns generated ids into text pieces as they come, printing a
 * character only once it is complete (multi-byte UTF-8, byte-fallback pieces) and computing
 * each piece as decode(context + generated) minus decode(context), so word boundaries come out
 * as a whole decode would give them. The pieces concatenate to decode(generated in context).
 * Tokenizers whose models write reasoning apart (harmony: gpt-oss; <think> tags: Qwen3, DeepSeek-R1)
 * route each token first (gen/out_router.h): the pieces and text are the answer only. */
#ifndef RL_DETOK_STREAM_H
#define RL_DETOK_STREAM_H
#include "rabbitllm.h"
#include "tokenizer/tokenizer.h"

typedef struct rl_detok_stream rl_detok_stream;

/* context: the last prompt tokens (copied; a few are enough for word boundaries). NULL + rl_err. */
rl_detok_stream *rl_detok_stream_new(const rl_tokenizer *t, const int32_t *context, int n_context);
void rl_detok_stream_free(rl_detok_stream *s);
/* Adds a generated token; *piece (owned by s, valid until the next call) gets the newly
 * complete text, possibly "". 0 / -1 + rl_err. */
int rl_detok_stream_push(rl_detok_stream *s, int32_t tok, const char **piece, size_t *len);
/* Returns whatever was held back (an incomplete character at the very end). */
int rl_detok_stream_finish(rl_detok_stream *s, const char **piece, size_t *len);
/* All text so far (complete or not), owned by s. */
const char *rl_detok_stream_text(const rl_detok_stream *s, size_t *len);
/* With such a tokenizer (gen/out_router.h) the pieces and text above are the answer only; this is
 * the reasoning so far (harmony's analysis channel, what is inside <think>) in complete
 * characters (all of it after finish; it only grows); else "". */
const char *rl_detok_stream_reasoning(const rl_detok_stream *s, size_t *len);
/* ... and its tool calls (messages to a recipient), in order: the recipient ("functions.NAME")
 * and *args the message's text so far; NULL past the last. */
#define RL_DETOK_MAX_CALLS 16
int rl_detok_stream_n_calls(const rl_detok_stream *s);
const char *rl_detok_stream_call(const rl_detok_stream *s, int i, const char **args, size_t *args_len);

#endif
