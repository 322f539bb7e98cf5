/* Row quantizers into ggml's Q8_0 / Q4_0 / Q4_1 blocks with ggml's reference rules (the ones
 * llama-quantize applies without an importance matrix), so a GGUF written here holds the bytes
 * llama.cpp would have written, plus F16 / BF16 / F32 rows. Used by the GGUF exporter. */
#ifndef RL_GGML_QUANT_H
#define RL_GGML_QUANT_H
#include <stddef.h>
#include <stdint.h>

/* Bytes of a row of n items of ggml type t (RL_GGML_F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_1); 0 if t is
 * not one of these or n is not a multiple of its block. */
size_t rl_ggml_row_bytes(uint32_t t, int64_t n);

/* Quantizes n floats of src into dst (rl_ggml_row_bytes(t, n) bytes). Returns 0, or -1 + rl_err
 * when a value is not finite or does not fit the type. */
int rl_ggml_quantize_row(uint32_t t, const float *src, void *dst, int64_t n);

#endif
