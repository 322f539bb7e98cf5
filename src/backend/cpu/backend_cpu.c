/* The CPU backend: the rl_backend_ops table over the CPU kernels of this folder. Device memory
 * is host memory (host_shared), so uploads and downloads are memcpy and layer images are used in
 * place; arenas are anonymous mappings whose pages are committed as they are first written. */
#include "backend/backend.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/attention_kv.h"
#include "backend/cpu/attention_ggml.h"
#include "backend/cpu/ggml_ops.h"
#include "backend/cpu/deltanet.h"
#include "backend/cpu/ssm.h"
#include "backend/cpu/dsa.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/moe_route.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/rowops.h"
#include "backend/cpu/threadpool.h"
#include "io/pages.h"
#include "model/rope.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rl_pool *pool;
    float *scratch;        /* attention / DSA scratch (placed by the memory plan) */
    int max_ctx;
    char desc[128];
} cpu_impl;

static cpu_impl *I(rl_backend *be) { return be->impl; }
static void cpu_close(rl_backend *be);
static rl_pool *P(rl_backend *be) { return I(be)->pool; }

static const char *cpu_describe(rl_backend *be) {
    cpu_impl *c = I(be);
    snprintf(c->desc, sizeof c->desc, "cpu (%d threads, %s)", rl_pool_size(c->pool), rl_simd_name());
    return c->desc;
}
static int cpu_supports(rl_backend *be, rl_dtype dt) { (void)be; return rl_dtype_is_weight(dt); }

static void *cpu_arena_new(rl_backend *be, size_t bytes) {
    (void)be;
    void *p = rl_pages_map(bytes);
    if (!p) rl_err_prefix("cpu backend: ");
    return p;
}
static void cpu_arena_free(rl_backend *be, void *a, size_t bytes) { (void)be; rl_pages_unmap(a, bytes); }

/* Host buffers for layer images: 2 MiB aligned for large ones (4 KiB otherwise: O_DIRECT
 * reads land in them). Transparent huge pages are not asked for: with defrag on madvise,
 * compaction made committing them ~4x slower than 4 KiB pages; the loader commits resident
 * buffers itself before reading into them. Freed with free(). */
static void *cpu_host_alloc(rl_backend *be, size_t n) {
    (void)be;
    size_t align = n >= (1u << 21) ? (1u << 21) : 4096;
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 64)) { rl_err("out of memory (%zu bytes)", n); return NULL; }
    return p;
}
static void cpu_host_free(rl_backend *be, void *p) { (void)be; free(p); }
static void cpu_host_invalidate(rl_backend *be, const void *p) { (void)be; (void)p; }
static int cpu_upload(rl_backend *be, void *dst, const void *src, size_t n) { (void)be; if (dst != src) memcpy(dst, src, n); return 0; }
static int cpu_download(rl_backend *be, void *dst, const void *src, size_t n) { (void)be; if (dst != src) memcpy(dst, src, n); return 0; }
static uint64_t cpu_fence(rl_backend *be) { (void)be; return 0; }
static int cpu_wait(rl_backend *be, uint64_t f) { (void)be; (void)f; return 0; }
static int cpu_status(rl_backend *be) { (void)be; return 0; }

static size_t cpu_scratch_bytes(rl_backend *be, int max_ctx, int max_T, int max_in) {
    (void)max_T; (void)max_in;
    int64_t a = rl_attention_ggml_scratch_floats(rl_pool_size(P(be)), max_ctx); /* >= rl_attention_scratch_floats */
    int64_t k = rl_attention_kv_scratch_floats(rl_pool_size(P(be)), max_ctx);
    if (k > a) a = k;
    int64_t d = rl_dsa_scratch_floats(max_ctx) * rl_pool_size(P(be));
    return (size_t)(a > d ? a : d) * sizeof(float);
}
static void cpu_set_scratch(rl_backend *be, void *s, int max_ctx, int max_T, int max_in) {
    (void)max_T; (void)max_in;
    I(be)->scratch = s;
    I(be)->max_ctx = max_ctx;
}

static void cpu_matmul(rl_backend *be, float *y, const float *x, const void *w, rl_dtype wdt, const float *bias, int T,
                       int in, int out) {
    rl_matmul(P(be), y, x, w, wdt, bias, T, in, out);
}
static void cpu_matmul_t(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out) {
    rl_matmul_t(P(be), y, x, w, dt, T, in, out);
}
static void cpu_convert(rl_backend *be, float *dst, const void *src, rl_dtype dt, int64_t n) {
    (void)be;
    rl_convert_to_f32(dst, src, dt, n);
}
static void cpu_rmsnorm(rl_backend *be, float *out, const float *x, const float *w, int T, int n, float eps, int op) {
    (void)be;
    rl_rmsnorm(out, x, w, T, n, eps, op);
}
static void cpu_layernorm(rl_backend *be, float *out, const float *x, const float *w, const float *b, int T, int n,
                          float eps) {
    (void)be;
    rl_layernorm(out, x, w, b, T, n, eps);
}
static void cpu_rope(rl_backend *be, const rl_rope *r, float *x, int T, int nh, int hd, const float *c, const float *s) {
    (void)be;
    rl_rope_apply(r, x, T, nh, hd, c, s);
}
/* llama.cpp's order (GGUF models) where the cache suits it; 1 if it ran. */
static int ggml_attention(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int nh, int nkv,
                          int hd, int vd, float scale, float softcap, int window) {
    int64_t row = rl_attention_scratch_floats(1, I(be)->max_ctx);
    if (be->numerics != RL_NUMERICS_GGML || kv->sinks || !rl_attention_ggml_ok(kv, pos0, T, hd, vd, row)) return 0;
    rl_attention_ggml(P(be), out, q, kv, T, pos0, nh, nkv, hd, vd, scale, softcap, window, I(be)->scratch, row,
                      rl_pool_size(P(be)) * RL_GGML_ATT_QB);
    return 1;
}
static void cpu_attention(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T,
                          int pos0, int nh, int nkv, int hd, int vd, float scale, float softcap, int window) {
    rl_kv_view kv = {(void *)kc, (void *)vc, RL_DT_F32, 0, nkv * hd, nkv * vd, NULL};
    if (ggml_attention(be, out, q, &kv, T, pos0, nh, nkv, hd, vd, scale, softcap, window)) return;
    rl_attention(P(be), out, q, kc, vc, T, pos0, nh, nkv, hd, vd, scale, softcap, window, I(be)->scratch);
}
static void cpu_kv_store(rl_backend *be, const rl_kv_view *kv, int pos0, const float *k, const float *v, int n) {
    (void)be;
    rl_kv_store_cpu(kv, pos0, k, v, n);
}
static void cpu_attention_kv(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int nh,
                             int nkv, int hd, int vd, float scale, float softcap, int window) {
    if (ggml_attention(be, out, q, kv, T, pos0, nh, nkv, hd, vd, scale, softcap, window)) return;
    rl_attention_kv_cpu(P(be), out, q, kv, T, pos0, nh, nkv, hd, vd, scale, softcap, window, I(be)->scratch, I(be)->max_ctx);
}
static void cpu_attention_tree(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent,
                               int T, int pos0, int nh, int nkv, int hd, int vd, float scale, float softcap, int window) {
    rl_attention_tree_cpu(P(be), out, q, kv, parent, T, pos0, nh, nkv, hd, vd, scale, softcap, window, I(be)->scratch,
                          I(be)->max_ctx);
}
static void cpu_dsa_attention(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T,
                              int pos0, int nh, int hd, int vd, float scale, const rl_dsa_args *a) {
    rl_dsa_attention(P(be), out, q, kc, vc, T, pos0, nh, hd, vd, scale, a, I(be)->scratch, I(be)->max_ctx);
}
static void cpu_zero(rl_backend *be, void *dst, size_t n) { (void)be; memset(dst, 0, n); }
static void cpu_copy2d(rl_backend *be, void *dst, size_t ds, const void *src, size_t ss, size_t rb, int rows) {
    (void)be;
    rl_copy2d(dst, ds, src, ss, rb, rows);
}
static void cpu_add(rl_backend *be, float *y, const float *x, int64_t n) { (void)be; rl_add(y, x, n); }
static void cpu_scale(rl_backend *be, float *y, float s, int64_t n) { (void)be; rl_scale(y, s, n); }
static void cpu_softcap(rl_backend *be, float *x, float c, int64_t n) { (void)be; rl_softcap(x, c, n); }
static void cpu_clamp(rl_backend *be, float *x, float c, int64_t n) { (void)be; rl_clamp(x, c, n); }
static void cpu_sigmoid_mul(rl_backend *be, float *y, const float *g, int64_t n) { (void)be; rl_sigmoid_mul(y, g, n); }
/* SiLU over blocks of ACT_BLOCK items on the pool (a multiple of every vector width: the lanes and
 * the scalar tail fall where one call puts them). */
#define ACT_BLOCK 4096
typedef struct { float *g; const float *u; int64_t n; int ggml; } act_job;
static void silu_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const act_job *j = ctx;
    const int64_t i0 = b * ACT_BLOCK, i1 = e * ACT_BLOCK < j->n ? e * ACT_BLOCK : j->n;
    if (j->ggml) rl_ggml_silu_mul(j->g + i0, j->u ? j->u + i0 : NULL, i1 - i0);
    else rl_silu_mul(j->g + i0, j->u ? j->u + i0 : NULL, i1 - i0);
}
static void cpu_act_mul(rl_backend *be, rl_act_kind k, float *g, const float *u, int64_t n) {
    act_job j = {g, u, n, be->numerics == RL_NUMERICS_GGML};
    switch (k) {
    case RL_ACT_SILU: rl_pool_for_work(P(be), (n + ACT_BLOCK - 1) / ACT_BLOCK, 1, n * 4, silu_work, &j); break;
    case RL_ACT_GELU_TANH: rl_gelu_tanh_mul(g, u, n); break;
    case RL_ACT_GELU_ERF: rl_gelu_erf_mul(g, u, n); break;
    case RL_ACT_SWIGLU_OAI: rl_swiglu_oai_mul(g, u, n); break;
    case RL_ACT_RELU2: rl_relu2_mul(g, u, n); break;
    case RL_ACT_IDENTITY: rl_mul(g, u, n); break;
    }
}
static void cpu_row_norm_div(rl_backend *be, float *out, int T, int rows, const void *w, rl_dtype dt, int cols) {
    rl_row_norm_div(P(be), out, T, rows, w, dt, cols);
}
static void cpu_row_gate(rl_backend *be, float *out, const float *x, const float *g, int T, int n) {
    (void)be;
    rl_row_gate(out, x, g, T, n);
}
static void cpu_scale_rows(rl_backend *be, float *y, const float *w, int T, int n) {
    (void)be;
    rl_scale_rows(y, w, T, n);
}
static void cpu_moe_route(rl_backend *be, float *logits, const float *bias, int T, const rl_route_params *p,
                          int32_t *idx, float *w) {
    rl_moe_route(logits, bias, T, p, idx, w, be->numerics == RL_NUMERICS_GGML);
}
static void cpu_gather_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, int nr, int n) {
    (void)be;
    rl_gather_rows(dst, src, rows, nr, n);
}
static void cpu_scatter_add_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, const float *w,
                                 int nr, int n) {
    if (be->numerics == RL_NUMERICS_GGML) rl_ggml_scatter_add_rows(dst, src, rows, w, nr, n);
    else rl_scatter_add_rows(dst, src, rows, w, nr, n);
}
static void cpu_dn_conv(rl_backend *be, float *out, const float *in, const float *w, const float *bias, int T, int C, int K,
                        int silu) {
    (void)be;
    rl_dn_conv(out, in, w, bias, T, C, K, silu);
}
static void cpu_dn_recur(rl_backend *be, const rl_dn_dims *dd, float *state, const float *conv, const float *b,
                         const float *a, const float *z, const float *a_log, const float *dt_bias, const float *norm_w,
                         float *core, int T) {
    rl_dn_recur(P(be), dd, state, conv, b, a, z, a_log, dt_bias, norm_w, core, T);
}
static void cpu_ssm_scan(rl_backend *be, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw,
                         const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T) {
    rl_ssm_scan(P(be), sd, state, xbc, dt_raw, a_log, dt_bias, d_skip, y, T);
}

const rl_backend_ops rl_cpu_ops = {
    .name = "cpu", .host_shared = 1, .close = cpu_close,
    .describe = cpu_describe, .supports = cpu_supports,
    .arena_new = cpu_arena_new, .arena_free = cpu_arena_free,
    .host_alloc = cpu_host_alloc, .host_free = cpu_host_free, .host_invalidate = cpu_host_invalidate,
    .upload = cpu_upload, .download = cpu_download, .fence = cpu_fence, .wait = cpu_wait, .status = cpu_status,
    .scratch_bytes = cpu_scratch_bytes, .set_scratch = cpu_set_scratch,
    .matmul = cpu_matmul, .matmul_t = cpu_matmul_t, .convert = cpu_convert, .rmsnorm = cpu_rmsnorm, .layernorm = cpu_layernorm,
    .rope = cpu_rope, .attention = cpu_attention, .kv_store = cpu_kv_store, .attention_kv = cpu_attention_kv, .attention_tree = cpu_attention_tree, .dsa_attention = cpu_dsa_attention, .zero = cpu_zero, .copy2d = cpu_copy2d,
    .add = cpu_add, .scale = cpu_scale, .softcap = cpu_softcap, .clamp = cpu_clamp, .sigmoid_mul = cpu_sigmoid_mul,
    .act_mul = cpu_act_mul, .row_norm_div = cpu_row_norm_div, .row_gate = cpu_row_gate, .scale_rows = cpu_scale_rows,
    .moe_route = cpu_moe_route, .gather_rows = cpu_gather_rows, .scatter_add_rows = cpu_scatter_add_rows,
    .dn_conv = cpu_dn_conv, .dn_recur = cpu_dn_recur, .ssm_scan = cpu_ssm_scan,
};

rl_backend *rl_backend_cpu_open(int n_threads) {
    rl_backend *be = calloc(1, sizeof *be);
    cpu_impl *c = calloc(1, sizeof *c);
    if (!be || !c) { free(be); free(c); rl_err("out of memory"); return NULL; }
    if (!(c->pool = rl_pool_new(n_threads))) { free(be); free(c); return NULL; }
    be->ops = &rl_cpu_ops;
    be->impl = c;
    return be;
}

static void cpu_close(rl_backend *be) {
    if (!be) return;
    cpu_impl *c = be->impl;
    if (c) rl_pool_free(c->pool);
    free(c);
    free(be);
}

