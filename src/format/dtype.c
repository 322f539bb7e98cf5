/* dtype table and half-precision conversions (see dtype.h). */
#include "format/dtype.h"
#include <string.h>

const rl_dtype_info RL_DTYPES[RL_DT_COUNT] = {
    [RL_DT_F32] = {"F32", 4, 1, 4},    [RL_DT_F16] = {"F16", 2, 1, 2}, [RL_DT_BF16] = {"BF16", 2, 1, 2},
    [RL_DT_F64] = {"F64", 8, 1, 8},    [RL_DT_I64] = {"I64", 8, 1, 8}, [RL_DT_I32] = {"I32", 4, 1, 4},
    [RL_DT_I16] = {"I16", 2, 1, 2},    [RL_DT_I8] = {"I8", 1, 1, 1},   [RL_DT_U8] = {"U8", 1, 1, 1},
    [RL_DT_BOOL] = {"BOOL", 1, 1, 1},
    [RL_DT_Q8_0] = {"Q8_0", 0, RL_QBLOCK, 2 + RL_QBLOCK},
    [RL_DT_Q4_1] = {"Q4_1", 0, RL_QBLOCK, 4 + RL_QBLOCK / 2},
    /* GGUF types: names prefixed so that no safetensors header can claim them */
    [RL_DT_GF16] = {"gguf:F16", 2, 1, 2},        [RL_DT_GBF16] = {"gguf:BF16", 2, 1, 2},
    [RL_DT_GQ8_0] = {"gguf:Q8_0", 0, 32, 34},    [RL_DT_GQ4_1] = {"gguf:Q4_1", 0, 32, 20},
    [RL_DT_Q4_0] = {"gguf:Q4_0", 0, 32, 18},     [RL_DT_Q5_0] = {"gguf:Q5_0", 0, 32, 22},
    [RL_DT_Q5_1] = {"gguf:Q5_1", 0, 32, 24},     [RL_DT_Q2_K] = {"gguf:Q2_K", 0, 256, 84},
    [RL_DT_Q3_K] = {"gguf:Q3_K", 0, 256, 110},   [RL_DT_Q4_K] = {"gguf:Q4_K", 0, 256, 144},
    [RL_DT_Q5_K] = {"gguf:Q5_K", 0, 256, 176},   [RL_DT_Q6_K] = {"gguf:Q6_K", 0, 256, 210},
    [RL_DT_IQ4_NL] = {"gguf:IQ4_NL", 0, 32, 18},
    [RL_DT_GMXFP4] = {"gguf:MXFP4", 0, 32, 17},
    [RL_DT_F8_E4M3] = {"F8_E4M3", 1, 1, 1},
    /* composite HF types: names no safetensors header uses; size 0, never laid out by the table */
    [RL_DT_FP8_BLK] = {"hf:fp8-block", 0, 1, 0},  [RL_DT_GPTQ] = {"hf:gptq", 0, 1, 0},
    [RL_DT_AWQ] = {"hf:awq", 0, 1, 0},            [RL_DT_BNB4] = {"hf:bnb-4bit", 0, 1, 0},
    [RL_DT_MXFP4] = {"hf:mxfp4", 0, 1, 0},
};

int rl_dtype_nbytes(rl_dtype t, int ndim, const int64_t *shape, uint64_t *out) {
    const rl_dtype_info *d = &RL_DTYPES[t];
    uint64_t count = 1;
    for (int k = 0; k < ndim; k++)
        if (shape[k] < 0 || __builtin_mul_overflow(count, (uint64_t)shape[k], &count)) return -1;
    if (d->block > 1 && (ndim < 1 || shape[ndim - 1] % d->block)) return -1;
    return __builtin_mul_overflow(count / (uint64_t)d->block, (uint64_t)d->block_bytes, out) ? -1 : 0;
}

int rl_dtype_from_name(const char *name) {
    for (int i = 0; i < RL_DT_COUNT; i++)
        if (!strcmp(RL_DTYPES[i].st_name, name)) return i;
    return -1;
}

float rl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            u = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    union { uint32_t u; float f; } v = { .u = u };
    return v.f;
}

uint16_t rl_f32_to_f16(float f) {
    union { uint32_t u; float f; } v = { .f = f };
    uint32_t u = v.u, sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

float rl_f8e4m3_to_f32(uint8_t b) {
    uint32_t sign = (uint32_t)(b & 0x80) << 24, exp = (b >> 3) & 0xf, man = b & 7, u;
    if (exp == 0xf && man == 7) u = sign | 0x7fc00000u; /* NaN */
    else if (exp == 0) {
        if (!man) u = sign;
        else { /* subnormal: man * 2^-9 */
            int e = -6;
            while (!(man & 8)) { man <<= 1; e--; }
            u = sign | ((uint32_t)(e + 127) << 23) | ((man & 7) << 20);
        }
    } else u = sign | ((exp - 7 + 127) << 23) | (man << 20);
    union { uint32_t u; float f; } v = { .u = u };
    return v.f;
}
