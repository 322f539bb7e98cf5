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
/* Encodes UTF-8 text; add_bos prepends the BOS id. *ids is malloc'd (caller frees). 0 / -1. */
int rl_spm_encode(const rl_spm *s, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n_ids);
/* Decodes ids to UTF-8 text; *text is malloc'd and NUL-terminated (caller frees). 0 / -1. */
int rl_spm_decode(const rl_spm *s, const int32_t *ids, size_t n, int skip_special, char **text, size_t *len);
size_t rl_spm_vocab_size(const rl_spm *s);
/* Id of a piece, or -1. */
int rl_spm_piece_id(const rl_spm *s, const char *piece);
/* Piece of an id (owned by s), or NULL if out of range. */
const char *rl_spm_id_to_piece(const rl_spm *s, int id);
int rl_spm_bos_id(const rl_spm *s);
int rl_spm_eos_id(const rl_spm *s);

#endif
