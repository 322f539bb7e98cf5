/* The cuda backend (make CUDA=1): every op of the interface on the GPU, device memory of its own
 * (host_shared 0: layer images are uploaded into device slots, activations, KV caches and
 * recurrent state stay on the device; only token rows go up and logits rows come down). The
 * kernels are the .cu files of this folder behind cu_api.h; this file turns them into the
 * rl_backend_ops table. Weights F32 / F16 / BF16 / Q8_0 / Q4_1, every GGUF type (ggml-cpu
 * numerics) and the HF pre-quantized formats (an rl_qweight descriptor copied into rlcu_qw). */
#include "backend/backend.h"
#include "backend/cpu/matmul.h"
#include "backend/cuda/cu_api.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RL_CUDA_BUILD
_Static_assert(RL_DT_F32 == 0 && RL_DT_F16 == 1 && RL_DT_BF16 == 2 && RL_DT_Q8_0 == 10 && RL_DT_Q4_1 == 11,
               "cu_common.cuh's dtype values");
_Static_assert(RL_DT_GF16 == 12 && RL_DT_GBF16 == 13 && RL_DT_GQ8_0 == 14 && RL_DT_GQ4_1 == 15 && RL_DT_Q4_0 == 16 &&
               RL_DT_Q5_0 == 17 && RL_DT_Q5_1 == 18 && RL_DT_Q2_K == 19 && RL_DT_Q6_K == 23 && RL_DT_IQ4_NL == 24 &&
               RL_DT_FP8_BLK == 26 && RL_DT_GPTQ == 27 && RL_DT_AWQ == 28 && RL_DT_BNB4 == 29 && RL_DT_MXFP4 == 30 && RL_DT_GMXFP4 == 31, "cu_gguf.cuh's dtype values");
_Static_assert(RL_ROPE_NEOX == 0 && RL_ROPE_GPTJ == 1, "cu_api.h's rope pairing values");

typedef struct {
    char desc[160];
    void *scratch;           /* this backend's scratch (placed by its model's memory plan) */
    int max_ctx, max_T, max_in;
} cuda_impl;
static int g_open; /* backends open on the one device context of the process (draft + target) */

static void cu_close(rl_backend *be) {
    if (!be) return;
    if (--g_open == 0) rlcu_shutdown();
    free(be->impl);
    free(be);
}
/* the scratch globals of the kernels point at this backend's scratch before an op that uses it */
static void use_scratch(rl_backend *be) {
    cuda_impl *c = be->impl;
    rlcu_set_scratch(c->scratch, c->max_ctx, c->max_T, c->max_in);
}
static const char *cu_describe(rl_backend *be) { return ((cuda_impl *)be->impl)->desc; }
static int cu_supports(rl_backend *be, rl_dtype dt) { (void)be; return rlcu_supports((int)dt); }
static void *cu_arena_new(rl_backend *be, size_t bytes) {
    (void)be;
    void *p = rlcu_malloc(bytes);
    if (!p) rl_err("%s", rlcu_error() ? rlcu_error() : "cuda: out of device memory");
    return p;
}
static void cu_arena_free(rl_backend *be, void *a, size_t bytes) { (void)be; (void)bytes; rlcu_free(a); }
static int cu_mem_info(rl_backend *be, size_t *free_b, size_t *total_b) {
    (void)be;
    if (rlcu_mem_info(free_b, total_b)) return rl_err("cuda: cannot query the free device memory (cudaMemGetInfo)");
    return 0;
}
static void *cu_host_alloc(rl_backend *be, size_t n) {
    (void)be;
    void *p = rlcu_host_alloc(n);
    if (!p) rl_err("cuda: cannot allocate %zu bytes of pinned host memory", n);
    return p;
}
static void cu_host_free(rl_backend *be, void *p) { (void)be; rlcu_host_free(p); }
static int cu_host_register(rl_backend *be, void *p, size_t n) { (void)be; return rlcu_host_register(p, n); }
static void cu_host_unregister(rl_backend *be, void *p) { (void)be; rlcu_host_unregister(p); }
static void cu_host_invalidate(rl_backend *be, const void *p) { (void)be; (void)p; }
static int cu_status(rl_backend *be) {
    (void)be;
    const char *e = rlcu_error();
    return e ? rl_err("%s", e) : 0;
}
static int cu_upload(rl_backend *be, void *dst, const void *src, size_t n) {
    return rlcu_upload(dst, src, n) ? cu_status(be) : 0;
}
static int cu_download(rl_backend *be, void *dst, const void *src, size_t n) {
    return rlcu_download(dst, src, n) ? cu_status(be) : 0;
}
static int cu_upload_async(rl_backend *be, void *dst, const void *src, size_t n, uint64_t *ticket) {
    return rlcu_upload_async(dst, src, n, ticket) ? cu_status(be) : 0;
}
static int cu_upload_join(rl_backend *be, uint64_t ticket) { return rlcu_upload_join(ticket) ? cu_status(be) : 0; }
static uint64_t cu_fence(rl_backend *be) { (void)be; return rlcu_fence(); }
static int cu_wait(rl_backend *be, uint64_t f) { return rlcu_wait(f) ? cu_status(be) : 0; }
static size_t cu_scratch_bytes(rl_backend *be, int max_ctx, int max_T, int max_in) {
    (void)be;
    return rlcu_scratch_bytes(max_ctx, max_T, max_in);
}
static void cu_set_scratch(rl_backend *be, void *s, int max_ctx, int max_T, int max_in) {
    cuda_impl *c = be->impl;
    c->scratch = s;
    c->max_ctx = max_ctx;
    c->max_T = max_T;
    c->max_in = max_in;
}

static void cu_matmul(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, const float *bias, int T,
                      int in, int out) {
    use_scratch(be);
    if (rl_dtype_is_composite(dt)) {
        const rl_qweight *q = w;
        rlcu_qw c = {0};
        c.rows = -1; /* no descriptor: refused by rlcu_matmul_hfq */
        if (q) {
            c = (rlcu_qw){q->data, q->scales, q->zeros, q->g_idx, q->map2, 0, q->rows, q->cols, q->bits, q->group, q->ngroups,
                          q->blk_r, q->blk_c, q->nested_block, q->nested_offset};
            c.scale_kind = dt == RL_DT_BNB4 ? (q->scale_dt == RL_DT_F32 ? 0 : 3) : q->scale_dt == RL_DT_F16 ? 1 : q->scale_dt == RL_DT_BF16 ? 2 : 0;
        }
        rlcu_matmul_hfq(y, x, &c, (int)dt, bias, T, in, out);
        return;
    }
    rlcu_set_compute(rl_matmul_get_compute() == RL_COMPUTE_BF16); /* the process's --compute (backend/cpu/matmul.h) */
    rlcu_matmul(y, x, w, (int)dt, bias, T, in, out);
}
static void cu_matmul_t(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out) {
    (void)be;
    rlcu_matmul_t(y, x, w, (int)dt, T, in, out);
}
static void cu_convert(rl_backend *be, float *dst, const void *src, rl_dtype dt, int64_t n) {
    (void)be;
    rlcu_convert(dst, src, (int)dt, n);
}
static void cu_rmsnorm(rl_backend *be, float *out, const float *x, const float *w, int T, int n, float eps, int op) {
    (void)be;
    rlcu_rmsnorm(out, x, w, T, n, eps, op);
}
static void cu_layernorm(rl_backend *be, float *out, const float *x, const float *w, const float *b, int T, int n,
                         float eps) {
    (void)be;
    rlcu_layernorm(out, x, w, b, T, n, eps);
}
static void cu_rope(rl_backend *be, const rl_rope *r, float *x, int T, int nh, int hd, const float *c, const float *s) {
    (void)be;
    if (r->pairing == RL_ROPE_NONE) return;
    rlcu_rope((int)r->pairing, r->rot_dims, x, T, nh, hd, c, s);
}
static rlcu_kv kv_of(const rl_kv_view *v) { return (rlcu_kv){v->k, v->v, (int)v->dt, v->ring, v->k_width, v->v_width, v->sinks}; }
static void cu_attention(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                         int nh, int nkv, int hd, int vd, float scale, float softcap, int window) {
    (void)be;
    rlcu_kv kv = {kc, vc, (int)RL_DT_F32, 0, nkv * hd, nkv * vd, NULL};
    rlcu_attention(out, q, &kv, NULL, T, pos0, nh, nkv, hd, vd, scale, softcap, window);
}
static void cu_kv_store(rl_backend *be, const rl_kv_view *v, int pos0, const float *k, const float *vv, int n) {
    (void)be;
    rlcu_kv kv = kv_of(v);
    rlcu_kv_store(&kv, pos0, k, vv, n);
}
static void cu_attention_kv(rl_backend *be, float *out, const float *q, const rl_kv_view *v, int T, int pos0, int nh,
                            int nkv, int hd, int vd, float scale, float softcap, int window) {
    (void)be;
    rlcu_kv kv = kv_of(v);
    rlcu_attention(out, q, &kv, NULL, T, pos0, nh, nkv, hd, vd, scale, softcap, window);
}
static void cu_attention_tree(rl_backend *be, float *out, const float *q, const rl_kv_view *v, const int32_t *parent,
                              int T, int pos0, int nh, int nkv, int hd, int vd, float scale, float softcap, int window) {
    (void)be;
    rlcu_kv kv = kv_of(v);
    rlcu_attention(out, q, &kv, parent, T, pos0, nh, nkv, hd, vd, scale, softcap, window);
}
static void cu_dsa(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T, int pos0, int nh,
                   int hd, int vd, float scale, const rl_dsa_args *a) {
    use_scratch(be);
    rlcu_dsa(out, q, kc, vc, T, pos0, nh, hd, vd, scale, a->idx_heads, a->idx_dim, a->topk, a->iq, a->iw, a->ik,
             a->n_kv, a->k_stride, a->v_stride, a->parent);
}
static void cu_zero(rl_backend *be, void *dst, size_t n) { (void)be; rlcu_zero(dst, n); }
static void cu_copy2d(rl_backend *be, void *dst, size_t ds, const void *src, size_t ss, size_t rb, int rows) {
    (void)be;
    rlcu_copy2d(dst, ds, src, ss, rb, rows);
}
static void cu_add(rl_backend *be, float *y, const float *x, int64_t n) { (void)be; rlcu_elementwise(0, y, x, 0, n); }
static void cu_scale(rl_backend *be, float *y, float s, int64_t n) { (void)be; rlcu_elementwise(1, y, NULL, s, n); }
static void cu_softcap(rl_backend *be, float *x, float c, int64_t n) { (void)be; rlcu_elementwise(2, x, NULL, c, n); }
static void cu_clamp(rl_backend *be, float *x, float c, int64_t n) { (void)be; rlcu_elementwise(4, x, NULL, c, n); }
static void cu_sigmoid_mul(rl_backend *be, float *y, const float *g, int64_t n) { (void)be; rlcu_elementwise(3, y, g, 0, n); }
static void cu_act_mul(rl_backend *be, rl_act_kind k, float *g, const float *u, int64_t n) {
    (void)be;
    rlcu_act_mul(k == RL_ACT_SILU ? 0 : k == RL_ACT_GELU_TANH ? 1 : k == RL_ACT_GELU_ERF ? 2 : k == RL_ACT_RELU2 ? 4 : k == RL_ACT_IDENTITY ? 5 : 3, g, u, n);
}
static void cu_row_norm_div(rl_backend *be, float *out, int T, int rows, const void *w, rl_dtype dt, int cols) {
    (void)be;
    rlcu_row_norm_div(out, T, rows, w, (int)dt, cols);
}
static void cu_row_gate(rl_backend *be, float *out, const float *x, const float *g, int T, int n) {
    (void)be;
    rlcu_row_gate(out, x, g, T, n);
}
static void cu_scale_rows(rl_backend *be, float *y, const float *w, int T, int n) {
    (void)be;
    rlcu_scale_rows(y, w, T, n);
}
static void cu_moe_route(rl_backend *be, float *logits, const float *bias, int T, const rl_route_params *p, int32_t *idx,
                         float *w) {
    (void)be;
    rlcu_moe_route(logits, bias, T, p->n_experts, p->top_k, p->sigmoid, p->n_group, p->topk_group, p->group_top2,
                   p->norm_topk, p->scale, idx, w);
}
static void cu_gather_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, int nr, int n) {
    (void)be;
    rlcu_gather_rows(dst, src, rows, nr, n);
}
static void cu_scatter_add_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, const float *w, int nr,
                                int n) {
    (void)be;
    rlcu_scatter_add_rows(dst, src, rows, w, nr, n);
}
static void cu_dn_conv(rl_backend *be, float *out, const float *in, const float *w, const float *b, int T, int C, int K, int silu) {
    (void)be;
    rlcu_dn_conv(out, in, w, b, T, C, K, silu);
}
static void cu_ssm_scan(rl_backend *be, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw,
                        const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T) {
    (void)be;
    rlcu_ssm_scan(sd->groups, sd->heads, sd->d_state, sd->head_dim, sd->dt_min, sd->dt_max, sd->a_direct, sd->a_state, state, xbc, dt_raw, a_log, dt_bias, d_skip,
                  y, T);
}
static void cu_dn_recur(rl_backend *be, const rl_dn_dims *d, float *state, const float *conv, const float *b,
                        const float *a, const float *z, const float *a_log, const float *dt_bias, const float *norm_w,
                        float *core, int T) {
    (void)be;
    rlcu_dn_recur(d->k_heads, d->v_heads, d->k_dim, d->v_dim, d->norm_eps, d->v_tiled, d->a_direct, state, conv, b, a, z, a_log, dt_bias, norm_w,
                  core, T);
}

static const rl_backend_ops cuda_ops = {
    .name = "cuda", .host_shared = 0, .close = cu_close,
    .describe = cu_describe, .supports = cu_supports,
    .arena_new = cu_arena_new, .arena_free = cu_arena_free, .mem_info = cu_mem_info,
    .host_alloc = cu_host_alloc, .host_free = cu_host_free, .host_invalidate = cu_host_invalidate,
    .upload = cu_upload, .download = cu_download, .fence = cu_fence, .wait = cu_wait, .status = cu_status,
    .scratch_bytes = cu_scratch_bytes, .set_scratch = cu_set_scratch,
    .matmul = cu_matmul, .matmul_t = cu_matmul_t, .convert = cu_convert, .rmsnorm = cu_rmsnorm,
    .layernorm = cu_layernorm, .rope = cu_rope, .attention = cu_attention, .kv_store = cu_kv_store,
    .attention_kv = cu_attention_kv, .attention_tree = cu_attention_tree, .dsa_attention = cu_dsa,
    .zero = cu_zero, .copy2d = cu_copy2d, .add = cu_add, .scale = cu_scale, .softcap = cu_softcap, .clamp = cu_clamp,
    .sigmoid_mul = cu_sigmoid_mul, .act_mul = cu_act_mul, .row_norm_div = cu_row_norm_div,
    .row_gate = cu_row_gate, .scale_rows = cu_scale_rows, .moe_route = cu_moe_route, .gather_rows = cu_gather_rows,
    .scatter_add_rows = cu_scatter_add_rows, .dn_conv = cu_dn_conv, .dn_recur = cu_dn_recur, .ssm_scan = cu_ssm_scan,
    .upload_async = cu_upload_async, .upload_join = cu_upload_join,
    .host_register = cu_host_register, .host_unregister = cu_host_unregister,
};

rl_backend *rl_backend_cuda_open(int n_threads) {
    (void)n_threads;
    rl_backend *be = calloc(1, sizeof *be);
    cuda_impl *c = calloc(1, sizeof *c);
    if (!be || !c) { free(be); free(c); rl_err("out of memory"); return NULL; }
    char err[200];
    static char desc[160];
    if (!g_open && rlcu_init(desc, sizeof desc, err, sizeof err)) {
        free(be); free(c);
        rl_err("backend cuda: %s", err);
        return NULL;
    }
    g_open++;
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    be->ops = &cuda_ops;
    be->impl = c;
    return be;
}
#else
typedef int rl_cuda_backend_unused; /* built with make CUDA=1 only */
#endif
