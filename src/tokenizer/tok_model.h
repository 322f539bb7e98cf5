/* Internal layout of the tokenizer.json model (BPE, Unigram, WordPiece), shared by
 * tok_model.c (parsing, vocabulary) and the per-model encoders. */
#ifndef RL_TOK_MODEL_H
#define RL_TOK_MODEL_H
#include "tokenizer/tok_internal.h"
#include <pthread.h>

struct rl_tkmodel {
    int type;
    rl_strmap vocab;                 /* token -> id */
    uint32_t *tokoff, *toklen;       /* id -> token text in tokbuf (toklen UINT32_MAX = no token) */
    rl_buf tokbuf;
    size_t nids;                     /* max id + 1 */
    int32_t unk_id;                  /* -1 if none */
    int byte_fallback;
    int32_t byte_ids[256];           /* <0xXX> ids or -1 */
    /* BPE */
    rl_u64map merges;                /* (a << 32 | b) -> (rank << 32 | new_id) */
    char *prefix, *suffix;           /* continuing_subword_prefix, end_of_word_suffix (NULL = none) */
    int fuse_unk, ignore_merges;
    pthread_mutex_t cache_mu;
    rl_strmap cache;                 /* word -> offset in cache_ids ([n, ids...]) */
    rl_ivec cache_ids;
    /* Unigram */
    double *scores; double unk_score; size_t max_piece;
    /* WordPiece */
    size_t max_chars;
};

int rl_tkbpe_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out);
int rl_tkunigram_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out);
int rl_tkwordpiece_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out);
/* Builds the merge map from the JSON merges array (strings "a b" or ["a", "b"]). */
int rl_tkbpe_load_merges(rl_tkmodel *m, const cJSON *merges);
#endif
