/* SentencePiece internals shared by spm.c and the model encoders (spm_bpe.c, spm_unigram.c):
 * the loaded model, its piece hash maps and the (piece, id) segment list the encoders return. */
#ifndef RL_SPM_INTERNAL_H
#define RL_SPM_INTERNAL_H
#include "tokenizer/spm.h"
#include "tokenizer/spm_norm.h"
#include "tokenizer/spm_proto.h"

/* Open-addressing map from piece text to id (ids index s->pieces). */
typedef struct {
    int32_t *slot;   /* -1 = empty */
    size_t mask;
} rl_spm_map;

typedef struct {
    char *text;      /* NUL-terminated copy */
    size_t len;
    float score;
    int type;
} rl_spm_piece;

struct rl_spm {
    char *path;
    uint8_t *file;                   /* the file contents; proto strings point here */
    rl_spm_piece *pieces;
    size_t n_pieces;
    rl_spm_map normal;               /* NORMAL, USER_DEFINED, UNUSED (sentencepiece's pieces_) */
    rl_spm_map reserved;             /* CONTROL, UNKNOWN, BYTE (reserved_id_map_) */
    int model_type, byte_fallback, treat_ws_suffix;
    int unk_id, bos_id, eos_id;
    int byte_id[256];                /* id of <0xNN>, -1 if absent */
    size_t max_user_len;             /* longest USER_DEFINED piece (0: none) */
    size_t max_piece_len;            /* longest piece in `normal` */
    float min_score, max_score;      /* over NORMAL pieces (unigram) */
    rl_spm_str unk_surface;
    int add_dummy_prefix, remove_extra_ws; /* normalizer_spec flags used by decoding */
    rl_spm_norm norm, denorm;
    int has_denorm;
};

/* One encoder output segment: normalized[off..off+len) with its id. */
typedef struct { size_t off, len; int32_t id; } rl_spm_seg;
typedef struct { rl_spm_seg *v; size_t n, cap; } rl_spm_segs;
int rl_spm_segs_push(rl_spm_segs *s, size_t off, size_t len, int32_t id);

/* Lookup in one map: id or -1. */
int rl_spm_map_get(const rl_spm *s, const rl_spm_map *m, const char *p, size_t n);
/* sentencepiece's PieceToId: reserved map, then normal map, else unk_id. */
int rl_spm_lookup(const rl_spm *s, const char *p, size_t n);
/* Longest USER_DEFINED piece prefixing p[0..n), 0 if none (PrefixMatcher). */
size_t rl_spm_user_prefix(const void *s, const char *p, size_t n);

/* Model encoders over a normalized string; append segments to out. 0 / -1. */
int rl_spm_encode_bpe(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out);
int rl_spm_encode_unigram(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out);
int rl_spm_encode_char(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out);
int rl_spm_encode_word(const rl_spm *s, const char *t, size_t n, rl_spm_segs *out);

#endif
