/* Tokenizer of an HF model directory -> GGUF tokenizer.ggml.* metadata (llama.cpp's keys):
 * a SentencePiece-style vocabulary (tokenizer.model, or a tokenizer.json BPE with byte fallback)
 * becomes model "llama" with tokens, scores and token_type; a byte-level BPE becomes model "gpt2"
 * with tokens, token_type, merges and the pre-tokenizer name; no tokenizer file gives model
 * "none". Also bos / eos / eot / unk / pad ids, add_bos_token, add_space_prefix and
 * tokenizer.chat_template (tokenizer_config.json, chat_template.jinja or chat_template.json). */
#ifndef RL_GGUF_VOCAB_H
#define RL_GGUF_VOCAB_H
#include "format/gguf_write.h"
#include "model/desc.h"

/* Writes the tokenizer keys of model_dir (model description d: vocab size, bos / eos ids) into w;
 * the token list is padded to d->vocab with "[PADn]" tokens of type UNUSED. *kind (optional)
 * gets "llama", "gpt2" or "none". Returns 0 or -1 + rl_err naming the file and the problem. */
int rl_gguf_export_vocab(rl_gguf_writer *w, const char *model_dir, const rl_model_desc *d, const char **kind);

#endif
