/* Stages of one forward sweep as the loader sees them: each decoder layer, then the lm_head in
 * row chunks no larger than a layer. A stage is a list of byte ranges read into one aligned
 * buffer (adjacent ranges coalesced into one read) and the offsets of its tensors in it. */
#ifndef RL_STAGE_H
#define RL_STAGE_H
#include "format/checkpoint.h"
#include "io/coalesce.h"
#include "io/stage_quant.h"
#include "model/desc.h"
#include <stddef.h>
#include <stdint.h>

#define RL_STAGE_MAX_RANGES RL_COALESCE_MAX /* composite roles add tensors (stage_quant.h) */


typedef enum { RL_STAGE_LAYER = 0, RL_STAGE_HEAD } rl_stage_kind;

typedef struct {
    rl_stage_kind kind;
    int layer;                          /* RL_STAGE_LAYER: layer index */
    int row0, row1;                     /* RL_STAGE_HEAD: vocab rows [row0, row1) */
    int n_ranges;
    rl_read_range ranges[RL_STAGE_MAX_RANGES];
    size_t bytes;                       /* buffer bytes needed */
    const rl_tensor_info *t[W_COUNT];   /* layer tensors by role (NULL = absent); head: t[0] */
    size_t off[W_COUNT];                /* offset of each tensor's first byte in the buffer */
    rl_stage_qrole *q;                  /* layer of a pre-quantized checkpoint: W_COUNT entries, the
                                           composite roles' extra tensors (q[r].dt != 0); else NULL.
                                           Lives in the stages' allocation (one free) */
} rl_stage;

/* Builds the stages for every layer and the head of a model. Resolves each role's tensor name,
 * checks presence (required roles) and shapes against the description. *stages is malloc'd
 * (caller frees); *n gets the count. head_chunk_max: largest head chunk in bytes (0 = the
 * largest layer). 0 / -1 + rl_err ("<model dir>: missing tensor ..."). */
int rl_stages_build(const rl_model_desc *d, const rl_checkpoint *ck, size_t head_chunk_max,
                    rl_stage **stages, int *n);

/* Tensor info of a whole-model role (embedding, final norm, head), or NULL if absent. */
/* Tensor by name, trying the description's alternative name prefixes (name_alt) when missing. */
const rl_tensor_info *rl_find_tensor(const rl_model_desc *d, const rl_checkpoint *ck, const char *name);
const rl_tensor_info *rl_global_tensor(const rl_model_desc *d, const rl_checkpoint *ck, rl_global_role r);

#endif
