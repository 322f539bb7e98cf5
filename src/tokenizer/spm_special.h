/* Control-token text in SentencePiece input, as llama.cpp reads a GGUF "llama" vocabulary (and as
 * HF's tokenizers split added tokens): the text of every CONTROL or UNKNOWN piece ("<s>",
 * "<start_of_turn>", "[INST]", "<unk>") found in the input is that piece's id, the text between
 * them is encoded as SentencePiece fragments of their own (each with the dummy prefix). */
#ifndef RL_SPM_SPECIAL_H
#define RL_SPM_SPECIAL_H
#include "tokenizer/spm.h"
#include <stddef.h>
#include <stdint.h>

typedef struct rl_spm_specials rl_spm_specials;

/* The special pieces of s (s must outlive the table). NULL + rl_err on out of memory. */
rl_spm_specials *rl_spm_specials_new(const rl_spm *s);
void rl_spm_specials_free(rl_spm_specials *t);

/* Encodes text: leftmost-longest special pieces become their ids, the rest goes through
 * rl_spm_encode fragment by fragment; add_bos prepends the BOS id. *ids malloc'd. 0 / -1. */
int rl_spm_encode_specials(const rl_spm_specials *t, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n_ids);

#endif
