/* SentencePiece normalizer: the precompiled charsmap (darts-clone double-array trie over UTF-8
 * plus a blob of NUL-terminated replacements), extra-whitespace removal, dummy prefix and the
 * U+2581 whitespace escape, as sentencepiece's normalizer.cc does. */
#ifndef RL_SPM_NORM_H
#define RL_SPM_NORM_H
#include "tokenizer/spm_proto.h"
#include <stddef.h>
#include <stdint.h>

/* Growable byte buffer used by the SentencePiece code. */
typedef struct { char *p; size_t n, cap; } rl_spm_buf;
int rl_spm_buf_put(rl_spm_buf *b, const char *s, size_t n);

/* Length of the longest user-defined symbol prefixing s[0..n), or 0. */
typedef size_t (*rl_spm_prefix_fn)(const void *ctx, const char *s, size_t n);

typedef struct {
    uint32_t *units;             /* double-array units (NULL: no charsmap) */
    size_t n_units;
    const char *strs;            /* replacement strings, NUL-separated */
    size_t n_strs;
    int add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
    rl_spm_prefix_fn prefix;     /* optional user-defined symbol matcher */
    const void *prefix_ctx;
    const char *name;            /* file name for messages */
} rl_spm_norm;

/* Sets up from a spec; the charsmap blob must outlive nm. 0 / -1 (rl_err names `name`). */
int rl_spm_norm_init(rl_spm_norm *nm, const rl_spm_normspec *spec, int ws_suffix, const char *name);
void rl_spm_norm_free(rl_spm_norm *nm);
/* Normalizes in[0..n) into out (cleared first). 0 / -1. */
int rl_spm_normalize(const rl_spm_norm *nm, const char *in, size_t n, rl_spm_buf *out);
/* sentencepiece's DecodeUTF8 validity rule: 1 and *len if s starts with a valid character
 * (a literal U+FFFD counts as valid), else 0 with *len = 1. */
int rl_spm_utf8_valid(const char *s, size_t n, size_t *len);
/* sentencepiece's OneCharLen (from the lead byte only), clipped to n. */
size_t rl_spm_char_len(const char *s, size_t n);

#endif
