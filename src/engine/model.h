/* The engine's model object (internal view of rl_model): description, checkpoint, stages and
 * loader, the compute backend, the memory plan and the buffers it placed, the KV cache. Every
 * float pointer marked (device) is backend memory: passed to backend ops, never dereferenced. */
#ifndef RL_ENGINE_MODEL_H
#define RL_ENGINE_MODEL_H
#include "rabbitllm.h"
#include "backend/backend.h"
#include "engine/kvcache.h"
#include "engine/plan.h"
#include "format/checkpoint.h"
#include "io/budget.h"
#include "io/loader.h"
#include "io/stage.h"
#include "model/desc.h"
#include <stdio.h>

/* Rows [row0, row0 + n) of a sweep belong to sequence seq, at positions pos0... */
typedef struct { int seq, row0, n, pos0; } rl_segment;

struct rl_model {
    char dir[4096];
    rl_model_desc d;
    rl_checkpoint *ck;
    rl_stage *stages;         /* n_layers layer stages, then head chunks */
    rl_qweight qw[W_COUNT];    /* operands of the composite (pre-quantized) roles of the layer being run (rl_stage_weight) */
    int n_stages;
    rl_loader *ld;
    rl_backend *be;
    rl_host_mem hm;           /* the backend's host memory, for the loader and the expert reader */
    rl_plan plan;
    rl_budget budget;         /* the memory budget decision (limit found, where from, resident bytes) */
    int plan_fits;            /* 0: the plan does not fit what the process may use (rl_errmsg then) */
    void *arena;              /* the backend arena holding every device entry of the plan */
    size_t arena_bytes;       /* its size (freed with it: the entries outside it may be gone by then) */
    const rl_tensor_info *embed;
    float *final_norm, *final_norm_b; /* (device) f32 (hidden) */
    float *lm_head_b;         /* (device) lm_head bias (vocab) (head_bias) */

    int ctx, max_T;
    int max_in;               /* widest matmul input row (values): sizes the backend's scratch */
    int n_seq;                /* sequences sharing the model, each with its own KV cache region */
    rl_kvcache kv;
    rl_dtype kv_dt;           /* KV cache storage type (--kv-type) */
    int mla_latent;           /* MLA caches the latent and runs the absorbed attention (mla.c) */
    int n_seg;                /* the current sweep's rows, grouped by sequence */
    rl_segment *seg;          /* (max_T) */
    int *out_rows;            /* (max_T) rows of the sweep that need logits */
    int32_t *batch_tok;       /* (max_T) tokens of a batched sweep */
    int *posv;                /* host (max_T) positions of the current sweep */
    float *rope_host;         /* host staging of the rope tables (2 * n_ropes * max_T * RL_MAX_ROPE_FACTORS/2) */
    uint8_t *emb_raw;         /* host (max_T, embedding row bytes) raw embedding rows */

    /* activations (device, max_T rows) */
    float *x;                 /* residual stream (T, hidden) */
    float *xb;                /* normed input (T, hidden) */
    float *q, *k, *v;         /* (T, n_heads*hd), (T, kv_dim) x2 */
    float *att;               /* attention output (T, n_heads*max(hd, v_hd)) */
    float *o;                 /* (T, hidden) */
    float *hb, *hb2;          /* MLP hidden (T, intermediate) x2 */
    float *wv;                /* small weights as f32 (norms, biases): 3 * max(q+2kv, inter, hidden) */
    float *rope_cos, *rope_sin; /* per rope r at r * max_T * RL_MAX_ROPE_FACTORS/2: (T, rot/2) */
    float *attn_temp;         /* (T) the attention temperature of each row (attn_temp_scale > 0), else NULL */
    float *temp_host;         /* host (max_T) its staging */
    float *head_tmp;          /* (T, rows of the largest head chunk) */
    uint8_t *emb_dev;         /* raw embedding rows on the device (max_T rows; = emb_raw if host_shared) */
    float *qkv_tmp;           /* grouped fused qkv output before the split (T, q+2kv) (qkv_grouped) */
    float *qgate;             /* gated attention: q_proj output (T, 2*qd) */
    float *gate;              /* its gates (T, qd) */
    float *scratch;           /* the backend's own scratch (attention) */
    uint8_t *wslot[2];        /* device copies of streamed stages (NULL if host_shared) */
    int n_threads;            /* rl_model_opts.n_threads (the MoE's CPU side opens a CPU backend with it) */
    size_t expert_cache;      /* rl_model_opts.expert_cache (engine/moe.h) */
    int moe_cpu_rows;         /* rl_model_opts.moe_cpu_rows */
    size_t gpu_mem;           /* device-memory budget (rl_model_opts.gpu_mem; engine/devres.h) */
    size_t gpu_budget;        /* that budget resolved (auto: free device memory less a margin) */
    char gpu_line[256];       /* how it was decided ("" for a host backend), for info / --profile */
    size_t *dev_off;          /* (n_stages) offsets of the device-resident stages, SIZE_MAX = streamed */
    uint8_t **dev_stage;      /* (n_stages) their device copies once uploaded, NULL = streamed */
    int n_dev_res;            /* device-resident stages */
    size_t dev_res_bytes;

    /* token-tree verification (rl_model_eval_tree): the current / last tree sweep */
    int32_t *tree_parent;     /* host (max_T) parents of the sweep's rows; NULL outside a tree sweep */
    int32_t *tree_parent_dev; /* device (max_T) */
    int32_t *tree_tok;        /* host (max_T) the last tree sweep's tokens, for rl_model_seq_tree_commit */
    int32_t *tree_par;        /* host (max_T) their parents (relative to each sequence's first row) */
    struct rl_tree_seq { int n, pos, row0, top, chain; } *tree_seq; /* (n_seq) a sequence's pending tree:
                                 nodes (0: none), position, first row in tree_tok; top: the highest
                                 position + 1 a tree wrote (ring rows; see rl_model_seq_rewind); chain 1:
                                 a chain of a model without trees, in the cache (pos + n) until the commit */

    unsigned long long n_sweeps; /* sweeps run (tests count the reads of the weights) */
    int profile;              /* collect per-stage compute time */
    double *compute_s;        /* per stage */

    /* trace hook (rl_model_set_trace): intermediates of each layer, downloaded to trace_buf */
    rl_trace_fn trace_fn;
    void *trace_ud;
    float *trace_buf;         /* host (max_T * widest intermediate) */
    size_t trace_cap;         /* floats */

    /* --- hybrid linear attention (deltanet.c; NULL/0 for models without RL_LAYER_LINEAR) --- */
    int n_lin;                /* linear-attention (Gated DeltaNet) layers */
    int *lin_slot;            /* (n_layers) index into the state arrays, -1 for attention layers */
    int *kv_slot;             /* (n_layers) index into the KV cache, -1 for linear layers */
    struct rl_dn_state *dn;   /* state and scratch */
    int replay;               /* 1: a rewind is pending (replay_seq says whose); the next eval re-prefills
                                 those sequences' kept prefixes first */
    uint8_t *replay_seq;      /* (n_seq) 1: this sequence's rewind is pending (2: from its checkpoint
                                 replay_ckpt) */
    uint8_t *replay_ckpt;     /* (n_seq) the checkpoint slot a pending rewind restores */
    int *ckpt_pos;            /* (n_seq, RL_CKPT_SLOTS) hybrid models: positions of the sequence's state
                                 checkpoints (a conversation turn's, speculation's), -1 none */
    int *ckpt_pend;           /* (n_seq, RL_CKPT_SLOTS) a checkpoint to take where the next sweep of the
                                 sequence reaches this position (its state is still being replayed), -1 none */

    /* --- MoE and MLA (moe.c, mla.c; NULL for models without MoE layers / MLA) --- */
    struct rl_moe_state *moe;
    struct rl_mla_state *mla;

    /* --- pipeline stage (src/dist): this process runs layers [l0, l1) and stages [s0, s1)
     * (the head chunks too unless pp_send); 0, n_layers, 0, n_stages in one process --- */
    int l0, l1, s0, s1;
    int pp_recv, pp_send;     /* takes its input rows from the stage before (no embedding) /
                                 sends its rows to the next (no head) */
    struct rl_dist_model *dist; /* the pipeline's state; NULL in one process */
};

/* Opens only layers [l0, l1) of MODEL_DIR (KV cache and resident stages of those layers only):
 * a pipeline stage (src/dist) whose input rows come from the stage before (RL_PP_RECV; else the
 * embedding) and whose output goes to the next (RL_PP_SEND; else the head). l0 < 0: all. */
enum { RL_PP_RECV = 1, RL_PP_SEND = 2 };
rl_model *rl_model_open_range(const char *dir, const rl_model_opts *opts, int l0, int l1, int pp);
/* One sweep of the rows set in m->seg / n_seg over this process's layers (engine.c's sweep). */
int rl_model_sweep(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits);

/* Runs one decoder layer on m->x (T rows, grouped by sequence in m->seg); w is the layer
 * image in backend memory (weights are views into it). */
int rl_block_forward(rl_model *m, int layer, const uint8_t *w, int T);

/* A layer image (or expert batch) the loader read into host memory, as backend memory: the
 * host buffer itself for host_shared backends, else uploaded into device slot `slot`. */
const uint8_t *rl_weights_on_device(rl_model *m, const uint8_t *host, size_t bytes, int slot);

/* A stage role's weight as an op operand: its bytes in backend memory and its dtype (p NULL when
 * the role has no tensor). The one place where a stage tensor becomes an operand: formats whose
 * weights are several tensors (scales, zeros) hook in here. */
typedef struct { const void *p; rl_dtype dt; } rl_wref;
/* act_mul over rows of `width`: ggml applies its runs of 16 per row (GGUF numerics), so rows whose
 * width is not a multiple of 16 are handed over one at a time there. */
static inline void rl_act_mul_rows(rl_backend *be, rl_act_kind k, float *g, const float *u, int rows, int width) {
    if (be->numerics != RL_NUMERICS_GGML || width % 16 == 0) { be->ops->act_mul(be, k, g, u, (int64_t)rows * width); return; }
    for (int r = 0; r < rows; r++) be->ops->act_mul(be, k, g + (size_t)r * width, u ? u + (size_t)r * width : NULL, width);
}
rl_wref rl_stage_weight(rl_model *m, const rl_stage *s, const uint8_t *buf, int role);

/* Trace of an intermediate (rows x cols floats of device memory) when a hook is set. */
void rl_trace(rl_model *m, int layer, const char *name, const float *dev, int rows, int cols);
#define RL_TRACE(m, l, name, p, rows, cols) do { if ((m)->trace_fn) rl_trace(m, l, name, p, rows, cols); } while (0)

/* Builds the memory plan for MODEL_DIR with opts (no weight is read) and prints it to f. 0 / -1. */
int rl_model_print_plan(const char *dir, const rl_model_opts *opts, FILE *f);
/* The plan of rl_model_print_plan as JSON (plan.h's rl_plan_json plus "budget" and "fits");
 * NULL + rl_err when the model cannot be planned. */
struct cJSON *rl_model_plan_json(const char *dir, const rl_model_opts *opts);

/* Small vector weight of `n` values (any dtype) as f32 in dst (device); NULL if w is NULL. */
const float *rl_vec_f32(rl_model *m, float *dst, const void *w, rl_dtype dt, int64_t n);

/* Hybrid state checkpoint slots: a conversation turn's (rl_model_seq_checkpoint: each prompt's
 * end, which the next turn restores) and speculation's (each verification), so verifying drafts
 * does not lose the turn's. A rewind restores the latest one at or before its position. */
enum { RL_CKPT_TURN = 0, RL_CKPT_SPEC = 1, RL_CKPT_SLOTS = 2 };
int rl_model_seq_checkpoint_slot(rl_model *m, int seq, int slot);

#endif
