/* The compute interface the engine runs through: one table of function pointers per backend
 * (cpu; cuda with `make CUDA=1`), selected at open. The engine never includes a kernel header.
 *
 * Memory. A backend owns its memory: the engine asks for one arena (arena_new, sized by the
 * memory plan) and places every activation, KV cache, recurrent state and scratch buffer in it;
 * pointers into an arena are backend addresses ("device pointers"): the engine computes offsets
 * with them but never reads or writes through them — data crosses with upload (host -> device,
 * asynchronous, ordered before later ops; fence() / wait() for explicit ordering) and download
 * (device -> host, synchronous). A backend whose memory is the host's (cpu) sets host_shared:
 * layer images the loader read into host memory are then used in place; other backends upload
 * them into a device slot first (see docs/BACKENDS.md).
 *
 * Ops. Every op takes device pointers and sizes, works on f32 activations, and is ordered after
 * every earlier op and upload of the same backend. Weight operands are (pointer, rl_dtype) of a
 * type the backend lists in supports(); rows are rl_dtype_row_bytes(dt, cols) apart. Shapes are
 * row-major; "rows of n" means consecutive n-float rows. Each op states what it must guarantee;
 * tests/backend/test_conformance.c checks every op of every built backend against the CPU and a
 * scalar reference with the tolerance stated there. */
#ifndef RL_BACKEND_H
#define RL_BACKEND_H
#include "format/dtype.h"
#include "model/desc.h"
#include <stddef.h>
#include <stdint.h>

typedef struct rl_backend rl_backend;

/* Operand of the composite HF quantized dtypes (RL_DT_FP8_BLK, RL_DT_GPTQ, RL_DT_AWQ,
 * RL_DT_BNB4; format/dtype.h): for these, matmul's `w` is a pointer to this HOST descriptor,
 * whose pointer fields are backend (device) pointers into the layer image. The engine fills it
 * (rl_stage_weight); only backends whose supports() lists the type ever see one. The weight it
 * describes is W[out][in] with rows = out, cols = in. The descriptor lives only until the engine's
 * next call for the same role: a backend reads it during the matmul call (an asynchronous one
 * copies what it needs then). matmul_t and convert never take these types. */
typedef struct {
    const void *data;      /* FP8: F8_E4M3 [out, in]; GPTQ: qweight; AWQ: qweight; BNB4: U8 codes [out*in/2] */
    const void *scales;    /* FP8: weight_scale_inv; GPTQ/AWQ: F16 scales [G, out]; BNB4: absmax [n/blocksize] */
    const void *zeros;     /* GPTQ/AWQ: qzeros; BNB4 double quant: nested_absmax (F32) */
    const void *g_idx;     /* GPTQ: I32 [in]; BNB4: quant_map F32 [16] */
    const void *map2;      /* BNB4 double quant: nested_quant_map F32 [256] */
    rl_dtype scale_dt;     /* FP8: F32 / BF16 / F16 scales; BNB4: F32 absmax, or U8 (double quant) */
    int rows, cols;        /* out, in */
    int bits;              /* GPTQ: 4 or 8; AWQ: 4; BNB4: 4; FP8: 8 */
    int group;             /* GPTQ / AWQ: inputs per group (G = ceil(in / group)); BNB4: blocksize */
    int ngroups;           /* GPTQ: rows of scales / qzeros (g_idx values must be below it) */
    int blk_r, blk_c;      /* FP8: weight_block_size */
    int nested_block;      /* BNB4 double quant: absmax values per nested block */
    float nested_offset;   /* BNB4 double quant: added to every dequantised absmax */
} rl_qweight;

#define RL_MOE_MAX_EXPERTS 4096 /* routing scratch per token lives on the stack */

/* MoE routing parameters (from the model description). */
typedef struct {
    int n_experts, top_k;
    int sigmoid;             /* 1: sigmoid scores, 0: softmax */
    int n_group, topk_group; /* group-limited routing (n_group <= 1: off) */
    int group_top2;          /* group score = sum of its top 2 (else its max) */
    int norm_topk;           /* renormalise the chosen weights to sum 1 */
    float scale;             /* routed scaling factor */
} rl_route_params;

/* Gated DeltaNet dimensions (one linear-attention layer). */
typedef struct {
    int k_heads, v_heads, k_dim, v_dim, conv_k;
    float norm_eps;
    int v_tiled;             /* value head h reads key head h % k_heads (GGUF qwen35's reordered heads); else
                                h / (v_heads / k_heads) (HF's grouped order) */
    int a_direct;            /* a_log holds A = -exp(A_log) itself (GGUF ssm_a); else A_log */
} rl_dn_dims;

/* Mamba-2 (SSD) dimensions (one Mamba-2 layer): heads x head_dim channels of x, groups of B / C
 * rows of d_state (head h reads group h / (heads / groups)); dt = clamp(softplus(dt + dt_bias),
 * dt_min, dt_max). */
typedef struct {
    int groups, heads, d_state, head_dim;
    float dt_min, dt_max;
    int a_direct;            /* a_log holds A = -exp(A_log) itself (GGUF ssm_a); else A_log */
    int a_state;             /* a_log holds one A per head and state (heads, d_state) (Mamba-1: a head per
                                channel, head_dim 1); else one per head */
} rl_ssm_dims;

/* DSA (GLM-5 indexer) attention: each query attends to the `topk` keys of the highest index
 * score s_j = sum_h w[t][h] relu(iq[t][h] . ik[j] / sqrt(idx_dim)) (all keys j <= i while
 * i + 1 <= topk), then plain softmax attention of its heads over those keys. With parent set
 * (a token tree, as attention_tree) query t is node t at rows pos0.. and its keys are the rows
 * [0, pos0) and then its ancestors' rows root first and its own, in that order (ties of the
 * selection go to the earlier of them, as positions do in a chain). */
typedef struct {
    int idx_heads, idx_dim, topk;
    const float *iq;         /* (T, idx_heads, idx_dim) indexer queries */
    const float *iw;         /* (T, idx_heads) head weights */
    const float *ik;         /* (>= pos0 + T, idx_dim) indexer key cache */
    int n_kv;                /* key/value heads (0: one per query head); query head h reads kv head h / (n_head / n_kv) */
    int k_stride, v_stride;  /* floats from one position's keys / values to the next (0: n_kv * head_dim / v_dim);
                                MLA's latent rows: n_kv 1, both strides the row width, values = the rows' first v_dim */
    const int32_t *parent;   /* backend memory, T parents (-1 or an earlier node), or NULL: a chain */
} rl_dsa_args;

/* One layer's KV cache for one sequence, in backend memory: keys (k_width floats of every KV
 * head per position) and values (v_width), stored as dt (F32, F16, BF16 or Q8_0 blocks of 32
 * along the row; widths are multiples of 32 for Q8_0). Position j is row j, or row j % ring for
 * a ring (sliding-window layers keep ring = window + tokens per sweep - 1 rows). */
typedef struct {
    void *k, *v;
    rl_dtype dt;
    int ring;                /* 0: linear */
    int k_width, v_width;
    const float *sinks;      /* NULL, or attention sinks (gpt-oss): n_head f32 logits in backend memory; each
                                head's softmax also counts exp(sinks[h]), a key whose value is zero */
} rl_kv_view;

typedef struct {
    const char *name;        /* "cpu", "cuda", ... */
    int host_shared;         /* 1: device pointers are host pointers (weights used in place) */

    /* --- life cycle and memory --- */
    void (*close)(rl_backend *be);
    /* One line naming the device and the paths the ops take. */
    const char *(*describe)(rl_backend *be);
    /* 1 if matmul accepts weights of dtype dt. */
    int (*supports)(rl_backend *be, rl_dtype dt);
    /* Arena of `bytes` (64-byte aligned base; pages may be committed lazily). NULL + rl_err. */
    void *(*arena_new)(rl_backend *be, size_t bytes);
    void (*arena_free)(rl_backend *be, void *arena, size_t bytes);
    /* Host staging memory the backend uploads from fastest (pinned for a GPU); 64-aligned.
     * host_invalidate(p) says its contents are about to change (drops any device copy). */
    void *(*host_alloc)(rl_backend *be, size_t bytes);
    void (*host_free)(rl_backend *be, void *p);
    void (*host_invalidate)(rl_backend *be, const void *p);
    /* dst (device) <- src (host), n bytes; may return before the copy ends, but later ops see
     * it. The host bytes must stay unchanged until the next fence() has been waited for. */
    int (*upload)(rl_backend *be, void *dst, const void *src, size_t n);
    /* dst (host) <- src (device) after all earlier ops; synchronous. */
    int (*download)(rl_backend *be, void *dst, const void *src, size_t n);
    /* A fence after everything queued so far; wait() blocks until it has passed. */
    uint64_t (*fence)(rl_backend *be);
    int (*wait)(rl_backend *be, uint64_t fence);
    /* Returns a status: 0, or -1 + rl_err if an earlier asynchronous op failed. */
    int (*status)(rl_backend *be);
    /* Scratch the ops need for contexts up to max_ctx, sweeps of up to max_T rows and GGUF
     * matmuls (RL_NUMERICS_GGML) with inputs of up to max_in values per row (0: the model has
     * none) (bytes), and where the memory plan placed it (called once at open, before any op). */
    size_t (*scratch_bytes)(rl_backend *be, int max_ctx, int max_T, int max_in);
    void (*set_scratch)(rl_backend *be, void *scratch, int max_ctx, int max_T, int max_in);

    /* --- ops --- */
    /* y[t][o] = bias[o] + sum_i x[t][i] W[o][i]; W (out, in) of dtype wdt; bias may be NULL.
     * f32 accumulation; y must not alias x. For the 8/4-bit block types (Q8_0, Q4_1) a backend
     * may instead quantise each activation row per 32-block to int8 (d = amax / 127,
     * q = nearbyintf(x * (127 / amax)) in f32) and use integer dot products, as the cpu does for
     * T < 4: both results are accepted (tests/backend/test_conformance.c, matmul.mixed). */
    void (*matmul)(rl_backend *be, float *y, const float *x, const void *w, rl_dtype wdt, const float *bias,
                   int T, int in, int out);
    /* Optional (MLA's absorbed attention): y[t][o] = sum_i x[t][i] W[i][o], W (in, out) of dtype
     * wdt read row by row (the transpose of matmul's use of W); f32 accumulation. */
    void (*matmul_t)(rl_backend *be, float *y, const float *x, const void *w, rl_dtype wdt, int T, int in, int out);
    /* dst[i] = (float)src[i], n values of dtype dt (small vectors, embedding rows): a weight dtype
     * of supports(), src at a block boundary and n a whole number of blocks for block types. */
    void (*convert)(rl_backend *be, float *dst, const void *src, rl_dtype dt, int64_t n);
    /* RMS norm of T rows of n: x / sqrt(mean(x^2) + eps) * (w or 1 + w); w may be NULL; out may
     * alias x. Layer norm: (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). */
    void (*rmsnorm)(rl_backend *be, float *out, const float *x, const float *w, int T, int n, float eps, int one_plus);
    void (*layernorm)(rl_backend *be, float *out, const float *x, const float *w, const float *b, int T, int n,
                      float eps);
    /* Rotary embedding in place: T rows of n_heads * head_dim floats (n_heads heads head_dim
     * apart; x may point into a wider row, e.g. past MLA's non-rotary part, with head_dim as the
     * stride), the first rot_dims of each head rotated by (cos, sin) tables (T, rot_dims/2) made by
     * rl_rope_table. */
    void (*rope)(rl_backend *be, const rl_rope *r, float *x, int T, int n_heads, int head_dim, const float *cos_t,
                 const float *sin_t);
    /* Causal attention for T queries at positions pos0.. over a KV cache (see
     * rl_attention in the CPU kernels): GQA by n_head / n_kv, window (<= 0 off), softcap
     * (<= 0 off). kc (>= pos0+T, n_kv, head_dim), vc (.., n_kv, v_dim), out (T, n_head, v_dim). */
    void (*attention)(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                      int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap, int window);
    /* Optional (NULL where a backend keeps only f32 linear caches; the engine then uses those):
     * kv_store writes n positions pos0.. of f32 keys k (n, k_width) and values v (n, v_width)
     * into the cache, converted to its dtype, wrapping in a ring; attention_kv is `attention`
     * over such a cache (reading the compact rows directly, no conversion of the whole cache), with
 * the view's attention sinks if it has them. */
    void (*kv_store)(rl_backend *be, const rl_kv_view *kv, int pos0, const float *k, const float *v, int n);
    void (*attention_kv)(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, int T, int pos0,
                         int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap, int window);
    /* Optional (token-tree verification): attention_kv for T tree nodes stored at rows pos0..
     * (ring rows modulo kv->ring), where node t, at position pos0 + its depth d, sees the keys
     * [0, pos0) and the rows pos0 + a of its ancestors a and itself (parent (T) device ints,
     * parent[t] < t, -1 for the tree's root nodes), in the order root to t; window > 0: only
     * the keys whose position is within window of pos0 + d. */
    void (*attention_tree)(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent, int T,
                           int pos0, int n_head, int n_kv, int head_dim, int v_dim, float scale, float softcap,
                           int window);
    /* DSA attention (see rl_dsa_args); q (T, n_head, head_dim); kc / vc f32 rows of the kv heads
     * (.., n_kv, head_dim) / (.., n_kv, v_dim), or strided as rl_dsa_args says. */
    void (*dsa_attention)(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int n_head, int head_dim, int v_dim, float scale, const rl_dsa_args *a);
    /* dst[0..n) = 0 (bytes). */
    void (*zero)(rl_backend *be, void *dst, size_t n);
    /* Strided copy: rows of row_bytes from src (src_stride bytes apart; 0 repeats one row) to
     * dst (dst_stride apart). Source and destination must not overlap. */
    void (*copy2d)(rl_backend *be, void *dst, size_t dst_stride, const void *src, size_t src_stride,
                   size_t row_bytes, int rows);
    /* y += x; y *= s; x = c tanh(x / c); x = min(max(x, -c), c); y *= sigmoid(g) (n values each). */
    void (*add)(rl_backend *be, float *y, const float *x, int64_t n);
    void (*scale)(rl_backend *be, float *y, float s, int64_t n);
    void (*softcap)(rl_backend *be, float *x, float c, int64_t n);
    void (*clamp)(rl_backend *be, float *x, float c, int64_t n);
    void (*sigmoid_mul)(rl_backend *be, float *y, const float *g, int64_t n);
    /* gate[i] = act(gate[i]) * up[i] (up NULL: act(gate[i]); RL_ACT_IDENTITY: gate[i] * up[i]). RL_ACT_SWIGLU_OAI clamps both first and
     * multiplies by (up + 1) (desc.h; up NULL: by 1). */
    void (*act_mul)(rl_backend *be, rl_act_kind k, float *gate, const float *up, int64_t n);
    /* out[t][r] /= max(||W[r]||, 1e-12) for T rows of `rows` (W (rows, cols) of dtype dt). */
    void (*row_norm_div)(rl_backend *be, float *out, int T, int rows, const void *w, rl_dtype dt, int cols);
    /* out[t] *= sigmoid(x[t] . g) for T rows of n (shared-expert gate; g f32 (n)). */
    void (*row_gate)(rl_backend *be, float *out, const float *x, const float *g, int T, int n);
    /* y[t][i] *= w[t] for T rows of n; w device memory (T) (Llama 4: the routed weight on an
     * expert's input rows, the attention temperature of each query row). */
    void (*scale_rows)(rl_backend *be, float *y, const float *w, int T, int n);
    /* MoE router: logits (T, E) become scores; idx/w (T, top_k) the chosen experts and weights
     * (ties: the lower expert id; the order of the k choices of a token is free — the engine
     * treats them as a set); bias (E) only steers the choice. idx and w are device memory. */
    void (*moe_route)(rl_backend *be, float *logits, const float *bias, int T, const rl_route_params *p,
                      int32_t *idx, float *w);
    /* dst[r] = src[rows[r]] (n_rows rows of n floats); rows is device memory. scatter: the rows
     * of one call are distinct (no atomics needed); later calls may hit the same rows. */
    void (*gather_rows)(rl_backend *be, float *dst, const float *src, const int32_t *rows, int n_rows, int n);
    /* dst[rows[r]] += w[r] * src[r]; rows and w device memory. */
    void (*scatter_add_rows)(rl_backend *be, float *dst, const float *src, const int32_t *rows, const float *w,
                             int n_rows, int n);
    /* Gated DeltaNet: depthwise causal conv of kernel conv_k over in (conv_k-1+T rows of C: the
     * state rows then this sweep's), SiLU, to out (T, C); then the recurrence over T tokens per
     * value head (state (v_heads, k_dim, v_dim) updated in place) and the gated RMSNorm:
     * core (T, v_heads*v_dim) = RMSNorm_w(o) * SiLU(z). conv_w (C, conv_k), a_log, dt_bias
     * (v_heads), norm_w (v_dim), b/a (T, v_heads), z (T, v_heads*v_dim). conv_b (C) may be NULL:
     * added to the conv's sums before the SiLU (Mamba-2); silu 0: no SiLU (LFM2's short conv). */
    void (*dn_conv)(rl_backend *be, float *out, const float *in, const float *conv_w, const float *conv_b, int T, int C, int K,
                    int silu);
    void (*dn_recur)(rl_backend *be, const rl_dn_dims *dd, float *state, const float *conv, const float *b,
                     const float *a, const float *z, const float *a_log, const float *dt_bias, const float *norm_w,
                     float *core, int T);
    /* Mamba-2's selective state update over T tokens, per head h (group g = h / (heads / groups)):
     * xbc (T, heads*head_dim + 2*groups*d_state) rows [x | B | C] (the conv output), dt_raw
     * (T, heads); dt = clamp(softplus(dt_raw + dt_bias[h])), state (heads, head_dim, d_state)
     * in place: S = exp(dt A) S + dt x B^T with A = -exp(a_log[h]) (a_direct: a_log[h]; a_state: A varies along
     * the state, a_log[h * d_state + n]); y (T, heads*head_dim) = S C + d_skip[h] x. */
    void (*ssm_scan)(rl_backend *be, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw,
                     const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T);

    /* --- optional: upload / compute overlap (NULL: the engine uses upload) --- */
    /* Starts copying n bytes of host_alloc memory src to dst (device) without holding back later
     * ops (a transfer queue where the device has one) until upload_join(*ticket); the caller
     * makes sure that no unfinished op uses dst (it waited for a fence after the last op reading
     * it). *ticket 0: nothing to join (the copy was ordered as upload orders it). The host bytes
     * must stay unchanged until a fence issued after the join has been waited for. */
    int (*upload_async)(rl_backend *be, void *dst, const void *src, size_t n, uint64_t *ticket);
    /* Every later op sees the copy of ticket (the device waits for it; the host does not). */
    int (*upload_join)(rl_backend *be, uint64_t ticket);

    /* --- optional: page-locking (NULL: uploads read plain host memory through a staging path) --- */
    /* Page-locks the n committed bytes at p (host memory the caller owns) so that uploads from
     * them are DMA; 0, or -1 when it cannot (nothing is left pending: the caller goes on with
     * the memory unlocked). host_unregister(p) undoes it, after every upload from it has ended,
     * before the caller frees or unmaps the memory. */
    int (*host_register)(rl_backend *be, void *p, size_t n);
    void (*host_unregister)(rl_backend *be, void *p);

    /* --- optional: device memory (NULL: unknown; --gpu-mem auto then streams every layer) --- */
    /* Bytes of device memory free now for this process's allocations and the device's total;
     * 0, or -1 + rl_err when the device cannot tell. */
    int (*mem_info)(rl_backend *be, size_t *free_bytes, size_t *total_bytes);
} rl_backend_ops;

/* Numeric conventions a model asks of the ops (rl_backend.numerics; a backend without them
 * computes its own way). RL_NUMERICS_GGML: llama.cpp's CPU order for GGUF models (attention over
 * f32 caches as ggml's graph computes it: src/backend/cpu/attention_ggml.c). */
enum { RL_NUMERICS_DEFAULT = 0, RL_NUMERICS_GGML = 1 };

struct rl_backend {
    const rl_backend_ops *ops;
    void *impl;              /* the backend's own state */
    int numerics;            /* RL_NUMERICS_* of the model using it (set by the engine at open) */
    int soft;                /* 1: a device API over the host's own CPU (a software driver such as
                                lavapipe): correct, but slower than the cpu backend */
};

/* Opens a backend by name ("cpu", "cuda", "vulkan"; NULL or "" = $RL_BACKEND, else "cpu") with
 * n_threads host threads (<= 0: all CPUs). "auto": the first of cuda, vulkan that this build has
 * and that opens on a real device (not a software driver), else cpu. An unknown or unavailable
 * name is an error naming the backends this build has. NULL + rl_err. */
rl_backend *rl_backend_open(const char *name, int n_threads);
void rl_backend_close(rl_backend *be);
/* The names built in, comma-separated ("cpu" or "cpu, cuda"). */
const char *rl_backend_available(void);

/* The CPU backend (also the base that other backends fall back to per op: rl_cpu_ops). */
extern const rl_backend_ops rl_cpu_ops;
rl_backend *rl_backend_cpu_open(int n_threads);
/* "cpu-staged": CPU kernels behind device-style memory (host_shared 0, device addresses that
 * fault if the caller dereferences them): tests the engine's device paths without a GPU. */
rl_backend *rl_backend_staged_open(int n_threads);
/* Host ranges cpu-staged holds registered now (its host_register only counts them: the tests
 * check that the engine unregisters what it registered). */
long rl_backend_staged_registered(void);
/* The CUDA backend (make CUDA=1); NULL + rl_err where there is no usable device. */
rl_backend *rl_backend_cuda_open(int n_threads);
/* The vulkan backend (built where libvulkan-dev and glslc are present; RL_VULKAN_DEVICE=N picks
 * the device); NULL + rl_err where there is no usable device. */
rl_backend *rl_backend_vulkan_open(int n_threads);

#endif
