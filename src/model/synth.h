/* Synthetic checkpoints: writes a full-size HF-style checkpoint with random weights for any
 * supported config (for tests and benchmarks), shard by shard in bounded memory. */
#ifndef RL_SYNTH_H
#define RL_SYNTH_H
#include "format/dtype.h"
#include <stdint.h>

typedef struct {
    rl_dtype dtype;          /* F32, F16 or BF16 */
    uint64_t shard_bytes;    /* most bytes per shard (0 = one file) */
    uint64_t seed;
    int quant;               /* rl_quant_method: RL_QM_FP8 / RL_QM_GPTQ write the linear weights in that
                                pre-quantized form (model/synth_quant.h); others stay `dtype` */
    int dequant_f32;         /* with quant: instead write a plain F32 checkpoint of the same model, every
                                quantized weight holding its exact dequantised values (for tests) */
    void (*progress)(void *ud, uint64_t done, uint64_t total); /* optional: bytes written after each tensor */
    void *progress_ud;
} rl_synth_opts;

/* Copies config_path to out_dir/config.json (creating out_dir) and writes the weights:
 * linear weights ~ N(0, 1/fan_in), norms 1 + 0.02 N, biases 0.02 N, embeddings N(0, 0.02... ).
 * Files are written under temporary names and renamed when complete. 0 / -1 + rl_err. */
int rl_synth_write(const char *config_path, const char *out_dir, const rl_synth_opts *o);

#endif
