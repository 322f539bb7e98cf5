/* The engine's model object (internal view of rl_model): description, checkpoint, stages and
 * loader, thread pool, KV cache and activation arenas, all sized at open. */
#ifndef RL_ENGINE_MODEL_H
#define RL_ENGINE_MODEL_H
#include "rabbitllm.h"
#include "format/checkpoint.h"
#include "io/loader.h"
#include "io/stage.h"
#include "kernels/cpu/threadpool.h"
#include "model/desc.h"

struct rl_model {
    char dir[4096];
    rl_model_desc d;
    rl_checkpoint *ck;
    rl_stage *stages;         /* n_layers layer stages, then head chunks */
    int n_stages;
    rl_loader *ld;
    rl_pool *pool;
    const rl_tensor_info *embed;
    float *final_norm, *final_norm_b; /* resident, f32 (hidden) */

    int ctx, max_T, pos;
    int kv_dim;               /* n_kv_heads * head_dim */
    float *kc, *vc;           /* KV cache (n_layers, ctx, kv_dim) */

    /* activations (max_T rows) */
    float *x;                 /* residual stream (T, hidden) */
    float *xb;                /* normed input (T, hidden) */
    float *q, *k, *v;         /* (T, n_heads*hd), (T, kv_dim) x2 */
    float *att;               /* attention output (T, n_heads*hd) */
    float *o;                 /* (T, hidden) */
    float *hb, *hb2;          /* MLP hidden (T, intermediate) x2 */
    float *wv;                /* small weights as f32 (norms, biases): 8 * max(q+2kv, inter, hidden) */
    float *rope_cos, *rope_sin; /* per rope: (T, rot/2) */
    float *attn_scratch;
    float *head_tmp;          /* (T, rows of the largest head chunk) */
    uint8_t *emb_row;         /* one raw embedding row */
    int *posv;                /* positions of the current sweep (T) */

    int profile;              /* collect per-stage compute time */
    double *compute_s;        /* per stage */
};

/* Runs one decoder layer on m->x (T tokens at pos0); weights are views into buf. */
int rl_block_forward(rl_model *m, int layer, const uint8_t *buf, int T, int pos0);

#endif
