/* The composite weights of pre-quantized HF checkpoints in a stage: which tensors make up a
 * quantized linear role (FP8 weight + weight_scale_inv, GPTQ qweight/qzeros/scales/g_idx, AWQ
 * qweight/qzeros/scales, bitsandbytes 4-bit codes + absmax (+ nested absmax and maps)), their
 * shape checks, and the rl_qweight operand they become once the layer image is read. */
#ifndef RL_STAGE_QUANT_H
#define RL_STAGE_QUANT_H
#include "backend/backend.h"
#include "format/checkpoint.h"
#include "model/desc.h"

#define RL_QAUX 4 /* extra tensors per composite role */

typedef struct {
    rl_dtype dt;                        /* composite dtype, or 0 (RL_DT_F32) = plain role */
    const rl_tensor_info *aux[RL_QAUX]; /* by format: see rl_qweight's fields (NULL = absent) */
    size_t aux_off[RL_QAUX];            /* offsets in the stage buffer */
    rl_qweight p;                       /* shape / format parameters; pointers unset */
} rl_stage_qrole;

/* Resolves a weight matrix named `name` (the plain "<module>.weight" name) of shape
 * [rows, cols] as a composite weight of d->quant's format. Returns 1 with *main (the tensor
 * whose bytes are the codes) and *q filled, 0 when the checkpoint holds this weight plainly
 * (not quantized: the caller looks it up as usual), or -1 + rl_err naming dir and the tensor
 * (missing aux tensor, wrong packed shapes or dtypes, a scale grid not covering the weight,
 * g_idx out of range, a bad quant_state). */
int rl_stage_quant_role(const rl_model_desc *d, const rl_checkpoint *ck, const char *name, int64_t rows, int64_t cols,
                        const char *dir, const rl_tensor_info **main, rl_stage_qrole *q);

/* The operand of a resolved composite role whose codes are at `data` and aux tensors at
 * base + aux_off[k] (backend pointers). */
void rl_stage_qweight(const rl_stage_qrole *q, const uint8_t *data, const uint8_t *base, rl_qweight *out);

#endif
