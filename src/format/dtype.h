/* Tensor element types as stored in checkpoints, and a table of their names and sizes.
 * Besides plain element types there are block-quantized types (rabbitllm's layer cache,
 * src/quant/): a tensor's last dimension is cut into blocks of `block` items stored in
 * `block_bytes` bytes each; all size math goes through the table (rl_dtype_row_bytes). */
#ifndef RL_DTYPE_H
#define RL_DTYPE_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RL_DT_F32 = 0,
    RL_DT_F16,
    RL_DT_BF16,
    RL_DT_F64,
    RL_DT_I64,
    RL_DT_I32,
    RL_DT_I16,
    RL_DT_I8,
    RL_DT_U8,
    RL_DT_BOOL,
    RL_DT_Q8_0,  /* blocks of 32: f16 scale d, 32 x int8 q; value = d * q (34 bytes) */
    RL_DT_Q4_1,  /* blocks of 32: f16 scale d, f16 min m, 16 bytes of nibbles; byte j holds item j
                  * (low nibble) and item j + 16 (high nibble); value = d * q + m (20 bytes) */
    /* GGUF (llama.cpp) weight types. Their matmul reproduces ggml-cpu's numerics: the activation row
     * is first converted to the type's dot-product form (f16 / bf16 rounding, or Q8_0 / Q8_1 / Q8_K
     * blocks) and blocks are multiplied in integers (src/backend/cpu/ggml_quants.c). */
    RL_DT_GF16,   /* F16 weights, activations rounded to f16 */
    RL_DT_GBF16,  /* BF16 weights, activations rounded to bf16 */
    RL_DT_GQ8_0,  /* RL_DT_Q8_0's layout; activations as Q8_0 */
    RL_DT_GQ4_1,  /* RL_DT_Q4_1's layout; activations as Q8_1 */
    RL_DT_Q4_0,   /* blocks of 32: f16 d, 16 bytes of nibbles (item j low, j + 16 high); d * (q - 8) */
    RL_DT_Q5_0,   /* blocks of 32: f16 d, 4 bytes of 5th bits, 16 bytes of nibbles; d * (q - 16) */
    RL_DT_Q5_1,   /* blocks of 32: f16 d, f16 m, 5th bits, nibbles; d * q + m */
    RL_DT_Q2_K,   /* ggml k-quants: super-blocks of 256 */
    RL_DT_Q3_K,
    RL_DT_Q4_K,
    RL_DT_Q5_K,
    RL_DT_Q6_K,
    RL_DT_IQ4_NL, /* blocks of 32: f16 d, nibbles indexing a fixed non-linear table */
    /* HuggingFace pre-quantized formats (src/backend/cpu/hfq*.c). RL_DT_F8_E4M3 is the plain
     * element type of a safetensors "F8_E4M3" tensor. The composite types below are a linear
     * role whose weight is several tensors: as an operand, `w` is a host descriptor
     * (rl_qweight, backend/backend.h), never a pointer to the packed bytes. */
    RL_DT_F8_E4M3,
    RL_DT_FP8_BLK, /* F8_E4M3 weight [out, in] x weight_scale_inv [ceil(out/b0), ceil(in/b1)] */
    RL_DT_GPTQ,    /* qweight I32 [in/pf, out], qzeros I32 [G, out/pf] (v1: +1), scales F16 [G, out], g_idx I32 [in] */
    RL_DT_AWQ,     /* qweight I32 [in, out/8] (AWQ nibble order), qzeros I32 [in/g, out/8], scales F16 [in/g, out] */
    RL_DT_BNB4,    /* bitsandbytes 4-bit (NF4 / FP4): codes U8 [n/2], absmax per 64 (F32, or U8 double-quantised) */
    RL_DT_MXFP4,   /* OCP MXFP4 (gpt-oss experts): blocks U8 [out, in/2], item 2j the low nibble of byte j and
                      2j+1 the high one, each an e2m1 code (0, .5, 1, 1.5, 2, 3, 4, 6, sign in bit 3); scales U8
                      [out, in/32], e8m0: w = e2m1 * 2^(scale - 127) */
    RL_DT_GMXFP4,  /* GGUF (ggml) MXFP4: blocks of 32, e8m0 byte e then 16 bytes of e2m1 codes (item j low
                      nibble of byte j, item j + 16 high), w = kvalues_mxfp4[q] * 2^(e - 128) with the
                      doubled table 0 1 2 3 4 6 8 12 (sign bit 3); activations as Q8_0 (ggml-cpu) */
    RL_DT_COUNT
} rl_dtype;

typedef struct {
    const char *st_name; /* safetensors header name, e.g. "BF16" */
    size_t size;         /* bytes per element; 0 for block types (use block / block_bytes) */
    int block;           /* items per block: 1 for plain types, 32 for Q8_0 / Q4_1 */
    size_t block_bytes;  /* bytes per block (= size for plain types) */
} rl_dtype_info;

extern const rl_dtype_info RL_DTYPES[RL_DT_COUNT];

#define RL_QBLOCK 32 /* items per block of the quantized types */

/* 1 for block-quantized types (Q8_0, Q4_1 and the GGUF block types). */
static inline int rl_dtype_is_block(rl_dtype t) { return (unsigned)t < RL_DT_COUNT && RL_DTYPES[t].block > 1; }
/* 1 for the GGUF types (ggml-cpu numerics, see above). */
static inline int rl_dtype_is_ggml(rl_dtype t) { return (t >= RL_DT_GF16 && t <= RL_DT_IQ4_NL) || t == RL_DT_GMXFP4; }
/* 1 for the composite HF quantized types (the operand is an rl_qweight descriptor). */
static inline int rl_dtype_is_composite(rl_dtype t) { return t >= RL_DT_FP8_BLK && t <= RL_DT_MXFP4; }
/* 1 for the types the matmul kernels take as weights: F32, F16, BF16, Q8_0, Q4_1 and the GGUF types. */
static inline int rl_dtype_is_weight(rl_dtype t) {
    return t == RL_DT_F32 || t == RL_DT_F16 || t == RL_DT_BF16 || t == RL_DT_Q8_0 || t == RL_DT_Q4_1 ||
           rl_dtype_is_ggml(t) || rl_dtype_is_composite(t);
}
/* Bytes of n consecutive items starting at a block boundary (n a multiple of the block size for
 * block types; a row of a 2-D tensor, or the first n items of one). */
static inline size_t rl_dtype_row_bytes(rl_dtype t, int64_t n) {
    return (size_t)(n / RL_DTYPES[t].block) * RL_DTYPES[t].block_bytes;
}
/* Bytes of a tensor of this type and shape into *out. Returns 0, or -1 if the size overflows or
 * (block types) the shape has no dims or its last dim is not a multiple of the block size. */
int rl_dtype_nbytes(rl_dtype t, int ndim, const int64_t *shape, uint64_t *out);

/* Looks up a safetensors dtype name; returns the dtype or -1 if unknown. */
int rl_dtype_from_name(const char *name);

/* Scalar conversions used by kernels and tests. */
static inline float rl_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
    return v.f;
}
static inline uint16_t rl_f32_to_bf16(float f) { /* round to nearest even; NaN kept NaN */
    union { uint32_t u; float f; } v = { .f = f };
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
float rl_f16_to_f32(uint16_t h);
float rl_f8e4m3_to_f32(uint8_t b); /* float8_e4m3fn: bias 7, no inf, 0x7f / 0xff NaN */
uint16_t rl_f32_to_f16(float f);

#endif
