/* "cpu-staged": the CPU kernels behind device-style memory, for testing the engine's device
 * paths without a GPU. host_shared is 0, so every layer image, expert batch, embedding row and
 * logits row crosses upload / download exactly as it would for a GPU backend; and the arena's
 * addresses handed out are not host addresses (the real address with bit 62 flipped: a
 * non-canonical x86-64 address), so any read or write the engine made through a device pointer
 * would fault at once. Each op turns its pointer arguments back before calling the CPU op. */
#include "backend/backend.h"
#include "util/err.h"
#include "util/memlimit.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TAG ((uintptr_t)1 << 62)

static void *R(const void *p) { return p ? (void *)((uintptr_t)p ^ TAG) : NULL; }
#define RF(p) ((float *)R(p))

static rl_backend_ops staged_ops;

static const char *st_describe(rl_backend *be) { (void)be; return "cpu-staged (CPU kernels, device-style memory; testing only)"; }
static void *st_arena_new(rl_backend *be, size_t n) {
    void *p = rl_cpu_ops.arena_new(be, n);
    return p ? R(p) : NULL;
}
static void st_arena_free(rl_backend *be, void *a, size_t n) { rl_cpu_ops.arena_free(be, R(a), n); }
/* Its "device" is host memory: what the process may still use (MemAvailable, cgroup limit). */
static int st_mem_info(rl_backend *be, size_t *free_b, size_t *total_b) {
    (void)be;
    rl_memlimit ml;
    rl_memlimit_probe(&ml);
    if (!ml.avail) return rl_err("cpu-staged: cannot tell the available memory (no MemAvailable, no cgroup limit)");
    *free_b = *total_b = (size_t)ml.avail;
    return 0;
}
static int st_upload(rl_backend *be, void *dst, const void *src, size_t n) { (void)be; memcpy(R(dst), src, n); return 0; }
static int st_download(rl_backend *be, void *dst, const void *src, size_t n) { (void)be; memcpy(dst, R(src), n); return 0; }
/* upload_async: the copy is deferred to upload_join, so an engine that used the bytes before
 * joining (or let the host bytes change first) reads stale data in the tests. */
#define MAX_PENDING 8
static struct { rl_backend *be; uint64_t ticket; void *dst; const void *src; size_t n; } pending[MAX_PENDING];
static uint64_t last_ticket;
static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;
static int st_upload_async(rl_backend *be, void *dst, const void *src, size_t n, uint64_t *ticket) {
    pthread_mutex_lock(&pend_lock);
    *ticket = 0;
    for (int i = 0; i < MAX_PENDING && !*ticket; i++)
        if (!pending[i].be) {
            *ticket = ++last_ticket;
            pending[i].be = be; pending[i].ticket = *ticket; pending[i].dst = R(dst); pending[i].src = src; pending[i].n = n;
        }
    pthread_mutex_unlock(&pend_lock);
    if (!*ticket) memcpy(R(dst), src, n); /* table full: an ordered copy */
    return 0;
}
static int st_upload_join(rl_backend *be, uint64_t ticket) {
    pthread_mutex_lock(&pend_lock);
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i].be == be && pending[i].ticket <= ticket) {
            memcpy(pending[i].dst, pending[i].src, pending[i].n);
            pending[i].be = NULL;
        }
    pthread_mutex_unlock(&pend_lock);
    return 0;
}
/* host_register: counted only (the tests check the engine unregisters what it registered) */
static long n_registered;
static int st_host_register(rl_backend *be, void *p, size_t n) {
    (void)be;
    if (!p || !n) return -1;
    __atomic_add_fetch(&n_registered, 1, __ATOMIC_RELAXED);
    return 0;
}
static void st_host_unregister(rl_backend *be, void *p) {
    (void)be;
    if (p) __atomic_sub_fetch(&n_registered, 1, __ATOMIC_RELAXED);
}
long rl_backend_staged_registered(void) { return __atomic_load_n(&n_registered, __ATOMIC_RELAXED); }

static void st_close(rl_backend *be) {
    pthread_mutex_lock(&pend_lock);
    for (int i = 0; i < MAX_PENDING; i++) if (pending[i].be == be) pending[i].be = NULL;
    pthread_mutex_unlock(&pend_lock);
    rl_cpu_ops.close(be);
}
static void st_set_scratch(rl_backend *be, void *s, int c, int t, int in) { rl_cpu_ops.set_scratch(be, R(s), c, t, in); }

static void st_matmul(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, const float *b, int T, int in, int out) {
    if (rl_dtype_is_composite(dt)) { /* a host descriptor of device pointers (backend.h) */
        rl_qweight q = *(const rl_qweight *)w;
        q.data = R(q.data); q.scales = R(q.scales); q.zeros = R(q.zeros); q.g_idx = R(q.g_idx); q.map2 = R(q.map2);
        rl_cpu_ops.matmul(be, RF(y), RF(x), &q, dt, RF(b), T, in, out);
        return;
    }
    rl_cpu_ops.matmul(be, RF(y), RF(x), R(w), dt, RF(b), T, in, out);
}
static void st_matmul_t(rl_backend *be, float *y, const float *x, const void *w, rl_dtype dt, int T, int in, int out) {
    rl_cpu_ops.matmul_t(be, RF(y), RF(x), R(w), dt, T, in, out);
}
static void st_convert(rl_backend *be, float *d, const void *s, rl_dtype dt, int64_t n) { rl_cpu_ops.convert(be, RF(d), R(s), dt, n); }
static void st_rmsnorm(rl_backend *be, float *o, const float *x, const float *w, int T, int n, float e, int op) {
    rl_cpu_ops.rmsnorm(be, RF(o), RF(x), RF(w), T, n, e, op);
}
static void st_layernorm(rl_backend *be, float *o, const float *x, const float *w, const float *b, int T, int n, float e) {
    rl_cpu_ops.layernorm(be, RF(o), RF(x), RF(w), RF(b), T, n, e);
}
static void st_rope(rl_backend *be, const rl_rope *r, float *x, int T, int nh, int hd, const float *c, const float *s) {
    rl_cpu_ops.rope(be, r, RF(x), T, nh, hd, RF(c), RF(s));
}
static void st_attention(rl_backend *be, float *o, const float *q, const float *k, const float *v, int T, int p0, int nh,
                         int nkv, int hd, int vd, float sc, float cap, int win) {
    rl_cpu_ops.attention(be, RF(o), RF(q), RF(k), RF(v), T, p0, nh, nkv, hd, vd, sc, cap, win);
}
static void st_dsa(rl_backend *be, float *o, const float *q, const float *k, const float *v, int T, int p0, int nh, int hd,
                   int vd, float sc, const rl_dsa_args *a) {
    rl_dsa_args b = *a;
    b.iq = RF(a->iq); b.iw = RF(a->iw); b.ik = RF(a->ik);
    if (a->parent) b.parent = (const int32_t *)R(a->parent);
    rl_cpu_ops.dsa_attention(be, RF(o), RF(q), RF(k), RF(v), T, p0, nh, hd, vd, sc, &b);
}
static void st_kv_store(rl_backend *be, const rl_kv_view *kv, int p0, const float *k, const float *v, int n) {
    rl_kv_view r = *kv;
    r.k = R(kv->k); r.v = R(kv->v); r.sinks = RF(kv->sinks);
    rl_cpu_ops.kv_store(be, &r, p0, RF(k), RF(v), n);
}
static void st_attention_kv(rl_backend *be, float *o, const float *q, const rl_kv_view *kv, int T, int p0, int nh, int nkv,
                            int hd, int vd, float sc, float cap, int win) {
    rl_kv_view r = *kv;
    r.k = R(kv->k); r.v = R(kv->v); r.sinks = RF(kv->sinks);
    rl_cpu_ops.attention_kv(be, RF(o), RF(q), &r, T, p0, nh, nkv, hd, vd, sc, cap, win);
}
static void st_attention_tree(rl_backend *be, float *o, const float *q, const rl_kv_view *kv, const int32_t *par, int T,
                              int p0, int nh, int nkv, int hd, int vd, float sc, float cap, int win) {
    rl_kv_view r = *kv;
    r.k = R(kv->k); r.v = R(kv->v); r.sinks = RF(kv->sinks);
    rl_cpu_ops.attention_tree(be, RF(o), RF(q), &r, (const int32_t *)R(par), T, p0, nh, nkv, hd, vd, sc, cap, win);
}
static void st_zero(rl_backend *be, void *d, size_t n) { rl_cpu_ops.zero(be, R(d), n); }
static void st_copy2d(rl_backend *be, void *d, size_t ds, const void *s, size_t ss, size_t rb, int rows) {
    rl_cpu_ops.copy2d(be, R(d), ds, R(s), ss, rb, rows);
}
static void st_add(rl_backend *be, float *y, const float *x, int64_t n) { rl_cpu_ops.add(be, RF(y), RF(x), n); }
static void st_scale(rl_backend *be, float *y, float s, int64_t n) { rl_cpu_ops.scale(be, RF(y), s, n); }
static void st_softcap(rl_backend *be, float *x, float c, int64_t n) { rl_cpu_ops.softcap(be, RF(x), c, n); }
static void st_clamp(rl_backend *be, float *x, float c, int64_t n) { rl_cpu_ops.clamp(be, RF(x), c, n); }
static void st_sigmoid_mul(rl_backend *be, float *y, const float *g, int64_t n) { rl_cpu_ops.sigmoid_mul(be, RF(y), RF(g), n); }
static void st_act_mul(rl_backend *be, rl_act_kind k, float *g, const float *u, int64_t n) { rl_cpu_ops.act_mul(be, k, RF(g), RF(u), n); }
static void st_row_norm_div(rl_backend *be, float *o, int T, int rows, const void *w, rl_dtype dt, int cols) {
    rl_cpu_ops.row_norm_div(be, RF(o), T, rows, R(w), dt, cols);
}
static void st_row_gate(rl_backend *be, float *o, const float *x, const float *g, int T, int n) {
    rl_cpu_ops.row_gate(be, RF(o), RF(x), RF(g), T, n);
}
static void st_scale_rows(rl_backend *be, float *y, const float *w, int T, int n) {
    rl_cpu_ops.scale_rows(be, RF(y), RF(w), T, n);
}
static void st_moe_route(rl_backend *be, float *l, const float *b, int T, const rl_route_params *p, int32_t *idx, float *w) {
    rl_cpu_ops.moe_route(be, RF(l), RF(b), T, p, (int32_t *)R(idx), RF(w));
}
static void st_gather(rl_backend *be, float *d, const float *s, const int32_t *rows, int nr, int n) {
    rl_cpu_ops.gather_rows(be, RF(d), RF(s), (const int32_t *)R(rows), nr, n);
}
static void st_scatter(rl_backend *be, float *d, const float *s, const int32_t *rows, const float *w, int nr, int n) {
    rl_cpu_ops.scatter_add_rows(be, RF(d), RF(s), (const int32_t *)R(rows), RF(w), nr, n);
}
static void st_dn_conv(rl_backend *be, float *o, const float *in, const float *w, const float *b, int T, int C, int K, int silu) {
    rl_cpu_ops.dn_conv(be, RF(o), RF(in), RF(w), RF(b), T, C, K, silu);
}
static void st_dn_recur(rl_backend *be, const rl_dn_dims *dd, float *st, const float *cv, const float *b, const float *a,
                        const float *z, const float *al, const float *dt, const float *nw, float *core, int T) {
    rl_cpu_ops.dn_recur(be, dd, RF(st), RF(cv), RF(b), RF(a), RF(z), RF(al), RF(dt), RF(nw), RF(core), T);
}
static void st_ssm_scan(rl_backend *be, const rl_ssm_dims *sd, float *st, const float *xbc, const float *dt, const float *al,
                        const float *dtb, const float *ds, float *y, int T) {
    rl_cpu_ops.ssm_scan(be, sd, RF(st), RF(xbc), RF(dt), RF(al), RF(dtb), RF(ds), RF(y), T);
}

/* The ops table, filled once (models open and close backends from several threads: a table
 * rewritten at each open would race with the loader threads of a model already open). */
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;
static void init_ops(void) {
    staged_ops = rl_cpu_ops;
    staged_ops.name = "cpu-staged";
    staged_ops.host_shared = 0;
    staged_ops.describe = st_describe;
    staged_ops.arena_new = st_arena_new; staged_ops.arena_free = st_arena_free; staged_ops.mem_info = st_mem_info;
    staged_ops.close = st_close;
    staged_ops.upload_async = st_upload_async; staged_ops.upload_join = st_upload_join;
    staged_ops.host_register = st_host_register; staged_ops.host_unregister = st_host_unregister;
    staged_ops.upload = st_upload; staged_ops.download = st_download; staged_ops.set_scratch = st_set_scratch;
    staged_ops.matmul = st_matmul; staged_ops.matmul_t = st_matmul_t; staged_ops.convert = st_convert; staged_ops.rmsnorm = st_rmsnorm;
    staged_ops.layernorm = st_layernorm; staged_ops.rope = st_rope; staged_ops.attention = st_attention;
    staged_ops.dsa_attention = st_dsa; staged_ops.kv_store = st_kv_store; staged_ops.attention_kv = st_attention_kv; staged_ops.attention_tree = st_attention_tree; staged_ops.zero = st_zero; staged_ops.copy2d = st_copy2d;
    staged_ops.add = st_add; staged_ops.scale = st_scale; staged_ops.softcap = st_softcap; staged_ops.clamp = st_clamp;
    staged_ops.sigmoid_mul = st_sigmoid_mul; staged_ops.act_mul = st_act_mul; staged_ops.row_norm_div = st_row_norm_div;
    staged_ops.row_gate = st_row_gate; staged_ops.scale_rows = st_scale_rows; staged_ops.moe_route = st_moe_route; staged_ops.gather_rows = st_gather;
    staged_ops.scatter_add_rows = st_scatter; staged_ops.dn_conv = st_dn_conv; staged_ops.dn_recur = st_dn_recur;
    staged_ops.ssm_scan = st_ssm_scan;
}

rl_backend *rl_backend_staged_open(int n_threads) {
    rl_backend *be = rl_backend_cpu_open(n_threads);
    if (!be) return NULL;
    pthread_once(&ops_once, init_ops);
    be->ops = &staged_ops;
    return be;
}
