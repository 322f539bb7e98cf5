/* Internal types shared by the tokenizer.json implementation files (not part of the public API):
 * growable buffers, piece lists, hash maps, UTF-8 and byte-level helpers, and the component
 * interfaces (normalizer, pre-tokenizer, model, post-processor, decoder, added vocabulary). */
#ifndef RL_TOK_INTERNAL_H
#define RL_TOK_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* ---- growable containers ---- */
typedef struct { char *p; size_t n, cap; } rl_buf;
int rl_tkbuf_reserve(rl_buf *b, size_t extra);
int rl_tkbuf_put(rl_buf *b, const void *s, size_t n);
void rl_tkbuf_free(rl_buf *b);

typedef struct { int32_t *v; size_t n, cap; } rl_ivec;
int rl_tkivec_push(rl_ivec *v, int32_t x);
int rl_tkivec_append(rl_ivec *v, const int32_t *x, size_t n);

typedef struct { size_t *v; size_t n, cap; } rl_svec;
int rl_tksvec_push(rl_svec *v, size_t x);

/* A piece of text in an arena (off, len); id >= 0 when it is already a token (an added token).
 * first: the piece starts at offset 0 of the original input (Metaspace prepend_scheme "first"). */
typedef struct { size_t off, len; int32_t id; int first; } rl_piece;
typedef struct { rl_piece *v; size_t n, cap; } rl_pieces;
int rl_tkpieces_push(rl_pieces *p, size_t off, size_t len, int32_t id, int first);

/* ---- string -> int32 hash map (keys copied) ---- */
typedef struct { uint32_t koff, klen, hash; int32_t val; } rl_strmap_ent;
typedef struct {
    uint32_t *slots;            /* entry index + 1, 0 = empty */
    size_t cap;                 /* power of two */
    rl_strmap_ent *ents; size_t n, ecap;
    rl_buf keys;
} rl_strmap;
uint32_t rl_tk_hash(const char *s, size_t n);
int rl_tkmap_put(rl_strmap *m, const char *k, size_t n, int32_t val); /* overwrites */
int32_t rl_tkmap_get(const rl_strmap *m, const char *k, size_t n);   /* -1 if absent */
void rl_tkmap_free(rl_strmap *m);
void rl_tkmap_clear(rl_strmap *m);

/* ---- uint64 -> uint64 hash map (key UINT64_MAX reserved) ---- */
typedef struct { uint64_t *keys, *vals; size_t cap, n; } rl_u64map;
int rl_tku64_put(rl_u64map *m, uint64_t k, uint64_t v);
int rl_tku64_get(const rl_u64map *m, uint64_t k, uint64_t *v); /* 1 found */
void rl_tku64_free(rl_u64map *m);

/* ---- UTF-8 ---- */
/* Decodes one code point at s (n bytes left, valid UTF-8 assumed); returns its byte length. */
size_t rl_tku8_dec(const char *s, size_t n, int32_t *cp);
size_t rl_tku8_enc(int32_t cp, char *out);
/* 1 if s is valid UTF-8; else 0 with *bad = offset of the first invalid byte. */
int rl_tku8_valid(const char *s, size_t n, size_t *bad);
/* Appends s with invalid sequences replaced by U+FFFD (one per maximal invalid subpart, like
 * Rust's from_utf8_lossy). */
int rl_tku8_lossy(rl_buf *out, const char *s, size_t n);
int rl_tk_is_space(int32_t cp);   /* Unicode White_Space (Rust char::is_whitespace) */

/* ---- GPT-2 byte-level alphabet ---- */
int32_t rl_tk_bytelevel_cp(unsigned char b);  /* byte -> code point */
int rl_tk_bytelevel_byte(int32_t cp);         /* code point -> byte, -1 if not in the alphabet */

/* ---- regex (PCRE2, Oniguruma-like \s) and patterns ---- */
typedef struct rl_regex rl_regex;
rl_regex *rl_tkre_new(const char *pat, size_t n);
void rl_tkre_free(rl_regex *re);
/* Appends (start, end) pairs of all non-overlapping matches to out. */
int rl_tkre_find(const rl_regex *re, const char *s, size_t n, rl_svec *out);

typedef struct { char *lit; size_t litn; rl_regex *re; } rl_pattern;
/* Parses {"String": s} or {"Regex": r}. */
int rl_tkpat_parse(const cJSON *j, rl_pattern *p, const char *what);
int rl_tkpat_find(const rl_pattern *p, const char *s, size_t n, rl_svec *out);
void rl_tkpat_free(rl_pattern *p);

/* ---- components ---- */
typedef struct rl_tknorm rl_tknorm;
int rl_tknorm_parse(const cJSON *j, rl_tknorm **out);      /* JSON null -> *out = NULL */
/* Appends the normalized form of s to out. */
int rl_tknorm_apply(const rl_tknorm *nm, const char *s, size_t n, rl_buf *out);
void rl_tknorm_free(rl_tknorm *nm);

typedef struct rl_pretok rl_pretok;
int rl_pretok_parse(const cJSON *j, rl_pretok **out);
/* Splits/transforms the text pieces (id < 0) of pcs in place; new text goes to the arena. */
int rl_pretok_apply(const rl_pretok *pt, rl_buf *arena, rl_pieces *pcs);
void rl_pretok_free(rl_pretok *pt);

enum { RL_TKMODEL_BPE = 1, RL_TKMODEL_UNIGRAM, RL_TKMODEL_WORDPIECE, RL_TKMODEL_WORDLEVEL };
typedef struct rl_tkmodel rl_tkmodel;
int rl_tkmodel_parse(const cJSON *j, rl_tkmodel **out);
int rl_tkmodel_type(const rl_tkmodel *m);
/* Appends the ids of one pre-tokenized word. */
int rl_tkmodel_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out);
int32_t rl_tkmodel_token_id(const rl_tkmodel *m, const char *s, size_t n);  /* -1 if none */
const char *rl_tkmodel_id_token(const rl_tkmodel *m, int32_t id, size_t *len); /* NULL if none */
size_t rl_tkmodel_size(const rl_tkmodel *m);  /* max id + 1 */
void rl_tkmodel_free(rl_tkmodel *m);

/* Added vocabulary: tokens matched in the text before the model. */
typedef struct {
    int32_t id; char *content; size_t len;
    int special, lstrip, rstrip, normalized, single_word;
    char *norm; size_t normlen;     /* content normalized (for normalized tokens) */
} rl_added_tok;
typedef struct { int32_t child, sib, tok; unsigned char byte; } rl_trie_node;
typedef struct { rl_trie_node *nodes; size_t n, cap; int32_t root[256]; } rl_trie;
typedef struct {
    rl_added_tok *toks; size_t n;
    rl_strmap by_content;        /* content -> index */
    int32_t *by_id; size_t by_id_n; /* id -> index or -1 */
    rl_trie raw, normed;         /* non-normalized and normalized tokens */
} rl_added;
int rl_added_parse(const cJSON *arr, const rl_tknorm *nm, rl_added *a);
void rl_added_free(rl_added *a);
/* Splits pieces with id < 0 at added-token matches (raw: non-normalized trie, else normalized). */
int rl_added_split(const rl_added *a, int normalized, const rl_buf *arena, rl_pieces *in, rl_pieces *out);
const rl_added_tok *rl_added_by_id(const rl_added *a, int32_t id);

typedef struct rl_tkpost rl_tkpost;
/* tok_id resolves a token string to an id (for processors naming tokens). */
int rl_tkpost_parse(const cJSON *j, rl_tkpost **out);
/* A TemplateProcessing-like processor adding bos/eos ids (-1 = none). */
rl_tkpost *rl_tkpost_bos_eos(int32_t bos, int32_t eos);
int rl_tkpost_apply(const rl_tkpost *p, rl_ivec *ids);
void rl_tkpost_free(rl_tkpost *p);

/* Decoder: works on a list of token strings. */
typedef struct { rl_buf text; rl_svec se; } rl_strlist;   /* se: (off, len) pairs */
int rl_tkstr_push(rl_strlist *l, const char *s, size_t n);
void rl_tkstr_free(rl_strlist *l);
typedef struct rl_tkdec rl_tkdec;
int rl_tkdec_parse(const cJSON *j, rl_tkdec **out);
int rl_tkdec_apply(const rl_tkdec *d, rl_strlist *l);   /* replaces l with the decoded list */
void rl_tkdec_free(rl_tkdec *d);

/* JSON helpers */
const char *rl_tj_str(const cJSON *o, const char *key);            /* NULL if absent / not string */
int rl_tj_bool(const cJSON *o, const char *key, int dflt);
#endif
