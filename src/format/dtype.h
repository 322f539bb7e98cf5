/* Tensor element types as stored in checkpoints, and a table of their names and sizes. */
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
    RL_DT_COUNT
} rl_dtype;

typedef struct {
    const char *st_name; /* safetensors header name, e.g. "BF16" */
    size_t size;         /* bytes per element */
} rl_dtype_info;

extern const rl_dtype_info RL_DTYPES[RL_DT_COUNT];

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
uint16_t rl_f32_to_f16(float f);

#endif
