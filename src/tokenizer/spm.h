/* SentencePiece tokenizer.model (protobuf) loader, encoder and decoder, for checkpoints that
 * ship no tokenizer.json. Used by the tokenizer facade (tokenizer.h). */
#ifndef RL_SPM_H
#define RL_SPM_H
#include <stddef.h>
#include <stdint.h>

typedef struct rl_spm rl_spm;

/* Loads a tokenizer.model file. NULL + rl_err (naming the file) on failure. */
rl_spm *rl_spm_load(const char *path);
void rl_spm_free(rl_spm *s);
/* Builds a model from an already parsed ModelProto (e.g. one assembled from GGUF metadata); `name`
 * names it in errors. m's strings are copied except unk_surface, which must outlive the model. */
#include "tokenizer/spm_proto.h"
rl_spm *rl_spm_build(const char *name, const rl_spm_proto *m);
/* Encodes UTF-8 text as sentencepiece 0.1.97 EncodeAsIds does (text such as "<s>" is never a
 * control token); add_bos prepends the BOS id (an error if the model has no CONTROL bos piece).
 * *ids is malloc'd (caller frees). 0 / -1. */
int rl_spm_encode(const rl_spm *s, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n_ids);
/* Decodes ids to UTF-8 text as sentencepiece DecodeIds does (<unk> -> unk_surface " \u2047 ", byte
 * pieces assembled, invalid bytes -> U+FFFD, first leading space dropped). skip_special = 1 drops
 * CONTROL pieces as sentencepiece does; 0 writes their piece text ("<s> Hello"). Ids out of range
 * are an error. *text is malloc'd and NUL-terminated (caller frees); len may be NULL. 0 / -1. */
int rl_spm_decode(const rl_spm *s, const int32_t *ids, size_t n, int skip_special, char **text, size_t *len);
size_t rl_spm_vocab_size(const rl_spm *s);
/* Id of a piece, or -1. */
int rl_spm_piece_id(const rl_spm *s, const char *piece);
/* Piece of an id (owned by s), or NULL if out of range. */
const char *rl_spm_id_to_piece(const rl_spm *s, int id);
int rl_spm_bos_id(const rl_spm *s);
int rl_spm_eos_id(const rl_spm *s);
int rl_spm_unk_id(const rl_spm *s);
/* 1 if id is a CONTROL piece (<s>, </s>, ...), else 0. */
int rl_spm_is_control(const rl_spm *s, int id);

#endif
