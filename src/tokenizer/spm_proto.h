/* SentencePiece ModelProto (sentencepiece_model.proto) reader: a bounds-checked protobuf
 * wire-format parser for the fields the tokenizer needs. Strings are slices of the input buffer. */
#ifndef RL_SPM_PROTO_H
#define RL_SPM_PROTO_H
#include <stddef.h>
#include <stdint.h>

/* ModelProto.SentencePiece.Type */
enum { RL_SPM_NORMAL = 1, RL_SPM_UNKNOWN = 2, RL_SPM_CONTROL = 3, RL_SPM_USER_DEFINED = 4,
       RL_SPM_UNUSED = 5, RL_SPM_BYTE = 6 };
/* TrainerSpec.ModelType */
enum { RL_SPM_UNIGRAM = 1, RL_SPM_BPE = 2, RL_SPM_WORD = 3, RL_SPM_CHAR = 4 };

typedef struct { const char *p; size_t n; } rl_spm_str;

typedef struct {
    rl_spm_str piece;
    float score;
    int type;
} rl_spm_proto_piece;

typedef struct {
    int present;                 /* the message occurred in the file */
    rl_spm_str name, charsmap;
    int add_dummy_prefix;        /* default true */
    int remove_extra_whitespaces;/* default true */
    int escape_whitespaces;      /* default true */
} rl_spm_normspec;

typedef struct {
    rl_spm_proto_piece *pieces;
    size_t n_pieces;
    /* trainer_spec */
    int model_type;              /* default UNIGRAM */
    int byte_fallback, treat_whitespace_as_suffix, split_digits;
    int has_unk_surface;
    rl_spm_str unk_surface, unk_piece, bos_piece, eos_piece, pad_piece; /* empty if absent */
    rl_spm_normspec norm, denorm;
} rl_spm_proto;

/* Parses a serialized ModelProto of len bytes. The result points into buf, which must outlive it.
 * 0, or -1 with rl_err naming `name` (the file) and the problem. */
int rl_spm_proto_parse(const uint8_t *buf, size_t len, const char *name, rl_spm_proto *out);
void rl_spm_proto_free(rl_spm_proto *p);

#endif
