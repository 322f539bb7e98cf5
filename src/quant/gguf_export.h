/* HF checkpoint (BF16 / F16 / F32 safetensors) -> one GGUF v3 file that llama.cpp reads and
 * `rabbitllm run FILE.gguf` runs with no other file: general.* and <arch>.* metadata for the
 * families llama.cpp and our GGUF reader share (Llama / Mistral / Mixtral as "llama", qwen2,
 * qwen3, qwen2moe, qwen3moe, gemma, gemma2, phi3), llama.cpp's tensor names, the Q/K row
 * permutation of the "llama" architecture, Gemma norms stored as 1 + w, Llama 3 rope scaling as
 * a rope_freqs tensor, experts stacked into 3-D *_exps tensors, the tokenizer as tokenizer.ggml.*
 * (quant/gguf_vocab.h). Matrices are written in the chosen type with ggml's reference quantizers
 * (quant/ggml_quant.h) as llama-quantize would: the output matrix (or the tied embedding) at
 * Q8_0 in 4-bit files, rows that are not a multiple of 32 as F16, norms / biases / routers F32.
 * Tensor by tensor in chunks of rows; crash-safe (format/gguf_write.h). */
#ifndef RL_GGUF_EXPORT_H
#define RL_GGUF_EXPORT_H
#include <stdint.h>

/* Output types (general.file_type): ggml numbering of the matrices' type. */
typedef enum { RL_GX_F32 = 0, RL_GX_F16 = 1, RL_GX_Q4_0 = 2, RL_GX_Q4_1 = 3, RL_GX_Q8_0 = 8, RL_GX_BF16 = 30 } rl_gguf_xtype;

/* Parses "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1" (case-insensitive). 0, or -1 + rl_err. */
int rl_gguf_xtype_parse(const char *s, rl_gguf_xtype *out);

typedef struct {
    uint64_t src_bytes, out_bytes; /* tensor data read / written */
    int n_tensors, n_quantized;
    char arch[16], vocab[8];       /* general.architecture, tokenizer.ggml.model */
} rl_gguf_export_stats;

/* Writes model_dir as out_path (atomically). st may be NULL. Progress: rl_qcache_set_progress's
 * callback is not used; fn (may be NULL) gets source bytes done / total after each tensor.
 * Test hook: RL_QUANT_FAIL_AFTER=N makes the write fail after N tensors (nothing is installed).
 * Returns 0 or -1 + rl_err naming the file and the problem. */
int rl_gguf_export(const char *model_dir, const char *out_path, rl_gguf_xtype type, rl_gguf_export_stats *st,
                   void (*fn)(void *ud, uint64_t done, uint64_t total), void *ud);

#endif
