/* The model description: everything the one decoder block needs to know about a model,
 * filled from config.json by a family normalizer (families.c). No code path per family reads
 * config.json; the engine reads only this struct. */
#ifndef RL_DESC_H
#define RL_DESC_H
#include <stdint.h>

#define RL_MAX_LAYERS 512
#define RL_MAX_EOS 16
#define RL_MAX_ROPE_FACTORS 512

typedef enum { RL_NORM_RMS = 0, RL_NORM_LAYER } rl_norm_kind;
typedef enum { RL_ACT_SILU = 0, RL_ACT_GELU_TANH, RL_ACT_GELU_ERF } rl_act_kind;
typedef enum { RL_LAYER_FULL = 0, RL_LAYER_SLIDING } rl_layer_kind;
typedef enum { RL_ROPE_NEOX = 0, /* rotate_half: pairs (i, i + rot/2) */
               RL_ROPE_GPTJ,     /* interleaved pairs (2i, 2i+1) */
               RL_ROPE_NONE } rl_rope_pairing;
typedef enum { RL_RS_NONE = 0, RL_RS_LINEAR, RL_RS_DYNAMIC, RL_RS_LLAMA3, RL_RS_YARN, RL_RS_LONGROPE } rl_rope_scaling;

/* One rotary embedding configuration (a model may have two: global and local layers). */
typedef struct {
    double theta;            /* base */
    int rot_dims;            /* rotated dims per head (head_dim, or less for partial rotary) */
    rl_rope_pairing pairing;
    rl_rope_scaling scaling;
    double factor;           /* scaling factor */
    double low_freq_factor, high_freq_factor; /* llama3 */
    double orig_max_pos;     /* original_max_position_embeddings (llama3, yarn, longrope, dynamic) */
    double beta_fast, beta_slow, mscale, mscale_all_dim; /* yarn */
    double attn_factor;      /* explicit attention_factor (yarn/longrope), 0 = derive */
    int n_short, n_long;     /* longrope factor counts (= rot_dims/2) */
    double short_factor[RL_MAX_ROPE_FACTORS / 2], long_factor[RL_MAX_ROPE_FACTORS / 2];
    double max_pos;          /* max_position_embeddings (longrope, dynamic) */
} rl_rope;

/* Per-layer properties. */
typedef struct {
    rl_layer_kind kind;
    int window;              /* sliding window in tokens (0 = full attention) */
    int rope;                /* index into rl_model_desc.ropes */
} rl_layer_desc;

/* Weight roles of one decoder layer; families map each to a tensor name. */
typedef enum {
    W_ATTN_NORM, W_ATTN_NORM_B,
    W_Q, W_Q_B, W_K, W_K_B, W_V, W_V_B, W_O, W_O_B,
    W_QKV, W_QKV_B,          /* fused q,k,v rows (split by views) */
    W_Q_NORM, W_K_NORM,      /* per-head RMSNorm on q / k */
    W_POST_ATTN_NORM,        /* norm on the attention output before the residual add (Gemma 2/3) */
    W_MLP_NORM, W_MLP_NORM_B,/* pre-MLP norm ("post_attention_layernorm" in Llama) */
    W_GATE, W_UP, W_DOWN, W_UP_B, W_DOWN_B,
    W_GATE_UP,               /* fused gate rows then up rows */
    W_POST_MLP_NORM,
    W_COUNT
} rl_weight_role;

/* Whole-model tensors. */
typedef enum { G_EMBED, G_FINAL_NORM, G_FINAL_NORM_B, G_LM_HEAD, G_LM_HEAD_B, G_COUNT } rl_global_role;

typedef struct {
    char family[32];         /* our family name, e.g. "llama" */
    char arch[96];           /* HF architectures[0] */
    char model_type[64];

    /* dimensions */
    int n_layers, hidden, n_heads, n_kv_heads, head_dim, intermediate, vocab;
    int max_pos;             /* max_position_embeddings */

    /* norms */
    rl_norm_kind norm;
    float norm_eps;
    int norm_one_plus;       /* Gemma: weight applied as (1 + w) */
    int qk_norm;             /* per-head q/k RMSNorm present */
    int post_norms;          /* extra post-attention / post-MLP norms (Gemma 2/3) */

    /* attention */
    int qkv_bias, o_bias;
    float attn_scale;        /* softmax scale (1/sqrt(head_dim) unless the family says otherwise) */
    float attn_softcap;      /* 0 = none */
    int n_ropes;
    rl_rope ropes[2];
    rl_layer_desc layers[RL_MAX_LAYERS];

    /* MLP */
    rl_act_kind act;
    int mlp_gated;           /* gate/up (GLU) vs plain up -> act -> down */
    int mlp_bias;

    /* embedding and head */
    float emb_scale;         /* 1 = none */
    int tied;                /* lm_head is the embedding */
    float final_softcap;     /* 0 = none */

    /* generation */
    int bos_id;              /* -1 if none */
    int n_eos;
    int eos_ids[RL_MAX_EOS];
    char dtype[16];          /* declared weight dtype (torch_dtype / dtype), informational */

    /* tensor names: printf formats with one %d for the layer index ("" = role unused) */
    const char *wname[W_COUNT];
    const char *gname[G_COUNT];
    uint64_t w_optional;     /* bit per rl_weight_role (1ull << role): missing tensor allowed */
} rl_model_desc;

#endif
