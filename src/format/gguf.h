/* GGUF (llama.cpp's model file, versions 2 and 3) header parser: the key/value metadata of every
 * value type (arrays included), the tensor infos, alignment and data offsets. Every field read from
 * the file is checked (magic, version, counts, string lengths, dims, types, offsets and sizes
 * against the file size); errors name the file and the problem. Tensor data is not read here. */
#ifndef RL_GGUF_H
#define RL_GGUF_H
#include <stdint.h>
#include <stddef.h>

/* Metadata value types, as numbered in the file. */
typedef enum {
    RL_GGUF_U8 = 0, RL_GGUF_I8, RL_GGUF_U16, RL_GGUF_I16, RL_GGUF_U32, RL_GGUF_I32, RL_GGUF_F32,
    RL_GGUF_BOOL, RL_GGUF_STRING, RL_GGUF_ARRAY, RL_GGUF_U64, RL_GGUF_I64, RL_GGUF_F64,
    RL_GGUF_NTYPES
} rl_gguf_type;

/* ggml tensor types that GGUF files carry (numbering of ggml.h). */
enum {
    RL_GGML_F32 = 0, RL_GGML_F16 = 1, RL_GGML_Q4_0 = 2, RL_GGML_Q4_1 = 3, RL_GGML_Q5_0 = 6,
    RL_GGML_Q5_1 = 7, RL_GGML_Q8_0 = 8, RL_GGML_Q8_1 = 9, RL_GGML_Q2_K = 10, RL_GGML_Q3_K = 11,
    RL_GGML_Q4_K = 12, RL_GGML_Q5_K = 13, RL_GGML_Q6_K = 14, RL_GGML_Q8_K = 15,
    RL_GGML_IQ4_NL = 20, RL_GGML_I8 = 24, RL_GGML_I16 = 25, RL_GGML_I32 = 26, RL_GGML_I64 = 27,
    RL_GGML_F64 = 28, RL_GGML_BF16 = 30, RL_GGML_MXFP4 = 39
};

/* A string inside the parsed header (not NUL-terminated in the file; `s` is NUL-terminated here). */
typedef struct { const char *s; uint64_t len; } rl_gguf_str;

typedef struct {
    const char *key;
    rl_gguf_type type;
    rl_gguf_type arr_type;  /* element type of an array */
    uint64_t arr_n;         /* array length */
    const void *arr;        /* array elements: raw little-endian values, or rl_gguf_str[] for strings */
    union { uint64_t u; int64_t i; double f; rl_gguf_str str; } v; /* scalar value (ints widened) */
} rl_gguf_kv;

typedef struct {
    const char *name;
    uint32_t type;          /* ggml type */
    int n_dims;             /* 1..4 */
    int64_t ne[4];          /* ggml order: ne[0] is the innermost (row length) */
    uint64_t offset;        /* absolute offset in the file */
    uint64_t nbytes;
} rl_gguf_tensor;

typedef struct {
    char *path;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;   /* start of the tensor data section */
    uint64_t file_size;
    int64_t n_kv, n_tensors;
    rl_gguf_kv *kv;
    rl_gguf_tensor *tensors;
    void *mem;              /* owned allocations (strings, arrays) */
} rl_gguf;

/* Parses the GGUF file at path (through the open fd when fd >= 0). NULL + rl_err on error. */
rl_gguf *rl_gguf_open(const char *path, int fd);
void rl_gguf_free(rl_gguf *g);

/* KV lookups: the entry, or NULL if absent. */
const rl_gguf_kv *rl_gguf_get(const rl_gguf *g, const char *key);
/* Integer value (any integer or bool type) into *out; 1 if found, 0 if absent, -1 + rl_err if not an integer. */
int rl_gguf_int(const rl_gguf *g, const char *key, int64_t *out);
/* Float value (F32/F64 or an integer type); 1 / 0 / -1 as above. */
int rl_gguf_num(const rl_gguf *g, const char *key, double *out);
/* String value or NULL if absent or not a string. */
const char *rl_gguf_strv(const rl_gguf *g, const char *key);

/* Block size (items) and bytes per block of a ggml type; 0 if the type is unknown. */
int rl_ggml_type_block(uint32_t type, size_t *block_bytes);
/* Name of a ggml type ("Q4_K"), or "?" if unknown. */
const char *rl_ggml_type_name(uint32_t type);
/* Name of a metadata value type ("UINT32"), or "?". */
const char *rl_gguf_type_name(uint32_t type);

/* Whether path names a GGUF file (ends in .gguf). */
int rl_gguf_is_path(const char *path);
/* Split files: if path ends in -NNNNN-of-MMMMM.gguf, sets *idx (1-based) and *count and returns 1. */
int rl_gguf_split_parse(const char *path, int *idx, int *count);

#endif
