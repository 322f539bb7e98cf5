/* Pre-quantized forms of synthetic checkpoints (`synth --dtype fp8 | fp8-channel | fp8-tensor | gptq4`): which linear
 * weights are quantized, the tensors each becomes (FP8 block 128x128 with F32 scales as
 * DeepSeek-V3 ships; GPTQ v1 4-bit sym, group 128, g_idx i / 128), the quantizers, and the
 * quantization_config block. The quantizer also yields the exact dequantised values, so a
 * plain F32 copy of the same model can be written for tests. */
#ifndef RL_SYNTH_QUANT_H
#define RL_SYNTH_QUANT_H
#include "format/st_writer.h"
#include "model/desc.h"

#define RL_SYNTH_QPIECES 4 /* most tensors one quantized weight becomes */

/* Tensors that weight `name` ([rows, cols], a "<module>.weight") becomes in format m (RL_QM_FP8
 * or RL_QM_GPTQ): specs[0..n) with names written into names[k] (192 bytes each). Returns n, or
 * 0 if the weight stays plain (shape not packable, or not a ".weight"). */
int rl_synth_qspecs(rl_quant_method m, const char *name, int64_t rows, int64_t cols, rl_st_spec *specs, char (*names)[192]);

/* Quantizes w (rows x cols f32) and writes its tensors in rl_synth_qspecs order to wr (wr may be
 * NULL); deq (optional, rows x cols) gets the exact dequantised weight. 0 / -1 + rl_err. */
int rl_synth_qwrite(rl_quant_method m, rl_st_writer *wr, const float *w, int64_t rows, int64_t cols, float *deq);

/* config.json text with the format's quantization_config added (malloc'd) or NULL + rl_err. */
char *rl_synth_qconfig(rl_quant_method m, const char *cfg, size_t len);

#endif
