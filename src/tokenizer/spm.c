/* SentencePiece tokenizer.model support (stub until implemented). */
#include "tokenizer/spm.h"
#include "util/err.h"
#include <stdlib.h>

rl_spm *rl_spm_load(const char *path) { rl_err("%s: tokenizer.model not supported yet", path); return NULL; }
void rl_spm_free(rl_spm *s) { (void)s; }
int rl_spm_encode(const rl_spm *s, const char *t, size_t l, int b, int32_t **ids, size_t *n) { (void)s; (void)t; (void)l; (void)b; (void)ids; (void)n; return rl_err("spm: not implemented"); }
int rl_spm_decode(const rl_spm *s, const int32_t *ids, size_t n, int k, char **t, size_t *l) { (void)s; (void)ids; (void)n; (void)k; (void)t; (void)l; return rl_err("spm: not implemented"); }
size_t rl_spm_vocab_size(const rl_spm *s) { (void)s; return 0; }
int rl_spm_piece_id(const rl_spm *s, const char *p) { (void)s; (void)p; return -1; }
const char *rl_spm_id_to_piece(const rl_spm *s, int id) { (void)s; (void)id; return NULL; }
int rl_spm_bos_id(const rl_spm *s) { (void)s; return -1; }
int rl_spm_eos_id(const rl_spm *s) { (void)s; return -1; }
