/* Tokenizers stored in GGUF metadata (tokenizer.ggml.*): the SentencePiece vocabulary of
 * tokenizer.ggml.model "llama" (tokens, scores, token types) as an rl_spm model. */
#ifndef RL_TOK_GGUF_H
#define RL_TOK_GGUF_H
#include "format/gguf.h"
#include "tokenizer/spm.h"

/* The SentencePiece model of a GGUF file whose tokenizer.ggml.model is "llama". NULL + rl_err
 * naming the file (no vocabulary, mismatched array lengths, bad token types, ...). */
rl_spm *rl_spm_from_gguf(const rl_gguf *g);

/* The BPE tokenizer of a GGUF file whose tokenizer.ggml.model is "gpt2": vocabulary and merges,
 * the pre-tokenizer splits named by tokenizer.ggml.pre (gpt-2 / default, llama-bpe / llama3, qwen2,
 * gpt-4o, deepseek-v3; another name is an error), byte-level decoding, added tokens from the CONTROL / USER_DEFINED
 * types, BOS prepended when tokenizer.ggml.add_bos_token says so. NULL + rl_err. */
#include "tokenizer/tok_hf.h"
rl_hf *rl_hf_from_gguf(const rl_gguf *g);

/* Boolean tokenizer.ggml.<key> (add_bos_token, ...), def if absent. */
int rl_gguf_tok_flag(const rl_gguf *g, const char *key, int def);

/* The tokenizer_config.json equivalent of a GGUF file's metadata: bos/eos/unk/pad token strings and
 * tokenizer.chat_template as "chat_template" (each only if present). NULL + rl_err on error. */
#include <cjson/cJSON.h>
cJSON *rl_gguf_tokenizer_config(const char *path);

/* The tokenizer.ggml.pre name whose pre-tokenizer splits are the n regexes in turn (the GGUF
 * writer's inverse of the reader's table), preferring the one with the same merge rule
 * (ignore_merges) and normalizer ("NFC" or NULL), or NULL when no name has those splits. */
const char *rl_gguf_pre_for_regex(const char *const *regex, int n, int ignore_merges, const char *norm);

#endif
