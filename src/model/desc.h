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
typedef enum { RL_ACT_SILU = 0, RL_ACT_GELU_TANH, RL_ACT_GELU_ERF,
               RL_ACT_SWIGLU_OAI, /* gpt-oss: g = min(gate, 7), u = clamp(up, -7, 7): g sigmoid(1.702 g) (u + 1) */
               RL_ACT_RELU2, /* squared ReLU max(x, 0)^2 (Nemotron-H's relu2) */
               RL_ACT_IDENTITY /* x (act_mul: a plain product; LFM2's short conv gates) */ } rl_act_kind;
typedef enum { RL_LAYER_FULL = 0, RL_LAYER_SLIDING,
               RL_LAYER_LINEAR /* Gated DeltaNet (Qwen3.5) or Mamba-2 (lin_kind): fixed-size recurrent state, no KV cache */ } rl_layer_kind;

/* What an RL_LAYER_LINEAR layer computes. */
typedef enum { RL_LIN_GDN, /* Gated DeltaNet (Qwen3.5, Qwen3-Next) */
               RL_LIN_MAMBA2, /* Mamba-2 (Granite 4.0-H): lin_k_heads = n_groups, lin_k_dim = d_state,
                                lin_v_heads = heads, lin_v_dim = head_dim */
               RL_LIN_MAMBA1, /* Mamba-1 (Mamba, FalconMamba, Jamba): lin_k_heads = 1, lin_k_dim = d_state,
                                lin_v_heads = channels (d_inner), lin_v_dim = 1: a decay per channel and state */
               RL_LIN_SHORTCONV /* LFM2's gated short conv: out_proj(C * conv(B * x)), [B | C | x] = in_proj h;
                                   lin_v_heads = hidden, lin_v_dim = 1, lin_k_* = 0: a conv state, no recurrent one */
} rl_lin_kind;
typedef enum { RL_ROPE_NEOX = 0, /* rotate_half: pairs (i, i + rot/2) */
               RL_ROPE_GPTJ,     /* interleaved pairs (2i, 2i+1) */
               RL_ROPE_NONE } rl_rope_pairing;
typedef enum { RL_RS_NONE = 0, RL_RS_LINEAR, RL_RS_DYNAMIC, RL_RS_LLAMA3, RL_RS_YARN, RL_RS_LONGROPE,
               RL_RS_FACTORS /* per-pair divisors short_factor[] (GGUF rope_freqs tensor), no attention factor */ } rl_rope_scaling;

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
    int yarn_exact_range;    /* yarn "truncate": false (gpt-oss): the correction range's ends are not rounded */
    int n_short, n_long;     /* longrope factor counts (= rot_dims/2) */
    double short_factor[RL_MAX_ROPE_FACTORS / 2], long_factor[RL_MAX_ROPE_FACTORS / 2];
    double max_pos;          /* max_position_embeddings (longrope, dynamic) */
    int mrope_sec[4];        /* Qwen-VL's rotary sections (mrope_section) per position axis t, h, w (0 0 0: none);
                                text positions make them plain rope: kept for the GGUF writer */
    int mrope_il;            /* ... laid out interleaved (Qwen3-VL's mrope_interleaved) */
    int ggml_long;           /* GGUF longrope (ggml_angles): the long factors, else the short ones — llama.cpp's choice by
                                the context per sequence (above orig_max_pos: long), set at open */
    int ggml_angles;         /* angles as ggml computes them (GGUF models): theta_i = pos * s^i by repeated
                                f32 multiplication, s = base^(-2/rot_dims), divided by short_factor[i]
                                (RL_RS_FACTORS), or ggml's YaRN mix (RL_RS_YARN: cos / sin times
                                attn_factor (1 if 0) * (1 + 0.1 ln factor)); no other scaling */
} rl_rope;

/* Pre-quantized HF checkpoints (quantization_config; model/quant_config.c). */
typedef enum { RL_QM_NONE = 0, RL_QM_FP8, RL_QM_GPTQ, RL_QM_AWQ, RL_QM_BNB4,
               RL_QM_MXFP4, /* gpt-oss: routed experts in MXFP4 (<name>_blocks, <name>_scales), the rest plain */
               /* forms `synth` writes (a loaded model says RL_QM_FP8 with fp8_ct set): compressed-tensors
                  FP8 with per-channel / per-tensor weight_scale */
               RL_QM_CT_FP8_CHANNEL, RL_QM_CT_FP8_TENSOR } rl_quant_method;
typedef struct {
    rl_quant_method method;
    int bits;                /* GPTQ 4 / 8, AWQ 4, BNB4 4 */
    int group;               /* GPTQ / AWQ group_size */
    int desc_act, sym;       /* GPTQ (informational: g_idx is always read) */
    int block[2];            /* FP8 weight_block_size; 0 = the whole dimension (compressed-tensors
                                per-channel [1, 0] / per-tensor [0, 0]) */
    int fp8_ct;              /* compressed-tensors FP8: scales are "<weight>_scale" (weight_scale,
                                multiplied like weight_scale_inv), grid [out, 1] / [1] / blocks */
    int double_quant;        /* bnb_4bit_use_double_quant */
    char type[16];           /* bnb_4bit_quant_type ("nf4" / "fp4"); FP8 "fmt" */
} rl_quant_desc;

/* Per-layer properties. */
typedef struct {
    rl_layer_kind kind;
    int window;              /* sliding window in tokens (0 = full attention) */
    int rope;                /* index into rl_model_desc.ropes */
    int no_mixer, no_mlp;    /* Nemotron-H: a layer of one sublayer only, its norm then the MLP (no_mixer:
                                no attention / linear roles, no KV cache) or the token mixer (no_mlp) */
    int chunked;             /* Llama 4: attention within chunks of attn_chunk positions only */
    int qk_l2;               /* Llama 4: q / k RMS-normalised per head without a weight (its L2Norm) */
    int temp_tuned;          /* Llama 4's NoPE layers: queries times the attention temperature (attn_temp_scale) */
    int ssm_too;             /* Falcon-H1: an attention layer with a Mamba-2 mixer beside it on the same normed
                                input (the W_LIN_* roles too, a recurrent state as well as a KV cache) */
} rl_layer_desc;

/* Falcon-H1's muP multipliers (0 = 1: none): the attention's input (its q / k / v), keys, output;
 * the Mamba-2 mixer's input, the slices of its in_proj output (z, x, B, C, dt), output; the MLP's
 * gate pre-activation and down output. */
typedef struct { float attn_in, key, attn_out, ssm_in, ssm[5], ssm_out, mlp_gate, mlp_down; } rl_mup;

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
    /* Gated DeltaNet linear attention (RL_LAYER_LINEAR layers only; src/engine/deltanet.c) */
    W_LIN_QKV,               /* in_proj_qkv [2*lin_k_heads*lin_k_dim + lin_v_heads*lin_v_dim, hidden]: q, k, v rows */
    W_LIN_Z,                 /* in_proj_z [lin_v_heads*lin_v_dim, hidden]: output gate */
    W_LIN_B,                 /* in_proj_b [lin_v_heads, hidden]: beta = sigmoid(b) */
    W_LIN_A,                 /* in_proj_a [lin_v_heads, hidden]: decay input */
    W_LIN_CONV,              /* conv1d.weight [conv_dim, 1, lin_conv_k]: depthwise causal conv */
    W_LIN_A_LOG,             /* A_log [lin_v_heads] */
    W_LIN_DT_BIAS,           /* dt_bias [lin_v_heads] */
    W_LIN_NORM,              /* gated RMSNorm weight [lin_v_dim] (plain w) */
    W_LIN_OUT,               /* out_proj [hidden, lin_v_heads*lin_v_dim] */
    /* MoE (layers with layer_moe[l]; src/engine/moe.c) and MLA / DSA (d->mla; src/engine/mla.c) */
    W_MOE_ROUTER,            /* router gate.weight [n_experts, hidden] */
    W_MOE_ROUTER_BIAS,       /* e_score_correction_bias [n_experts] (noaux_tc; usually F32) */
    W_SHX_GATE, W_SHX_UP,    /* shared expert gate/up [moe_shared_inter, hidden] */
    W_SHX_DOWN,              /* shared expert down [hidden, moe_shared_inter] */
    W_SHX_GATE_W,            /* shared_expert_gate [1, hidden]: output x sigmoid(.) */
    W_MLA_Q_A,               /* q_a_proj [q_lora_rank, hidden] */
    W_MLA_Q_A_NORM,          /* q_a_layernorm [q_lora_rank] */
    W_MLA_Q_B,               /* q_b_proj [heads*(qk_nope+qk_rope), q_lora_rank] */
    W_MLA_KV_A,              /* kv_a_proj_with_mqa [kv_lora_rank+qk_rope, hidden] */
    W_MLA_KV_A_NORM,         /* kv_a_layernorm [kv_lora_rank] */
    W_MLA_KV_B,              /* kv_b_proj [heads*(qk_nope+v_head), kv_lora_rank] */
    W_IDX_Q_B,               /* indexer.wq_b [idx_heads*idx_head_dim, q_lora_rank] */
    W_IDX_K,                 /* indexer.wk [idx_head_dim, hidden] */
    W_IDX_K_NORM, W_IDX_K_NORM_B, /* indexer.k_norm LayerNorm weight, bias [idx_head_dim] */
    W_IDX_W,                 /* indexer.weights_proj [idx_heads, hidden] */
    W_MLA_K_B,               /* kv_b split (GGUF deepseek2, mla_kv_b_split): per head h, rows
                                [h*kv_lora_rank, (h+1)*kv_lora_rank) = W_UK_h^T [kv_lora_rank, qk_nope] */
    W_MLA_V_B,               /* per head h, rows [h*v_head, (h+1)*v_head) = W_UV_h [v_head, kv_lora_rank] */
    W_SINKS,                 /* attention sinks [n_heads] (gpt-oss): one logit per head joining its softmax */
    W_MOE_ROUTER_B,          /* router Linear bias [n_experts] (gpt-oss): added to the logits (unlike W_MOE_ROUTER_BIAS) */
    /* Mamba-2 (RL_LAYER_LINEAR layers of lin_kind RL_LIN_MAMBA2): W_LIN_QKV is in_proj [I + conv_dim +
       heads, hidden] (z, then x|B|C, then dt rows; I = heads*head_dim), W_LIN_CONV conv1d.weight,
       W_LIN_A_LOG / W_LIN_DT_BIAS per head, W_LIN_NORM the gated RMSNorm [I], W_LIN_OUT out_proj */
    W_LIN_CONV_B,            /* conv1d.bias [conv_dim] (lin_conv_bias) */
    W_LIN_D,                 /* D [heads]: the skip x D */
    /* Mamba-1 (lin_kind RL_LIN_MAMBA1): W_LIN_QKV in_proj [2I, hidden] (x rows, then z), W_LIN_CONV / _CONV_B over
       the x channels, W_LIN_B x_proj [dt_rank + 2 d_state, I] (dt, B, C), W_LIN_A dt_proj.weight [I, dt_rank],
       W_LIN_DT_BIAS dt_proj.bias [I], W_LIN_A_LOG A_log [I, d_state], W_LIN_D [I], W_LIN_OUT; Jamba's norms: */
    W_LIN_DT_NORM, W_LIN_B_NORM, W_LIN_C_NORM, /* dt_layernorm [dt_rank], b_layernorm / c_layernorm [d_state] */
    W_MOE_LAT_IN,            /* latent MoE (moe_latent): fc1_latent_proj [latent, hidden], the routed experts' input */
    W_MOE_LAT_OUT,           /* fc2_latent_proj [hidden, latent], on their weighted sum */
    W_COUNT
} rl_weight_role;
_Static_assert(W_COUNT <= 64, "w_optional holds one bit per weight role");

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
    int norm_no_weight;      /* LayerNorms without weight or bias everywhere (OLMo 1's OlmoLayerNorm) */
    float clip_qkv;          /* > 0: q, k and v clamped to [-clip_qkv, clip_qkv] after their projections (OLMo 1) */
    int no_pre_norms;        /* no norm before the sublayers: they read the residual stream itself and only
                                post_norms normalise their outputs (OLMo 2/3, EXAONE 4) */
    int qk_norm_full;        /* q/k RMSNorm over the whole projection (n_heads * head_dim), not per head (OLMo 2/3) */
    int qk_norm_after_rope;  /* the per-head q/k RMSNorm after the rotary embedding (Hunyuan), not before */

    /* attention */
    int qkv_bias, o_bias;
    float attn_scale;        /* softmax scale (1/sqrt(head_dim) unless the family says otherwise) */
    float attn_softcap;      /* 0 = none */
    int attn_chunk;          /* > 0: a layer with .chunked lets the query at position p see only the keys
                                [p - p % attn_chunk, p] (Llama 4's chunked attention) */
    float attn_temp_scale;   /* > 0: a layer with .temp_tuned multiplies the query at position p by
                                1 + attn_temp_scale * ln(1 + floor((p + 1) / attn_temp_floor)) (Llama 4) */
    int attn_temp_floor;
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
    float resid_mult;        /* 0 / 1 = none: each sublayer's output times this before its residual add (Granite) */
    float logit_div;         /* 0 = none: logits divided by this (Granite logits_scaling) */
    rl_mup mup;              /* Falcon-H1's multipliers (0 = none) */

    /* generation */
    int bos_id;              /* -1 if none */
    int n_eos;
    int eos_ids[RL_MAX_EOS];
    char dtype[16];          /* declared weight dtype (torch_dtype / dtype), informational */
    int numerics;            /* RL_NUMERICS_* (backend/backend.h) the backend is asked for: GGUF models
                                RL_NUMERICS_GGML (llama.cpp's CPU op order) */

    /* tensor names: printf formats with one %d for the layer index ("" = role unused) */
    const char *wname[W_COUNT];
    const char *gname[G_COUNT];
    uint64_t w_optional;     /* bit per rl_weight_role (1ull << role): missing tensor allowed */

    /* --- hybrid linear attention (Qwen3.5 Gated DeltaNet; fam_qwen35.c, deltanet.c) --- */
    int attn_sinks;          /* W_SINKS per layer: attention sinks (gpt-oss) */
    int attn_out_gate;       /* full attention: q_proj rows per head are [query(hd), gate(hd)];
                                the attention output is multiplied by sigmoid(gate) before o_proj */
    int lin_k_heads, lin_v_heads;   /* linear-attention key / value heads (value head j reads
                                       key head j / (lin_v_heads / lin_k_heads)) */
    int lin_k_dim, lin_v_dim;       /* their head dims */
    int lin_conv_k;                 /* depthwise causal conv kernel size (linear_conv_kernel_dim) */
    int lin_v_tiled;                /* GGUF qwen35: value heads reordered so that head h reads key head
                                       h % lin_k_heads (rl_dn_dims.v_tiled) */
    int lin_a_direct;               /* GGUF: W_LIN_A_LOG holds A = -exp(A_log) (ssm_a) */
    int lin_fused;                  /* 1, Qwen3-Next: W_LIN_QKV holds in_proj_qkvz (per key-head group: q, k,
                                       then its value heads' v rows and z rows) and W_LIN_B in_proj_ba (per
                                       group: its value heads' b rows, then a rows); no W_LIN_Z / W_LIN_A.
                                       2, GGUF qwen3next: only W_LIN_B fused (ssm_ba); W_LIN_QKV / W_LIN_Z plain */
    rl_lin_kind lin_kind;           /* Gated DeltaNet or Mamba-2 */
    int lin_conv_bias;              /* Mamba-2: W_LIN_CONV_B present (mamba_conv_bias) */
    int lin_norm_groups;            /* Mamba-2: the gated RMSNorm normalises groups of I / lin_norm_groups (0: no norm,
                                       out_proj(y * SiLU(z)): Falcon-H1 without mamba_rms_norm) */
    float lin_dt_min, lin_dt_max;   /* Mamba-2: time_step_limit (dt clamped; 0, inf: none) */
    int lin_dt_rank;                /* Mamba-1: dt_rank (time_step_rank) */
    int lin_dtbc_norm;              /* Mamba-1: dt, B and C RMS-normalised after x_proj: 1 with weights (Jamba's
                                       W_LIN_DT_NORM ...), 2 without (FalconMamba); eps lin_dtbc_eps */
    float lin_dtbc_eps;

    /* --- dense families (Gemma, Phi, GLM, InternLM2, Baichuan, Qwen v1, ChatGLM; fam_*.c; the block reads them) --- */
    int parallel_block;      /* 1: attention and MLP both read the one normed input (no W_MLP_NORM);
                                x += attn(n(x)) + mlp(n(x)) (Phi-2); 2: each its own norm of the layer input,
                                x += attn(n1(x)) + mlp(n2(x)) (GPT-NeoX's use_parallel_residual) */
    int qkv_grouped;         /* fused W_QKV rows grouped per kv head: [q * (heads/kv_heads), k, v]
                                (InternLM2 wqkv) instead of [all q, all k, all v] */
    int head_norm_rows;      /* lm_head rows are L2-normalised before use (Baichuan 2 NormHead) */
    int head_bias;           /* lm_head has a bias [vocab] (G_LM_HEAD_B) (Phi-2) */
    int ctx_exact_max;       /* > 0: positions beyond this need math we do not implement (Qwen v1
                                dynamic NTK / logn attention); opening a longer context is an error */
    char ctx_exact_why[96];  /* names that math, for the error */
    const char *name_alt[6]; /* tensor-name fallbacks, pairs (prefix, replacement): a missing name starting
                                with name_alt[2i] is looked up with that prefix replaced by name_alt[2i+1],
                                pair by pair (multimodal checkpoints' text stacks) */

    /* --- MoE and MLA (moe_config.c, fam_moe*.c, src/engine/moe.c, mla.c) --- */
    int n_experts;           /* routed experts of a MoE layer (0 = no MoE) */
    int n_experts_used;      /* top-k experts per token */
    int moe_inter;           /* routed expert intermediate size */
    int moe_shared_inter;    /* shared expert intermediate size (0 = no shared expert) */
    int moe_shared_gate;     /* shared expert output x sigmoid(shared_expert_gate . x) (Qwen2-MoE) */
    int moe_sigmoid;         /* scores = sigmoid(logits) (else softmax over all experts) */
    int moe_norm_topk;       /* top-k weights renormalised to sum 1 */
    float moe_scale;         /* routed_scaling_factor applied to the top-k weights (1 = none) */
    int moe_n_group, moe_topk_group; /* group-limited routing: keep experts of the best topk_group of n_group groups */
    int moe_group_top2;      /* group score = sum of its top-2 scores (noaux_tc), else its max */
    int moe_bias;            /* e_score_correction_bias added to scores for the choice only (noaux_tc) */
    int moe_shared_fused;    /* shared expert's gate and up in one W_SHX_GATE tensor [2*moe_shared_inter, hidden]
                                (gate rows, then up rows; no W_SHX_UP) (Granite shared_mlp) */
    int moe_fused;           /* experts stored as [E, 2*moe_inter, hidden] gate_up and [E, hidden, moe_inter] down */
    const char *ename[3];    /* expert tensors gate, up, down: formats with %d layer, %d expert;
                                fused: ename[0] gate_up and ename[2] down with %d layer only */
    const char *ename_b[3];  /* experts' biases, [E, rows] per tensor (fused: [E, 2*moe_inter], -, [E, hidden]; GGUF:
                                gate, up and down each); NULL = none (gpt-oss) */
    const char *ename_split[3]; /* fused experts: the per-expert names (%d layer, %d expert) a checkpoint may store
                                instead (Llama 4's pre-quantized releases); the engine takes them where the fused
                                tensor is absent (moe.c) */
    int moe_interleaved;     /* fused gate_up rows interleaved: row 2j gate j, row 2j+1 up j (gpt-oss) */
    int moe_latent;          /* > 0: the routed experts run in this width (Nemotron 3 Super): in = W_MOE_LAT_IN x,
                                out = W_MOE_LAT_OUT (their weighted sum); router and shared expert on x itself */
    int moe_ungated;         /* experts and the shared expert are down(act(up x)): no gate tensor, ename[0] NULL
                                (Nemotron-H's squared-ReLU experts) */
    int moe_transposed;      /* plain fused experts stored [E, in, out] (transformers' experts_are_transposed:
                                Qwen3-VL-MoE, dequantised gpt-oss), run by matmul_t */
    int moe_router_b;        /* W_MOE_ROUTER_B: the router Linear's bias */
    int moe_input_scaled;    /* the routed weight multiplies the expert's input rows, not its output:
                                out = shared(x) + sum_e expert_e(w_e x) (Llama 4) */
    unsigned char layer_moe[RL_MAX_LAYERS]; /* 1 = layer l's MLP is the MoE (else the dense MLP) */
    int mla;                 /* DeepSeek multi-head latent attention: head_dim = qk_nope + qk_rope,
                                n_kv_heads = n_heads, ropes[].rot_dims = qk_rope (the last dims of a head) */
    int q_lora_rank;         /* 0 = plain q_proj */
    int kv_lora_rank, qk_nope_dim, qk_rope_dim, v_head_dim;
    int mla_kv_b_split;      /* kv_b stored as W_MLA_K_B / W_MLA_V_B (llama.cpp's GGUF form) instead of
                                W_MLA_KV_B: always the absorbed (latent cache) attention */
    int idx_heads, idx_head_dim, idx_topk; /* DSA lightning indexer (GLM-5); idx_heads 0 = none */
    rl_rope_pairing idx_pairing;           /* indexer rope pairing ([rope | nope] layout) */
    rl_quant_desc quant;     /* pre-quantized checkpoint format (method RL_QM_NONE = plain weights) */
} rl_model_desc;

#endif
