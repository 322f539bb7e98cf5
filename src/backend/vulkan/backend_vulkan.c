/* The vulkan backend: every op of rl_backend_ops as a compute shader (shaders/NAME.comp, SPIR-V
 * embedded at build time) on device-local memory; push constants carry device addresses and
 * sizes. Weights F32 / F16 / BF16 / Q8_0 / Q4_1 are decoded inside the shaders (f32 accumulation);
 * every GGUF type too (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K) in ggml-cpu's
 * numerics: activations rounded to f16 / bf16, or quantised to Q8_0 / Q8_1 / Q8_K rows in the
 * scratch by quant_act.comp first, then integer block dots. */
#include "backend/vulkan/vk_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

void *rl_vk_arena_new(rl_backend *be, size_t bytes);
void rl_vk_arena_free(rl_backend *be, void *a, size_t bytes);
void *rl_vk_host_alloc(rl_backend *be, size_t n);
void rl_vk_host_free(rl_backend *be, void *p);
void rl_vk_host_invalidate(rl_backend *be, const void *p);
int rl_vk_upload(rl_backend *be, void *dst, const void *src, size_t n);
int rl_vk_download(rl_backend *be, void *dst, const void *src, size_t n);
int rl_vk_upload_async(rl_backend *be, void *dst, const void *src, size_t n, uint64_t *ticket);
int rl_vk_upload_join(rl_backend *be, uint64_t ticket);
const char *rl_vk_describe(void);

#define DSA_ROWS 8     /* query tokens per DSA dispatch (scratch: 2 rows of max_ctx floats each) */
#define MAX_VD 512     /* value dims of attention (8 per thread) */
#define MAX_DN_HD 1024 /* Gated DeltaNet head dims */
#define SMALL_IN 256   /* matmul rows up to this long: a thread per output row (no reduction) */

static vk_be *V(rl_backend *be) { return be->impl; }
static uint64_t A(const void *p) { return (uint64_t)(uintptr_t)p; }
#define DISPATCH_N(v, id, pc, n, z) rl_vk_dispatch_n(v, id, &(pc), sizeof(pc), n, z)
#define GROUPS(n) (((uint64_t)(n) + VK_WG - 1) / VK_WG)

/* shader dtype code for a weight / vector dtype (GGUF types with the same block layout decode
 * the same), -1 if the shaders cannot read it */
static int dt_code(rl_dtype dt) {
    switch (dt) {
    case RL_DT_F32: return 0;
    case RL_DT_F16: case RL_DT_GF16: return 1;
    case RL_DT_BF16: case RL_DT_GBF16: return 2;
    case RL_DT_Q8_0: case RL_DT_GQ8_0: return 10;
    case RL_DT_Q4_1: case RL_DT_GQ4_1: return 11;
    case RL_DT_Q4_0: case RL_DT_Q5_0: case RL_DT_Q5_1: case RL_DT_Q2_K: case RL_DT_Q3_K: case RL_DT_Q4_K:
    case RL_DT_Q5_K: case RL_DT_Q6_K: case RL_DT_IQ4_NL: case RL_DT_GMXFP4: return (int)dt; /* shaders/common.glsl DT_* */
    default: return -1;
    }
}

static const char *vk_describe(rl_backend *be) { (void)be; return rl_vk_describe(); }
static int vk_supports(rl_backend *be, rl_dtype dt) {
    (void)be;
    return dt_code(dt) >= 0 || rl_dtype_is_composite(dt);
}
/* matmul activation mode of the GGUF types (see shaders/matmul.comp): 1 / 2 rounded to f16 /
 * bf16, 3 / 4 / 5 quantised to Q8_0 / Q8_1 / Q8_K (quant_act.comp), ggml's vec_dot_type */
static uint32_t gguf_mode(rl_dtype dt) {
    switch (dt) {
    case RL_DT_GF16: return 1;
    case RL_DT_GBF16: return 2;
    case RL_DT_GQ8_0: case RL_DT_Q4_0: case RL_DT_Q5_0: case RL_DT_IQ4_NL: case RL_DT_GMXFP4: return 3;
    case RL_DT_GQ4_1: case RL_DT_Q5_1: return 4;
    case RL_DT_Q2_K: case RL_DT_Q3_K: case RL_DT_Q4_K: case RL_DT_Q5_K: case RL_DT_Q6_K: return 5;
    default: return 0;
    }
}
/* uint words of one quantised activation row of `in` values (quant_act.comp): 10 per 32-block
 * (Q8_0 / Q8_1), 81 per 256-block (Q8_K); the most any mode takes where in is not given exactly */
static size_t qact_words(uint32_t mode, size_t in) {
    return mode == 5 ? in / 256 * 81 : mode >= 3 ? in / 32 * 10 : (in + 255) / 256 * 81;
}
static uint64_t vk_fence(rl_backend *be) { return rl_vk_flush(V(be)); }
static int vk_wait(rl_backend *be, uint64_t f) { return rl_vk_wait(V(be), f); }
static int vk_status(rl_backend *be) { return V(be)->failed ? rl_err("%s", V(be)->err) : 0; }
/* scratch: the DSA rows, then the quantised activations of a GGUF matmul (max_T rows of max_in) */
static size_t dsa_scratch_bytes(int max_ctx) {
    return ((size_t)DSA_ROWS * 2 * (size_t)(max_ctx > 0 ? max_ctx : 1) * sizeof(float) + 255) & ~(size_t)255;
}
static size_t qact_scratch_words(int max_T, int max_in) {
    return max_in > 0 ? (size_t)(max_T > 0 ? max_T : 1) * qact_words(0, (size_t)max_in) : 0;
}
static size_t vk_scratch_bytes(rl_backend *be, int max_ctx, int max_T, int max_in) {
    (void)be;
    return dsa_scratch_bytes(max_ctx) + qact_scratch_words(max_T, max_in) * 4;
}
static void vk_set_scratch(rl_backend *be, void *s, int max_ctx, int max_T, int max_in) {
    vk_be *v = V(be);
    v->scratch = s; v->max_ctx = max_ctx; v->max_T = max_T;
    v->qact_words = qact_scratch_words(max_T, max_in);
    v->qact = v->qact_words ? (uint32_t *)((uint8_t *)s + dsa_scratch_bytes(max_ctx)) : NULL;
}

/* The HF pre-quantized formats (shaders/matmul_hfq.comp): w is the host descriptor of device
 * pointers (backend.h's rl_qweight), read here; its pieces are dequantised in the shader. */
static void vk_matmul_hfq(vk_be *v, float *y, const float *x, const rl_qweight *q, rl_dtype dt, const float *bias, int T,
                          int in, int out) {
    uint32_t kind = dt == RL_DT_FP8_BLK ? 0 : dt == RL_DT_GPTQ ? 1 : dt == RL_DT_AWQ ? 2 : dt == RL_DT_BNB4 ? 3 : 4, sdt;
    if (!q || q->rows != out || q->cols != in) { rl_vk_fail(v, "vulkan: %s weight descriptor of another shape than %d x %d", RL_DTYPES[dt].st_name, out, in); return; }
    if (kind == 3) sdt = q->scale_dt == RL_DT_F32 ? 0 : 3;
    else sdt = q->scale_dt == RL_DT_F16 ? 1 : q->scale_dt == RL_DT_BF16 ? 2 : 0;
    int bad = kind == 0 ? q->blk_r <= 0 || q->blk_c <= 0
            : kind == 1 ? (q->bits != 4 && q->bits != 8) || out % (32 / q->bits) || q->ngroups <= 0
            : kind == 2 ? q->bits != 4 || out % 8 || q->group <= 0
            : kind == 4 ? in % 32 != 0
            : q->group <= 0 || (sdt == 3 && q->nested_block <= 0);
    if (bad || (uint64_t)in * (uint64_t)out > UINT32_MAX) { rl_vk_fail(v, "vulkan: %s weight of %d x %d (bits %d, group %d) is not supported", RL_DTYPES[dt].st_name, out, in, q->bits, q->group); return; }
    if (T <= 0 || out <= 0 || in <= 0) return;
    const void *pp[5] = {q->data, q->scales, q->zeros, q->g_idx, q->map2};
    uint64_t pa[5];
    uint32_t offs = 0;
    for (int k = 0; k < 5; k++) {
        uint64_t a = pp[k] ? A(pp[k]) : A(x);
        pa[k] = a & ~3ull;
        offs |= (uint32_t)(a & 3) << (2 * k);
    }
    struct {
        uint64_t y, x, b, data, scales, zeros, gidx, map2;
        uint32_t offs, flags, T, in, out, group, ngroups, blk_r, blk_c, nested_block;
        float nested_offset;
    } pc = {A(y), A(x), bias ? A(bias) : A(x), pa[0], pa[1], pa[2], pa[3], pa[4], offs,
            kind | sdt << 4 | (uint32_t)(q->bits & 255) << 8 | (uint32_t)(bias != NULL) << 16, (uint32_t)T, (uint32_t)in,
            (uint32_t)out, (uint32_t)q->group, (uint32_t)q->ngroups, (uint32_t)q->blk_r, (uint32_t)q->blk_c,
            (uint32_t)q->nested_block, q->nested_offset};
    int col = kind == 1 || kind == 2; /* packed columns: a thread per output row */
    DISPATCH_N(v, VKP_MATMUL_HFQ, pc, col ? GROUPS(out) : (uint64_t)out, (uint32_t)((T + 7) / 8));
}

static void vk_matmul(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, const float *bias, int T,
                      int in, int out) {
    vk_be *v = V(be);
    if (rl_dtype_is_composite(dt)) { vk_matmul_hfq(v, y, x, w, dt, bias, T, in, out); return; }
    int code = dt_code(dt);
    if (!vk_supports(be, dt) || code < 0) { rl_vk_fail(v, "vulkan: matmul weights of dtype %s are not supported", RL_DTYPES[dt].st_name); return; }
    if (T <= 0 || out <= 0 || in <= 0) return;
    size_t rb = rl_dtype_row_bytes(dt, in);
    int per = (int)(((size_t)1 << 31) / (rb ? rb : 1));
    if (per < 1) { rl_vk_fail(v, "vulkan: matmul row of %zu bytes is too large", rb); return; }
    uint32_t gm = gguf_mode(dt);
    size_t qrow = gm >= 3 ? qact_words(gm, (size_t)in) : 0;
    int tc = T; /* tokens per pass: as many activation rows as the scratch holds */
    if (gm >= 3) {
        int bn = gm == 5 ? 256 : 32;
        if (in % bn) { rl_vk_fail(v, "vulkan: matmul of %s weights with rows of %d values (not whole blocks of %d)", RL_DTYPES[dt].st_name, in, bn); return; }
        size_t fit = v->qact && qrow ? v->qact_words / qrow : 0;
        if (!fit) { rl_vk_fail(v, "vulkan: matmul rows of %d values exceed the activation scratch planned (%zu words)", in, v->qact_words); return; }
        if ((size_t)tc > fit) tc = (int)fit;
    }
    for (int t0 = 0; t0 < T; t0 += tc) {
        int nt = T - t0 < tc ? T - t0 : tc;
        uint64_t xa = A(x) + 4ull * (uint64_t)t0 * (uint64_t)in, ya = A(y) + 4ull * (uint64_t)t0 * (uint64_t)out;
        if (gm >= 3) {
            struct { uint64_t x, qa; uint32_t T, in, kind, row_words; } qp = {xa, A(v->qact), (uint32_t)nt, (uint32_t)in, gm, (uint32_t)qrow};
            DISPATCH_N(v, VKP_QUANT_ACT, qp, GROUPS((uint64_t)nt * (uint64_t)(in / (gm == 5 ? 256 : 32))), 1);
        }
        for (int o0 = 0; o0 < out; o0 += per) {
            int n = out - o0 < per ? out - o0 : per;
            uint64_t wa = A(w) + (uint64_t)o0 * rb;
            struct { uint64_t y, x, w, b, qa; uint32_t woff, dt, T, in, out, ld, rb, has_b, gm, small, qrow; } pc = {
                ya + 4ull * o0, xa, wa & ~3ull, bias ? A(bias) + 4ull * o0 : xa, v->qact ? A(v->qact) : xa, (uint32_t)(wa & 3),
                (uint32_t)code, (uint32_t)nt, (uint32_t)in, (uint32_t)n, (uint32_t)out, (uint32_t)rb, bias != NULL, gm,
                in <= SMALL_IN, (uint32_t)qrow};
            DISPATCH_N(v, VKP_MATMUL, pc, pc.small ? GROUPS(n) : (uint64_t)n, (uint32_t)((nt + 7) / 8));
        }
    }
}

static void vk_matmul_t(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out) {
    vk_be *v = V(be);
    int code = dt_code(dt);
    if (code < 0) {
        rl_vk_fail(v, "vulkan: matmul_t weights of dtype %s are not supported", RL_DTYPES[dt].st_name);
        return;
    }
    if (T <= 0 || out <= 0 || in <= 0) return;
    size_t rb = rl_dtype_row_bytes(dt, out);
    uint64_t wa = A(w);
    if ((uint64_t)in * rb + (wa & 3) > UINT32_MAX) { rl_vk_fail(v, "vulkan: matmul_t weight of %d rows of %zu bytes is too large", in, rb); return; }
    struct { uint64_t y, x, w; uint32_t woff, dt, T, in, out, rb; } pc = {
        A(y), A(x), wa & ~3ull, (uint32_t)(wa & 3), (uint32_t)code, (uint32_t)T, (uint32_t)in, (uint32_t)out, (uint32_t)rb};
    DISPATCH_N(v, VKP_MATMUL_T, pc, GROUPS(out), (uint32_t)((T + 7) / 8));
}

static void vk_convert(rl_backend *be, float *dst, const void *src, rl_dtype dt, int64_t n) {
    vk_be *v = V(be);
    int code = dt_code(dt);
    if (code < 0) { rl_vk_fail(v, "vulkan: convert from dtype %s is not supported", RL_DTYPES[dt].st_name); return; }
    if (n <= 0) return;
    if (n > (int64_t)1 << 29) { rl_vk_fail(v, "vulkan: convert of %lld values is too large", (long long)n); return; }
    uint64_t wa = A(src);
    struct { uint64_t d, w; uint32_t woff, dt, n; } pc = {A(dst), wa & ~3ull, (uint32_t)(wa & 3), (uint32_t)code, (uint32_t)n};
    DISPATCH_N(v, VKP_CONVERT, pc, GROUPS(n), 1);
}

typedef struct { uint64_t o, x, w, b; uint32_t n, mode, has_w, has_b, one_plus; float eps; } norm_pc;
static void vk_rmsnorm(rl_backend *be, float *out, const float *x, const float *w, int T, int n, float eps, int op) {
    if (T <= 0 || n <= 0) return;
    norm_pc pc = {A(out), A(x), w ? A(w) : A(x), A(x), (uint32_t)n, 0, w != NULL, 0, op != 0, eps};
    DISPATCH_N(V(be), V(be)->d->f64 ? VKP_NORM64 : VKP_NORM, pc, (uint64_t)T, 1);
}
static void vk_layernorm(rl_backend *be, float *out, const float *x, const float *w, const float *b, int T, int n,
                         float eps) {
    if (T <= 0 || n <= 0) return;
    norm_pc pc = {A(out), A(x), w ? A(w) : A(x), b ? A(b) : A(x), (uint32_t)n, 1, w != NULL, b != NULL, 0, eps};
    DISPATCH_N(V(be), VKP_NORM, pc, (uint64_t)T, 1);
}

static void vk_rope(rl_backend *be, const rl_rope *r, float *x, int T, int nh, int hd, const float *c, const float *s) {
    int half = r->rot_dims / 2;
    if (r->pairing == RL_ROPE_NONE || half <= 0 || T <= 0 || nh <= 0) return;
    struct { uint64_t x, c, s; uint32_t T, nh, hd, half, gptj; } pc = {
        A(x), A(c), A(s), (uint32_t)T, (uint32_t)nh, (uint32_t)hd, (uint32_t)half, r->pairing == RL_ROPE_GPTJ};
    DISPATCH_N(V(be), VKP_ROPE, pc, GROUPS((uint64_t)T * nh * half), 1);
}

/* one attention dispatch over a cache of dtype dt (see shaders/attention.comp); par: tree parents */
typedef struct { const void *k, *v; rl_dtype dt; int ring; size_t krb, vrb; const float *sinks; } att_cache;
static void att_dispatch(vk_be *v, float *out, const float *q, const att_cache *c, const int32_t *par, int T, int pos0,
                         int nh, int nkv, int hd, int vd, float scale, float cap, int window) {
    if (T <= 0 || nh <= 0 || nkv <= 0) return;
    if (vd > MAX_VD || nh > 65535 || T > 65535 || nh % nkv || pos0 < 0) {
        rl_vk_fail(v, "vulkan: attention with %d heads, %d kv heads, %d value dims, %d tokens is not supported", nh, nkv, vd, T);
        return;
    }
    uint32_t code = c->dt == RL_DT_F32 ? 0 : c->dt == RL_DT_F16 ? 1 : c->dt == RL_DT_BF16 ? 2 : 10;
    uint64_t rows = c->ring ? (uint64_t)c->ring : (uint64_t)pos0 + (uint64_t)T;
    if ((c->dt == RL_DT_Q8_0 && (hd % 32 || vd % 32)) || (code == 0 && (A(c->k) | A(c->v) | c->krb | c->vrb) % 4) ||
        rows * (c->krb > c->vrb ? c->krb : c->vrb) + 4 > UINT32_MAX) {
        rl_vk_fail(v, "vulkan: attention over a %s cache of %llu rows of %zu bytes (head dims %d / %d) is not supported",
                   RL_DTYPES[c->dt].st_name, (unsigned long long)rows, c->krb, hd, vd);
        return;
    }
    struct {
        uint64_t o, q, k, v, par, sink;
        uint32_t T, pos0, nh, nkv, hd, vd; float scale, cap; int32_t window;
        uint32_t dt, krb, vrb, ring, koff, voff, tree;
    } pc = {A(out), A(q), A(c->k) & ~3ull, A(c->v) & ~3ull, par ? A(par) : A(q), c->sinks ? A(c->sinks) : A(q), (uint32_t)T,
            (uint32_t)pos0, (uint32_t)nh, (uint32_t)nkv, (uint32_t)hd, (uint32_t)vd, scale, cap, window, code, (uint32_t)c->krb,
            (uint32_t)c->vrb, (uint32_t)(c->ring > 0 ? c->ring : 0), (uint32_t)(A(c->k) & 3), (uint32_t)(A(c->v) & 3),
            (uint32_t)(par != NULL) | (uint32_t)(c->sinks != NULL) << 1};
    _Static_assert(sizeof pc <= VK_PUSH_BYTES, "attention push constants");
    rl_vk_dispatch(v, VKP_ATTENTION, &pc, sizeof pc, (uint32_t)nh, (uint32_t)T, 1);
}

static void vk_attention(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T, int pos0,
                         int nh, int nkv, int hd, int vd, float scale, float cap, int window) {
    att_cache c = {kc, vc, RL_DT_F32, 0, (size_t)nkv * hd * sizeof(float), (size_t)nkv * vd * sizeof(float), NULL};
    att_dispatch(V(be), out, q, &c, NULL, T, pos0, nh, nkv, hd, vd, scale, cap, window);
}

static int kv_ok(vk_be *v, const rl_kv_view *kv) {
    rl_dtype t = kv->dt;
    if ((t != RL_DT_F32 && t != RL_DT_F16 && t != RL_DT_BF16 && t != RL_DT_Q8_0) || kv->k_width <= 0 || kv->v_width <= 0 ||
        kv->ring < 0 || (t == RL_DT_Q8_0 && (kv->k_width % 32 || kv->v_width % 32))) {
        rl_vk_fail(v, "vulkan: a %s KV cache of widths %d / %d is not supported", RL_DTYPES[t].st_name, kv->k_width, kv->v_width);
        return 0;
    }
    return 1;
}
static att_cache kv_cache(const rl_kv_view *kv) {
    att_cache c = {kv->k, kv->v, kv->dt, kv->ring, rl_dtype_row_bytes(kv->dt, kv->k_width),
                   rl_dtype_row_bytes(kv->dt, kv->v_width), kv->sinks};
    return c;
}

/* rows [r0, r0 + n) of one cache (row bytes rb, width floats) <- n f32 rows of src */
static void store_rows(vk_be *v, void *cache, const rl_kv_view *kv, int width, int r0, const float *src, int n) {
    size_t rb = rl_dtype_row_bytes(kv->dt, width);
    uint64_t a = A(cache) + (uint64_t)r0 * rb, nbytes = (uint64_t)n * rb;
    if (nbytes + 4 > INT32_MAX) { rl_vk_fail(v, "vulkan: KV store of %llu bytes is too large", (unsigned long long)nbytes); return; }
    struct { uint64_t d, s; uint32_t off0, rb, width, dt, nbytes; } pc = {
        a & ~3ull, A(src), (uint32_t)(a & 3), (uint32_t)rb, (uint32_t)width, (uint32_t)dt_code(kv->dt), (uint32_t)nbytes};
    DISPATCH_N(v, VKP_KV_STORE, pc, GROUPS((pc.off0 + nbytes + 3) / 4), 1);
}
static void vk_kv_store(rl_backend *be, const rl_kv_view *kv, int pos0, const float *k, const float *vv, int n) {
    vk_be *v = V(be);
    if (n <= 0 || !kv_ok(v, kv)) return;
    if (kv->ring && n > kv->ring) { /* only the last ring positions stay */
        int skip = n - kv->ring;
        k += (size_t)skip * kv->k_width; vv += (size_t)skip * kv->v_width; pos0 += skip; n = kv->ring;
    }
    for (int t = 0; t < n;) { /* contiguous runs of rows (a ring wraps at most once) */
        int r = kv->ring ? (pos0 + t) % kv->ring : pos0 + t, m = kv->ring && kv->ring - r < n - t ? kv->ring - r : n - t;
        store_rows(v, kv->k, kv, kv->k_width, r, k + (size_t)t * kv->k_width, m);
        store_rows(v, kv->v, kv, kv->v_width, r, vv + (size_t)t * kv->v_width, m);
        t += m;
    }
}
static void vk_attention_kv(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, int T, int pos0, int nh,
                            int nkv, int hd, int vd, float scale, float cap, int window) {
    if (!kv_ok(V(be), kv)) return;
    att_cache c = kv_cache(kv);
    att_dispatch(V(be), out, q, &c, NULL, T, pos0, nh, nkv, hd, vd, scale, cap, window);
}
static void vk_attention_tree(rl_backend *be, float *out, const float *q, const rl_kv_view *kv, const int32_t *parent,
                              int T, int pos0, int nh, int nkv, int hd, int vd, float scale, float cap, int window) {
    vk_be *v = V(be);
    if (!kv_ok(v, kv)) return;
    att_cache c = kv_cache(kv);
    att_dispatch(v, out, q, &c, parent, T, pos0, nh, nkv, hd, vd, scale, cap, window);
}

static void vk_dsa(rl_backend *be, float *out, const float *q, const float *kc, const float *vc, int T, int pos0, int nh,
                   int hd, int vd, float scale, const rl_dsa_args *a) {
    vk_be *v = V(be);
    if (T <= 0 || nh <= 0) return;
    if (vd > MAX_VD || !v->scratch || pos0 + T > v->max_ctx) {
        rl_vk_fail(v, "vulkan: DSA attention over %d positions (scratch for %d, %d value dims) is not supported", pos0 + T,
                   v->max_ctx, vd);
        return;
    }
    int nkv = a->n_kv > 0 ? a->n_kv : nh;
    if (nh % nkv) { rl_vk_fail(v, "vulkan: DSA attention with %d heads over %d kv heads", nh, nkv); return; }
    uint32_t ks = (uint32_t)(a->k_stride > 0 ? a->k_stride : nkv * hd), vs = (uint32_t)(a->v_stride > 0 ? a->v_stride : nkv * vd);
    for (int t0 = 0; t0 < T; t0 += DSA_ROWS) {
        int n = T - t0 < DSA_ROWS ? T - t0 : DSA_ROWS;
        struct {
            uint64_t o, q, k, v, iq, iw, ik, scr, par;
            uint32_t t0, pos0, nh, hd, vd, ih, ihd, topk, ctx; float scale; uint32_t nkv, ks, vs, tree;
        } pc = {A(out), A(q), A(kc), A(vc), A(a->iq), A(a->iw), A(a->ik), A(v->scratch), a->parent ? A(a->parent) : 0,
                (uint32_t)t0, (uint32_t)pos0, (uint32_t)nh, (uint32_t)hd, (uint32_t)vd, (uint32_t)a->idx_heads,
                (uint32_t)a->idx_dim, (uint32_t)a->topk, (uint32_t)v->max_ctx, scale, (uint32_t)nkv, ks, vs,
                a->parent ? (uint32_t)T : 0u};
        _Static_assert(sizeof pc <= VK_PUSH_BYTES, "DSA push constants");
        rl_vk_dispatch(v, VKP_DSA, &pc, sizeof pc, (uint32_t)n, 1, 1);
    }
}

typedef struct { uint64_t d, s; uint32_t rw, rows, ss, ds, mode; } copy_pc;

/* transfer-queue fallback for copies that are not 4-byte aligned */
static void copy_regions(vk_be *v, uint64_t d, size_t ds, uint64_t s, size_t ss, size_t rb, int rows) {
    VkDeviceSize doff, soff;
    vk_buf *db = rl_vk_find(v, d, ds * (size_t)(rows - 1) + rb, &doff);
    vk_buf *sb = rl_vk_find(v, s, ss * (size_t)(rows - 1) + rb, &soff);
    if (!db || !sb) { rl_vk_fail(v, "vulkan: copy outside the backend's arenas"); return; }
    for (int r = 0; r < rows; r++) {
        VkCommandBuffer cb = rl_vk_cmd(v);
        if (!cb) return;
        VkBufferCopy reg = {soff + ss * (size_t)r, doff + ds * (size_t)r, rb};
        vkCmdCopyBuffer(cb, sb->buf, db->buf, 1, &reg);
        rl_vk_barrier(v, cb);
    }
}

static void vk_zero(rl_backend *be, void *dst, size_t n) {
    vk_be *v = V(be);
    if (!n) return;
    if (A(dst) % 4 == 0 && n % 4 == 0 && n / 4 <= UINT32_MAX) {
        copy_pc pc = {A(dst), A(dst), (uint32_t)(n / 4), 1, 0, 0, 1};
        DISPATCH_N(v, VKP_COPY, pc, GROUPS(n / 4), 1);
        return;
    }
    for (size_t done = 0; done < n; done += 256) /* from the 256-byte zero buffer */
        copy_regions(v, A(dst) + done, 0, v->zeros.addr, 0, n - done < 256 ? n - done : 256, 1);
}

static void vk_copy2d(rl_backend *be, void *dst, size_t ds, const void *src, size_t ss, size_t rb, int rows) {
    vk_be *v = V(be);
    if (rows <= 0 || !rb || (dst == src && ds == ss)) return;
    if ((A(dst) | A(src) | ds | ss | rb) % 4 == 0 && (uint64_t)rb / 4 * (uint64_t)rows <= UINT32_MAX) {
        copy_pc pc = {A(dst), A(src), (uint32_t)(rb / 4), (uint32_t)rows, (uint32_t)(ss / 4), (uint32_t)(ds / 4), 0};
        DISPATCH_N(v, VKP_COPY, pc, GROUPS((uint64_t)rb / 4 * rows), 1);
        return;
    }
    copy_regions(v, A(dst), ds, A(src), ss, rb, rows);
}

typedef struct { uint64_t y, x; uint32_t n, op, has_x; float s; } ew_pc;
static void ew(rl_backend *be, float *y, const float *x, int64_t n, uint32_t op, float s) {
    vk_be *v = V(be);
    if (n <= 0) return;
    if (n > UINT32_MAX) { rl_vk_fail(v, "vulkan: elementwise op over %lld values is too large", (long long)n); return; }
    ew_pc pc = {A(y), x ? A(x) : A(y), (uint32_t)n, op, x != NULL, s};
    DISPATCH_N(v, VKP_EW, pc, GROUPS(n), 1);
}
static void vk_add(rl_backend *be, float *y, const float *x, int64_t n) { ew(be, y, x, n, 0, 0); }
static void vk_scale(rl_backend *be, float *y, float s, int64_t n) { ew(be, y, NULL, n, 1, s); }
static void vk_softcap(rl_backend *be, float *x, float c, int64_t n) { ew(be, x, NULL, n, 2, c); }
static void vk_clamp(rl_backend *be, float *x, float c, int64_t n) { ew(be, x, NULL, n, 10, c); }
static void vk_sigmoid_mul(rl_backend *be, float *y, const float *g, int64_t n) { ew(be, y, g, n, 3, 0); }
static void vk_act_mul(rl_backend *be, rl_act_kind k, float *g, const float *u, int64_t n) {
    ew(be, g, u, n, k == RL_ACT_SILU ? 4 : k == RL_ACT_GELU_TANH ? 5 : k == RL_ACT_GELU_ERF ? 6 : k == RL_ACT_RELU2 ? 8 : k == RL_ACT_IDENTITY ? 9 : 7, 0);
}

typedef struct { uint64_t o, x, g, w; uint32_t woff, dt, rb, T, rows, cols, mode, ld; } rows_pc;
static void vk_row_norm_div(rl_backend *be, float *out, int T, int rows, const void *w, rl_dtype dt, int cols) {
    vk_be *v = V(be);
    int code = dt_code(dt);
    if (code < 0) { rl_vk_fail(v, "vulkan: row_norm_div weights of dtype %s are not supported", RL_DTYPES[dt].st_name); return; }
    if (rows <= 0 || cols <= 0) return;
    size_t rb = rl_dtype_row_bytes(dt, cols);
    int per = (int)(((size_t)1 << 31) / (rb ? rb : 1));
    if (per < 1) { rl_vk_fail(v, "vulkan: row of %zu bytes is too large", rb); return; }
    for (int r0 = 0; r0 < rows; r0 += per) {
        int n = rows - r0 < per ? rows - r0 : per;
        uint64_t wa = A(w) + (uint64_t)r0 * rb;
        rows_pc pc = {A(out) + 4ull * r0, A(out), A(out), wa & ~3ull, (uint32_t)(wa & 3), (uint32_t)code, (uint32_t)rb,
                      (uint32_t)T, (uint32_t)n, (uint32_t)cols, 0, (uint32_t)rows};
        DISPATCH_N(v, VKP_ROWS, pc, (uint64_t)n, 1);
    }
}
static void vk_row_gate(rl_backend *be, float *out, const float *x, const float *g, int T, int n) {
    if (T <= 0 || n <= 0) return;
    rows_pc pc = {A(out), A(x), A(g), A(x), 0, 0, 0, (uint32_t)T, 0, (uint32_t)n, 1, 0};
    DISPATCH_N(V(be), VKP_ROWS, pc, (uint64_t)T, 1);
}
static void vk_scale_rows(rl_backend *be, float *y, const float *w, int T, int n) {
    if (T <= 0 || n <= 0) return;
    rows_pc pc = {A(y), A(y), A(w), A(y), 0, 0, 0, (uint32_t)T, 0, (uint32_t)n, 2, 0};
    DISPATCH_N(V(be), VKP_ROWS, pc, (uint64_t)T, 1);
}

static void vk_moe_route(rl_backend *be, float *logits, const float *bias, int T, const rl_route_params *p, int32_t *idx,
                         float *w) {
    vk_be *v = V(be);
    int G = p->n_group > 1 ? p->n_group : 1;
    if (T <= 0) return;
    if (p->n_experts <= 0 || p->n_experts > RL_MOE_MAX_EXPERTS || p->top_k < 1 || p->top_k > 64 || G > 64 ||
        p->n_experts % G || p->top_k > p->n_experts) {
        rl_vk_fail(v, "vulkan: MoE routing of %d experts, top %d, %d groups is not supported", p->n_experts, p->top_k, G);
        return;
    }
    struct {
        uint64_t lg, bias, idx, w;
        uint32_t T, E, K, sigm, G, topk_group, top2, norm, has_bias; float scale;
    } pc = {A(logits), bias ? A(bias) : A(logits), A(idx), A(w), (uint32_t)T, (uint32_t)p->n_experts, (uint32_t)p->top_k,
            p->sigmoid != 0, (uint32_t)G, (uint32_t)(p->topk_group > 0 ? p->topk_group : 0), p->group_top2 != 0,
            p->norm_topk != 0, bias != NULL, p->scale};
    DISPATCH_N(v, VKP_MOE_ROUTE, pc, GROUPS(T), 1);
}

typedef struct { uint64_t d, s, rows, w; uint32_t nr, n, mode; } gather_pc;
static void vk_gather_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, int nr, int n) {
    if (nr <= 0 || n <= 0) return;
    gather_pc pc = {A(dst), A(src), A(rows), A(src), (uint32_t)nr, (uint32_t)n, 0};
    DISPATCH_N(V(be), VKP_GATHER, pc, GROUPS((uint64_t)nr * n), 1);
}
static void vk_scatter_add_rows(rl_backend *be, float *dst, const float *src, const int32_t *rows, const float *w, int nr,
                                int n) {
    if (nr <= 0 || n <= 0) return;
    gather_pc pc = {A(dst), A(src), A(rows), A(w), (uint32_t)nr, (uint32_t)n, 1};
    DISPATCH_N(V(be), VKP_GATHER, pc, GROUPS(n), 1);
}

static void vk_dn_conv(rl_backend *be, float *out, const float *in, const float *w, const float *b, int T, int C, int K, int silu) {
    if (T <= 0 || C <= 0) return;
    struct { uint64_t o, x, w, b; uint32_t T, C, K, hb, silu; } pc = {A(out), A(in), A(w), b ? A(b) : A(w), (uint32_t)T, (uint32_t)C,
                                                                   (uint32_t)K, b != NULL, silu != 0};
    DISPATCH_N(V(be), VKP_DN_CONV, pc, GROUPS((uint64_t)T * C), 1);
}
static void vk_dn_recur(rl_backend *be, const rl_dn_dims *dd, float *state, const float *conv, const float *b,
                        const float *a, const float *z, const float *a_log, const float *dt_bias, const float *norm_w,
                        float *core, int T) {
    vk_be *v = V(be);
    if (T <= 0) return;
    if (dd->k_dim > MAX_DN_HD || dd->v_dim > MAX_DN_HD || dd->k_heads <= 0 || dd->v_heads % dd->k_heads) {
        rl_vk_fail(v, "vulkan: Gated DeltaNet head dims %d / %d are not supported", dd->k_dim, dd->v_dim);
        return;
    }
    struct {
        uint64_t S, conv, b, a, z, alog, dtb, nw, core;
        uint32_t nk, nv, dk, dv, T; float eps; uint32_t vt, ad;
    } pc = {A(state), A(conv), A(b), A(a), A(z), A(a_log), A(dt_bias), A(norm_w), A(core), (uint32_t)dd->k_heads,
            (uint32_t)dd->v_heads, (uint32_t)dd->k_dim, (uint32_t)dd->v_dim, (uint32_t)T, dd->norm_eps, (uint32_t)dd->v_tiled,
            (uint32_t)dd->a_direct};
    rl_vk_dispatch(v, VKP_DN_RECUR, &pc, sizeof pc, (uint32_t)dd->v_heads, 1, 1);
}
static void vk_ssm_scan(rl_backend *be, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw,
                        const float *a_log, const float *dt_bias, const float *d_skip, float *y, int T) {
    vk_be *v = V(be);
    if (T <= 0 || sd->heads <= 0) return;
    if (sd->d_state > MAX_DN_HD || sd->groups <= 0 || sd->heads % sd->groups) {
        rl_vk_fail(v, "vulkan: Mamba-2 state size %d / %d groups of %d heads is not supported", sd->d_state, sd->groups, sd->heads);
        return;
    }
    struct {
        uint64_t S, xbc, dt, alog, dtb, ds, y;
        uint32_t G, NH, N, HP, T; float dtmin, dtmax; uint32_t ad, as;
    } pc = {A(state), A(xbc), A(dt_raw), A(a_log), A(dt_bias), A(d_skip), A(y), (uint32_t)sd->groups, (uint32_t)sd->heads,
            (uint32_t)sd->d_state, (uint32_t)sd->head_dim, (uint32_t)T, sd->dt_min, sd->dt_max, (uint32_t)sd->a_direct,
            (uint32_t)sd->a_state};
    rl_vk_dispatch(v, VKP_SSM_SCAN, &pc, sizeof pc, (uint32_t)sd->heads, 1, 1);
}

static void vk_close(rl_backend *be);

static const rl_backend_ops vk_ops = {
    .name = "vulkan", .host_shared = 0, .close = vk_close,
    .describe = vk_describe, .supports = vk_supports,
    .arena_new = rl_vk_arena_new, .arena_free = rl_vk_arena_free, .mem_info = rl_vk_mem_info,
    .host_alloc = rl_vk_host_alloc, .host_free = rl_vk_host_free, .host_invalidate = rl_vk_host_invalidate,
    .upload = rl_vk_upload, .download = rl_vk_download, .fence = vk_fence, .wait = vk_wait, .status = vk_status,
    .scratch_bytes = vk_scratch_bytes, .set_scratch = vk_set_scratch,
    .matmul = vk_matmul, .convert = vk_convert, .rmsnorm = vk_rmsnorm, .layernorm = vk_layernorm,
    .rope = vk_rope, .attention = vk_attention, .matmul_t = vk_matmul_t,
    .kv_store = vk_kv_store, .attention_kv = vk_attention_kv, .attention_tree = vk_attention_tree, .dsa_attention = vk_dsa, .zero = vk_zero, .copy2d = vk_copy2d,
    .add = vk_add, .scale = vk_scale, .softcap = vk_softcap, .clamp = vk_clamp, .sigmoid_mul = vk_sigmoid_mul,
    .act_mul = vk_act_mul, .row_norm_div = vk_row_norm_div, .row_gate = vk_row_gate, .scale_rows = vk_scale_rows,
    .moe_route = vk_moe_route, .gather_rows = vk_gather_rows, .scatter_add_rows = vk_scatter_add_rows,
    .dn_conv = vk_dn_conv, .dn_recur = vk_dn_recur, .ssm_scan = vk_ssm_scan,
    .upload_async = rl_vk_upload_async, .upload_join = rl_vk_upload_join,
};

rl_backend *rl_backend_vulkan_open(int n_threads) {
    (void)n_threads;
    vk_dev *d = rl_vk_device();
    if (!d) return NULL;
    rl_backend *be = calloc(1, sizeof *be);
    vk_be *v = calloc(1, sizeof *v);
    if (!be || !v) { free(be); free(v); rl_err("out of memory"); return NULL; }
    be->ops = &vk_ops;
    be->impl = v;
    be->soft = d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU; /* lavapipe and the like */
    v->d = d;
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = d->qfam};
    VkSemaphoreTypeCreateInfo sti = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                     .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE, .initialValue = 0};
    VkSemaphoreCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &sti};
    if (vkCreateCommandPool(d->dev, &pci, NULL, &v->pool) != VK_SUCCESS ||
        vkCreateSemaphore(d->dev, &sci, NULL, &v->tl) != VK_SUCCESS) {
        rl_err("vulkan: cannot create a command pool / timeline semaphore");
        vk_close(be);
        return NULL;
    }
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = v->pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = VK_NCB};
    /* upload_async's command buffers and timeline (on the transfer queue's family) */
    VkCommandPoolCreateInfo tci = pci;
    tci.queueFamilyIndex = d->tqfam;
    VkCommandBufferAllocateInfo tai = cai;
    if (vkCreateCommandPool(d->dev, &tci, NULL, &v->tpool) != VK_SUCCESS || (tai.commandPool = v->tpool,
        vkAllocateCommandBuffers(d->dev, &tai, v->tcb) != VK_SUCCESS) || vkCreateSemaphore(d->dev, &sci, NULL, &v->ttl) != VK_SUCCESS) {
        rl_err("vulkan: cannot create the transfer command buffers / timeline semaphore");
        vk_close(be);
        return NULL;
    }
    if (vkAllocateCommandBuffers(d->dev, &cai, v->cb) != VK_SUCCESS) {
        rl_err("vulkan: cannot allocate command buffers");
        vk_close(be);
        return NULL;
    }
    if (rl_vk_buf_new(d, &v->up, VK_STAGE_BYTES, 1) || rl_vk_buf_new(d, &v->down, VK_STAGE_BYTES, 1) ||
        rl_vk_buf_new(d, &v->zeros, 256, 0)) {
        vk_close(be);
        return NULL;
    }
    /* the zero buffer joins the arenas so copies find it */
    vk_buf z = v->zeros;
    v->arenas = malloc(8 * sizeof *v->arenas);
    if (!v->arenas) { rl_err("out of memory"); vk_close(be); return NULL; }
    v->cap_arenas = 8;
    v->arenas[v->n_arenas++] = z;
    memset(&v->zeros, 0, sizeof v->zeros);
    v->zeros.addr = z.addr;
    VkCommandBuffer cb = rl_vk_cmd(v);
    if (cb) { vkCmdFillBuffer(cb, z.buf, 0, 256, 0); rl_vk_barrier(v, cb); }
    if (rl_vk_wait(v, rl_vk_flush(v))) { vk_close(be); return NULL; }
    return be;
}

static void vk_close(rl_backend *be) {
    if (!be) return;
    vk_be *v = be->impl;
    if (v) {
        vk_dev *d = v->d;
        if (v->tl) {
            if (v->failed || rl_vk_wait(v, rl_vk_flush(v))) {
                pthread_mutex_lock(&d->qlock);
                vkQueueWaitIdle(d->queue);
                pthread_mutex_unlock(&d->qlock);
            }
        }
        if (v->ttl && rl_vk_wait_transfers(v) && d->tqueue != d->queue) {
            pthread_mutex_lock(&d->tqlock);
            vkQueueWaitIdle(d->tqueue);
            pthread_mutex_unlock(&d->tqlock);
        }
        for (int i = 0; i < v->n_arenas; i++) rl_vk_buf_free(d, &v->arenas[i]);
        for (int i = 0; i < v->n_hosts; i++) rl_vk_buf_free(d, &v->hosts[i]);
        rl_vk_buf_free(d, &v->up);
        rl_vk_buf_free(d, &v->down);
        free(v->arenas);
        free(v->hosts);
        if (v->pool) vkDestroyCommandPool(d->dev, v->pool, NULL);
        if (v->tl) vkDestroySemaphore(d->dev, v->tl, NULL);
        if (v->tpool) vkDestroyCommandPool(d->dev, v->tpool, NULL);
        if (v->ttl) vkDestroySemaphore(d->dev, v->ttl, NULL);
        free(v);
    }
    free(be);
}
