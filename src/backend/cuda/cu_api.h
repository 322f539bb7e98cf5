/* The C boundary of the CUDA backend: plain functions over device pointers, implemented in the
 * .cu files of this folder (compiled only with `make CUDA=1`) and called by backend_cuda.c, which
 * turns them into the rl_backend_ops table. Every op is queued on one in-order stream, so it runs
 * after every earlier op and upload; an error is kept (sticky) and reported by rlcu_status.
 * Weight dtypes are rl_dtype values: F32, F16, BF16, Q8_0, Q4_1, every GGUF type and the HF
 * pre-quantized formats (rlcu_supports; cu_quant.cu). */
#ifndef RL_CU_API_H
#define RL_CU_API_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Device and stream set-up (device $RL_CUDA_DEVICE, default 0); 0, or -1 with a message in err. */
int rlcu_init(char *desc, size_t desc_n, char *err, size_t err_n);
void rlcu_shutdown(void);
/* The first error since start (or NULL): an op that failed to launch, a failed copy. */
const char *rlcu_error(void);
int rlcu_supports(int dtype);

void *rlcu_malloc(size_t n);            /* device memory; NULL on failure (rlcu_error says why) */
void rlcu_free(void *p);
int rlcu_mem_info(size_t *free_b, size_t *total_b); /* cudaMemGetInfo of the current device; -1 on failure */
void *rlcu_host_alloc(size_t n);        /* pinned host memory */
void rlcu_host_free(void *p);
int rlcu_host_register(void *p, size_t n); /* cudaHostRegister; -1 (no error left pending) if not */
void rlcu_host_unregister(void *p);
int rlcu_upload(void *dst, const void *src, size_t n);
int rlcu_download(void *dst, const void *src, size_t n);
/* Upload on the copy stream (overlapping the ops queued before it); later ops see it once
 * rlcu_upload_join(ticket) has made the compute stream wait for it. */
int rlcu_upload_async(void *dst, const void *src, size_t n, uint64_t *ticket);
int rlcu_upload_join(uint64_t ticket);
uint64_t rlcu_fence(void);
int rlcu_wait(uint64_t fence);
/* Scratch the ops need (dequantised weight chunks for the GEMM, DSA scores, the quantised
 * activations of GGUF matmuls: max_T rows of max_in), placed by the caller. */
size_t rlcu_scratch_bytes(int max_ctx, int max_T, int max_in);
void rlcu_set_scratch(void *p, int max_ctx, int max_T, int max_in);

/* GGUF types go to cu_quant.cu's kernels (ggml-cpu numerics). */
void rlcu_matmul(float *y, const float *x, const void *w, int dt, const float *bias, int T, int in, int out);
/* A composite HF weight (backend.h's rl_qweight, copied by backend_cuda.c): device pointers. */
typedef struct {
    const void *data, *scales, *zeros, *g_idx, *map2;
    int scale_kind;          /* FP8: 0 F32, 1 F16, 2 BF16 scales; BNB4: 0 F32 absmax, 3 U8 (double quant) */
    int rows, cols, bits, group, ngroups, blk_r, blk_c, nested_block;
    float nested_offset;
} rlcu_qw;
void rlcu_matmul_hfq(float *y, const float *x, const rlcu_qw *q, int dt, const float *bias, int T, int in, int out);
/* 1: sweeps over F16 / BF16 weights on the tensor cores (activations rounded to 16 bits, f32
 * accumulation: --compute bf16); 0: f32 SGEMM (the default, the goldens' numerics). */
void rlcu_set_compute(int half);
void rlcu_matmul_t(float *y, const float *x, const void *w, int dt, int T, int in, int out);
void rlcu_convert(float *dst, const void *src, int dt, int64_t n);
void rlcu_rmsnorm(float *out, const float *x, const float *w, int T, int n, float eps, int one_plus);
void rlcu_layernorm(float *out, const float *x, const float *w, const float *b, int T, int n, float eps);
/* pairing: 0 neox (i, i + rot/2), 1 interleaved (2i, 2i + 1) */
void rlcu_rope(int pairing, int rot_dims, float *x, int T, int n_heads, int head_dim, const float *cos_t,
               const float *sin_t);
/* Attention over a cache view (kdt F32/F16/BF16/Q8_0 rows of k_width / v_width values, ring 0 =
 * linear); parent non-NULL: token-tree mode (see backend.h attention_tree; window as there). */
typedef struct {
    const void *k, *v;
    int dt, ring, k_width, v_width;
    const float *sinks; /* NULL or n_head attention-sink logits (a key of value zero per head) */
} rlcu_kv;
void rlcu_attention(float *out, const float *q, const rlcu_kv *kv, const int32_t *parent, int T, int pos0, int n_head,
                    int n_kv, int head_dim, int v_dim, float scale, float softcap, int window);
void rlcu_kv_store(const rlcu_kv *kv, int pos0, const float *k, const float *v, int n);
void rlcu_dsa(float *out, const float *q, const float *kc, const float *vc, int T, int pos0, int n_head, int head_dim,
              int v_dim, float scale, int idx_heads, int idx_dim, int topk, const float *iq, const float *iw,
              const float *ik, int n_kv, int k_stride, int v_stride, const int32_t *parent);
void rlcu_zero(void *dst, size_t n);
void rlcu_copy2d(void *dst, size_t dst_stride, const void *src, size_t src_stride, size_t row_bytes, int rows);
/* kind: 0 add (y += x), 1 scale (y *= s), 2 softcap (y = s tanh(y / s)), 3 sigmoid_mul (y *= sigmoid(x)), 4 clamp to [-s, s] */
void rlcu_elementwise(int kind, float *y, const float *x, float s, int64_t n);
/* act: 0 SiLU, 1 GELU (tanh), 2 GELU (erf); up may be NULL */
void rlcu_act_mul(int act, float *gate, const float *up, int64_t n);
void rlcu_row_norm_div(float *out, int T, int rows, const void *w, int dt, int cols);
void rlcu_row_gate(float *out, const float *x, const float *g, int T, int n);
void rlcu_scale_rows(float *y, const float *w, int T, int n);
void rlcu_moe_route(float *logits, const float *bias, int T, int n_experts, int top_k, int sigmoid, int n_group,
                    int topk_group, int group_top2, int norm_topk, float scale, int32_t *idx, float *w);
void rlcu_gather_rows(float *dst, const float *src, const int32_t *rows, int n_rows, int n);
void rlcu_scatter_add_rows(float *dst, const float *src, const int32_t *rows, const float *w, int n_rows, int n);
void rlcu_dn_conv(float *out, const float *in, const float *w, const float *bias, int T, int C, int K, int silu);
void rlcu_ssm_scan(int groups, int heads, int d_state, int head_dim, float dt_min, float dt_max, int a_direct, int a_state, float *state, const float *xbc,
                   const float *dt_raw, const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T);
void rlcu_dn_recur(int k_heads, int v_heads, int k_dim, int v_dim, float norm_eps, int v_tiled, int a_direct, float *state, const float *conv,
                   const float *b, const float *a, const float *z, const float *a_log, const float *dt_bias,
                   const float *norm_w, float *core, int T);

#ifdef __cplusplus
}
#endif
#endif
