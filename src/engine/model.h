/* The engine's model object (internal view of rl_model): description, checkpoint, stages and
 * loader, thread pool, KV cache and activation arenas, all sized at open. */
#ifndef RL_ENGINE_MODEL_H
#define RL_ENGINE_MODEL_H
#include "rabbitllm.h"
#include "format/checkpoint.h"
#include "io/budget.h"
#include "io/loader.h"
#include "io/stage.h"
#include "backend/cpu/threadpool.h"
#include "model/desc.h"

/* Rows [row0, row0 + n) of a sweep belong to sequence seq, at positions pos0... */
typedef struct { int seq, row0, n, pos0; } rl_segment;

struct rl_model {
    char dir[4096];
    rl_model_desc d;
    rl_checkpoint *ck;
    rl_stage *stages;         /* n_layers layer stages, then head chunks */
    int n_stages;
    rl_loader *ld;
    rl_budget budget;         /* the memory budget decision (limit found, where from, resident bytes) */
    rl_pool *pool;
    const rl_tensor_info *embed;
    float *final_norm, *final_norm_b; /* resident, f32 (hidden) */

    int ctx, max_T;
    int n_seq;                /* sequences sharing the model, each with its own KV cache region */
    int *seq_pos;             /* (n_seq) tokens in each sequence's cache */
    int kv_dim;               /* n_kv_heads * head_dim */
    float *kc, *vc;           /* KV cache (KV layers, n_seq, ctx, kv_dim) */
    int n_seg;                /* the current sweep's rows, grouped by sequence */
    rl_segment *seg;          /* (max_T) */
    int *out_rows;            /* (max_T) rows of the sweep that need logits */
    int *out_item;            /* (max_T) batch item of each of those rows */
    int32_t *batch_tok;       /* (max_T) tokens of a batched sweep */
    float *batch_logits;      /* (min(n_seq, max_T), vocab) logits of a batched sweep */

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

    /* --- dense families (dense_ext.c; NULL unless the description asks) --- */
    float *qkv_tmp;           /* grouped fused qkv output before the split (T, q+2kv) (qkv_grouped) */
    float *lm_head_b;         /* resident lm_head bias (vocab) (head_bias) */

    /* --- hybrid linear attention (deltanet.c; all NULL/0 for models without RL_LAYER_LINEAR) --- */
    int n_lin;                /* linear-attention (Gated DeltaNet) layers */
    int *lin_slot;            /* (n_layers) index into the state arrays, -1 for attention layers */
    int *kv_slot;             /* (n_layers) index into kc/vc, -1 for linear layers (no KV cache) */
    float *lin_state;         /* recurrent state (n_lin, lin_v_heads, lin_k_dim, lin_v_dim) */
    float *conv_state;        /* last lin_conv_k-1 conv inputs (n_lin, lin_conv_k-1, conv_dim) */
    float *dn_in;             /* conv input: state rows then in_proj_qkv rows (lin_conv_k-1+T, conv_dim) */
    float *dn_conv;           /* conv + SiLU output: q, k, v per token (T, conv_dim) */
    float *dn_z;              /* in_proj_z output gate (T, lin_v_heads*lin_v_dim) */
    float *dn_b, *dn_a;       /* in_proj_b / in_proj_a (T, lin_v_heads) */
    float *dn_core;           /* recurrence output, gated-normed (T, lin_v_heads*lin_v_dim) */
    float *dn_w;              /* f32 copies: conv weight (conv_dim*k), A_log, dt_bias (v heads), norm (v dim) */
    float *qgate;             /* gated attention: q_proj output (T, 2*n_heads*head_dim), then the gate (T, qd) */
    int32_t *hist;            /* (ctx) token ids fed so far, to rebuild the state after a rewind */
    int replay;               /* 1: a rewind is pending; the next eval re-prefills hist[0..pos) first */

    /* --- MoE and MLA (moe.c, mla.c; NULL for models without MoE layers / MLA) --- */
    struct rl_moe_state *moe; /* router scratch, expert table, expert reader */
    struct rl_mla_state *mla; /* MLA scratch and the DSA indexer's key cache */
};

/* Runs one decoder layer on m->x (T rows, grouped by sequence in m->seg; pos0 is the first
 * segment's position, the only one for single-sequence paths); weights are views into buf. */
int rl_block_forward(rl_model *m, int layer, const uint8_t *buf, int T, int pos0);

/* Keys / values of sequence seq in KV layer slot `slot` ((ctx, kv_dim) each). */
static inline float *rl_kv_keys(const rl_model *m, int slot, int seq) {
    return m->kc + ((size_t)slot * m->n_seq + seq) * m->ctx * m->kv_dim;
}
static inline float *rl_kv_values(const rl_model *m, int slot, int seq) {
    return m->vc + ((size_t)slot * m->n_seq + seq) * m->ctx * m->kv_dim;
}

#endif
