/* Internals of the GGUF-type kernels (ggml_quants.c and its per-ISA instantiations gq_*.c of
 * gq_tmpl.h): the decoded-block form, activation block sizes and the row kernel entry points. */
#ifndef RL_GQ_INTERNAL_H
#define RL_GQ_INTERNAL_H
#include "format/dtype.h"
#include <stddef.h>
#include <stdint.h>

#define GQ_QK 32
#define GQ_QKK 256
#define GQ_Q8_0_BYTES 34
#define GQ_Q8_1_BYTES 36
#define GQ_Q8_K_BYTES 292 /* f32 d, 256 int8, 16 int16 block sums */

typedef enum { GQ_ACT_Q8_0, GQ_ACT_Q8_1, GQ_ACT_Q8_K } gq_act;

/* IQ4_NL's 16 item values (ggml's kvalues_iq4nl). */
static const int8_t GQ_IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
/* MXFP4's 16 item values, e2m1 doubled (ggml's kvalues_mxfp4); the scale is then 2^(e - 128). */
static const int8_t GQ_MXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
/* ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128) as f32 (e 0 and 1: subnormal). */
static inline float gq_e8m0_half(uint8_t e) {
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}

/* A decoded weight block: value i = (d * sc[g]) * a[i] - (dmin * mn[g]), g = i / gsz. */
typedef struct {
    _Alignas(32) int8_t a[GQ_QKK];
    int16_t sc[16], mn[16];
    float d, dmin;
} gq_blk;

/* Block items, items per scale group, activation form of a GGUF block type; 0 items if t is not one. */
typedef struct { int n, gsz; gq_act act; } gq_info;
gq_info rl_gq_info(rl_dtype t);

static inline size_t gq_act_bytes(gq_act k) {
    return k == GQ_ACT_Q8_0 ? GQ_Q8_0_BYTES : k == GQ_ACT_Q8_1 ? GQ_Q8_1_BYTES : GQ_Q8_K_BYTES;
}

/* One matmul: weights w [out][in] of type t, activations act [T] rows already converted. */
typedef struct {
    rl_dtype t;
    gq_info ti;
    const uint8_t *w, *act;
    size_t w_rb, a_rb, bb, ab;
    float *y;
    const float *bias;
    int T, in, out;
    const void *aux; /* gq_vnni.c's activation layout, where that kernel runs */
} gq_job;

/* Per instruction set (gq_tmpl.h): decode one block, dot a decoded block with one activation
 * block, and compute output rows [o0, o1) of a job for every token. */
#define GQ_DECL(sfx) \
    void rl_gq_decode_##sfx(rl_dtype t, const uint8_t *b, gq_blk *o); \
    float rl_gq_block_dot_##sfx(gq_info ti, const gq_blk *b, const uint8_t *act); \
    void rl_gq_rows_##sfx(const gq_job *j, int64_t o0, int64_t o1); \
    /* F16 / BF16 rows in ggml's vec_dot order; xr already rounded to the weight type */ \
    void rl_gq_half_rows_##sfx(float *y, const float *xr, const void *w, rl_dtype t, const float *bias, int T, int in, int out);
GQ_DECL(scalar)
GQ_DECL(avx2)
GQ_DECL(avx512)

/* gq_vnni.c: one-token Q4_0 / IQ4_NL rows (out a multiple of 8) with AVX512-VNNI + VBMI, where the
 * CPU has them; prep lays the activation row out once per op (free() it), rows computes [o0, o1). */
int rl_gq_vnni_usable(rl_dtype t, int T, int out);
void *rl_gq_vnni_prep(const gq_job *j);
void rl_gq_vnni_rows(const gq_job *j, const void *prep, int64_t o0, int64_t o1);

/* gq_gemm.c: sweeps of GQ_GEMM_MIN_T tokens or more over Q4_0 / Q8_0 / Q4_K (out a multiple of 8)
 * / Q6_K (32 tokens or more) weights with AVX512-VNNI (the "avx512vnni" path), in ggml's orders; usable says whether it runs
 * for (t, T, out); gemm
 * computes the whole job on the pool: 0, or -1 (nothing done) where its scratch cannot be had. */
#define GQ_GEMM_MIN_T 4
typedef struct rl_pool rl_pool;
int rl_gq_gemm_usable(rl_dtype t, int T, int out);
int rl_gq_gemm(rl_pool *p, const gq_job *j);

#endif
