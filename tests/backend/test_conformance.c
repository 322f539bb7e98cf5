/* Backend conformance suite: every op of rl_backend_ops (backend.h) on every backend this build
 * has ("cpu", "cpu-staged", "cuda", "vulkan" and whatever rl_backend_available() lists; the ones
 * that do not open are named and skipped), on
 * random inputs with odd sizes, compared with (a) a plain scalar reference written here (double
 * accumulation) and (b) for backends other than cpu, the cpu backend's result on the same
 * inputs. Device memory is touched only through upload / download (a backend's device pointers
 * are never dereferenced here), carved from one arena_new per backend after scratch_bytes /
 * set_scratch. A new backend joins by being accepted by rl_backend_open (see docs/BACKENDS.md).
 *
 * Error measure: err = |got - ref| / mag, mag = 1 + |ref| unless stated; the max per op is
 * printed for each backend. Tolerances (the same for "vs reference" and "vs cpu"):
 *   op                 tol    why
 *   upload/download    0      bytes move; odd offsets and sizes
 *   zero, copy2d,      0      data movement
 *   gather_rows
 *   convert            0      f16/bf16 -> f32 are exact; Q8_0 / Q4_1 d*q is exact in f32 (11 x 8
 *                             bits), so d*q + m has exactly one rounding, fused or not
 *   add, scale         0      one IEEE rounding each, the reference rounds the same way
 *   moe_route idx      exact  chosen experts as a set (the contract names no order); the test
 *                             data has no near-ties (gap >= 1e-4) so rounding cannot flip a choice
 *   matmul             1e-5   mag = |bias| + sum_i |x_i| (|w_i| or, for Q4_1, |d q_i| + |m|): f32
 *                             accumulation in any order (error <= ~sqrt(in) 2^-24 of mag); Q4_1
 *                             kernels may add m * sum(x) separately, hence |m| in mag. With Q8_0 /
 *                             Q4_1 weights a call may instead quantise x per block of 32 to int8
 *                             (the cpu does for T < 4, see quant_act): then it must match that
 *                             reference (b + sum xq d q + x m) to 1e-5 of its own magnitude;
 *                             reported as matmul/DT/i8act
 *   matmul.mixed       1      only vs cpu when one of the two used int8 activations and the other
 *                             f32: |difference| / (sum_i (d_x/2) |d q_i| + 1e-5 (both mags)): the exact
 *                             bound of the activation rounding
 *   rmsnorm, layernorm 1e-5   f32 rows scaled by a double-summed norm, ~3 roundings
 *   rope               1e-6   a c - b s in f32 with the same (input) tables: 2-3 roundings
 *   softcap,           1e-6   one transcendental (tanhf / expf / erff, <= 2 ulp) and 2-4
 *   sigmoid_mul,              roundings; mag = 1 + |ref| makes it absolute where the result is
 *   act_mul                   tiny (gelu_tanh at x << 0 cancels in 1 + tanh)
 *   row_norm_div       1e-6   the norm is one double sum; then a division / multiply in f32
 *   row_gate           1e-5   f32 dot product of n (accumulation order) through a sigmoid
 *   scale_rows         1e-6   one f32 multiply per value
 *   clamp              0      a comparison: exact
 *   moe_route w/scores 1e-5   softmax with expf and a double sum; renormalise, scale
 *   scatter_add_rows   1e-6   mag = 1 + |dst| + sum |w src|: one multiply-add per row
 *   attention, dsa     1e-5   f32 dots of head_dim, expf, f32 weighted sum of v rows
 *   matmul_t           1e-5   as matmul (f32 products of exactly decoded weights, f32 sums)
 *   attention_kv       1e-5   the same, against the reference on the cache's own rounding of
 *                             keys / values (f16, bf16, q8_0 round trip on the host), ring or not
 *   kv_store           0      the cache's bytes exactly as the host's conversion / quantizer writes
 *                             them (odd row sizes, a wrapping ring, untouched rows kept)
 *   attention_tree     1e-5   as attention_kv, each tree node over the prefix and its ancestors
 *   dn_conv            1e-5   f32 sum of conv_k products (+ bias), SiLU (or none)
 *   dn_recur           1e-5   f32 recurrence (decay < 1, l2-normalised q / k keep it contractive)
 *                             over up to 8 tokens, gated RMSNorm; also two calls (state carried)
 *                             against one call over the concatenation, same tolerance
 *   ssm_scan           1e-5   Mamba-2: f32 state update (exp(dt A) < 1 keeps it contractive) and
 *                             d_state-long f32 dots over up to 8 tokens, dt clamped or not; mag =
 *                             1 + |D x| + sum_n |S_n C_n|; also split in two calls as dn_recur */
#include "test.h"
#include "backend/backend.h"
#include "model/rope.h"
#include "quant/quantize.h"
#include "util/err.h"
#include <math.h>
#include <stdint.h>

/* ---------- random numbers, host scratch ---------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}
static int irand(int n) { frand(); return (int)((rng >> 33) % (uint64_t)n); }

#define MAX_HOST 4096
static void *host_blocks[MAX_HOST];
static int n_host;
/* Host memory freed at the end of each test (hfree_all). */
static void *H(size_t bytes) {
    if (n_host == MAX_HOST) { fprintf(stderr, "test_conformance: too many host blocks\n"); exit(1); }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) { fprintf(stderr, "test_conformance: out of memory\n"); exit(1); }
    return host_blocks[n_host++] = p;
}
static float *Hf(size_t n) { return H(n * sizeof(float)); }
static double *Hd(size_t n) { return H(n * sizeof(double)); }
static void hfree_all(void) { while (n_host) free(host_blocks[--n_host]); }
static float *rand_f(size_t n, float amp) { float *p = Hf(n); for (size_t i = 0; i < n; i++) p[i] = amp * frand(); return p; }

/* ---------- a backend under test: its arena, carved here ---------- */

typedef struct {
    const char *name;
    rl_backend *be;
    const rl_backend_ops *o;
    char *arena;             /* device pointer: offsets only, never dereferenced */
    size_t cap, used;
} dev;

#define ARENA_BYTES ((size_t)48 << 20)
#define MAX_CTX 128
#define MAX_T 80
#define MAX_IN 8192 /* widest matmul input row the tests use */

static dev *D, *C; /* the backend under test; the cpu backend (NULL when D is the cpu) */

static void *dalloc(dev *d, size_t n) {
    size_t off = (d->used + 63) & ~(size_t)63;
    if (off + n > d->cap) { fprintf(stderr, "test_conformance: arena too small\n"); exit(1); }
    d->used = off + n;
    return d->arena + off;
}
static void *up(dev *d, const void *h, size_t n) {
    void *p = dalloc(d, n);
    CHECK(d->o->upload(d->be, p, h, n) == 0, "%s upload: %s", d->name, rl_errmsg());
    return p;
}
static float *upf(dev *d, const float *h, size_t n) { return h ? up(d, h, n * sizeof(float)) : NULL; }
/* An output buffer of n floats, filled with NaN so that unwritten elements show. */
static float *dout(dev *d, size_t n) {
    float *h = Hf(n);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    return upf(d, h, n);
}
static void down(dev *d, void *h, const void *p, size_t n) {
    CHECK(d->o->download(d->be, h, p, n) == 0, "%s download: %s", d->name, rl_errmsg());
    CHECK(d->o->wait(d->be, d->o->fence(d->be)) == 0, "%s wait: %s", d->name, rl_errmsg());
}

/* ---------- error statistics and comparison ---------- */

typedef struct { const char *op; double tol; } tol_row;
static const tol_row TOLS[] = {
    {"updown", 0}, {"zero", 0}, {"copy2d", 0}, {"gather_rows", 0}, {"convert", 0}, {"add", 0}, {"scale", 0},
    {"moe_route.idx", 0}, {"matmul", 1e-5}, {"matmul.mixed", 1}, {"rmsnorm", 1e-5}, {"layernorm", 1e-5}, {"rope", 1e-6},
    {"softcap", 1e-6}, {"clamp", 0}, {"sigmoid_mul", 1e-6}, {"act_mul", 1e-6}, {"row_norm_div", 1e-6}, {"row_gate", 1e-5}, {"scale_rows", 1e-6},
    {"moe_route.w", 1e-5}, {"moe_route.scores", 1e-5}, {"scatter_add_rows", 1e-6}, {"attention", 1e-5}, {"attention_kv", 1e-5}, {"matmul_t", 1e-5},
    {"kv_store", 0}, {"attention_tree", 1e-5},
    {"dsa_attention", 1e-5}, {"dn_conv", 1e-5}, {"dn_recur", 1e-5}, {"ssm_scan", 1e-5},
};

typedef struct { char op[32]; double tol, ref_max, cpu_max; long n; } op_stat;
static op_stat STATS[64];
static int n_stats;

static double tol_of(const char *op) {
    for (size_t i = 0; i < sizeof TOLS / sizeof TOLS[0]; i++) {
        size_t l = strlen(TOLS[i].op);
        if (!strncmp(op, TOLS[i].op, l) && (op[l] == 0 || op[l] == '/')) return TOLS[i].tol;
    }
    fprintf(stderr, "test_conformance: no tolerance for %s\n", op);
    exit(1);
}
static op_stat *stat_of(const char *op) {
    for (int i = 0; i < n_stats; i++) if (!strcmp(STATS[i].op, op)) return &STATS[i];
    if (n_stats == 64) { fprintf(stderr, "test_conformance: too many ops\n"); exit(1); }
    op_stat *s = &STATS[n_stats++];
    snprintf(s->op, sizeof s->op, "%s", op);
    s->tol = tol_of(op);
    s->ref_max = s->cpu_max = 0;
    return s;
}

/* max_i |got[i] - ref[i]| / mag[i] (mag NULL: 1 + |ref[i]|), its index in *wi; NaN counts as inf. */
static double max_err(const float *got, const double *ref, const double *mag, size_t n, size_t *wi) {
    double worst = 0;
    *wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (mag ? mag[i] : 1 + fabs(ref[i]));
        if (isnan(e)) e = INFINITY;
        if (e > worst) { worst = e; *wi = i; }
    }
    return worst;
}
/* Records an error of D's result (vs the reference, or vs_cpu) and checks it against the op's tolerance. */
static void judge(const char *op, const char *what, int vs_cpu, double worst, size_t wi, double got, double want) {
    op_stat *s = stat_of(op);
    double *mx = vs_cpu ? &s->cpu_max : &s->ref_max;
    if (worst > *mx) *mx = worst;
    if (!(worst <= s->tol))
        CHECK(0, "%s %s (%s) vs %s: err %.3g > tol %.3g at [%zu]: got %.9g want %.9g", D->name, op, what,
              vs_cpu ? "cpu" : "reference", worst, s->tol, wi, got, want);
}
/* Compares D's result with the reference and, when cpu is not NULL, with the cpu backend's
 * (same magnitudes: mag[i], or 1 + |ref[i]|). */
static void cmp(const char *op, const char *what, const float *got, const float *cpu, const double *ref,
                const double *mag, size_t n) {
    size_t wi;
    double e = max_err(got, ref, mag, n, &wi);
    judge(op, what, 0, e, wi, got[wi], ref[wi]);
    stat_of(op)->n += (long)n;
    if (!cpu) return;
    double *md = Hd(n), *cd = Hd(n);
    for (size_t i = 0; i < n; i++) { md[i] = mag ? mag[i] : 1 + fabs(ref[i]); cd[i] = cpu[i]; }
    e = max_err(got, cd, md, n, &wi);
    judge(op, what, 1, e, wi, got[wi], cd[wi]);
}
/* Exact byte comparison (also counted as an op with err 0 or inf). */
static void cmp_bytes(const char *op, const char *what, const void *got, const void *want, size_t n) {
    op_stat *s = stat_of(op);
    s->n += (long)n;
    if (memcmp(got, want, n)) {
        s->ref_max = INFINITY;
        size_t i = 0;
        while (((const uint8_t *)got)[i] == ((const uint8_t *)want)[i]) i++;
        CHECK(0, "%s %s (%s): byte %zu of %zu differs", D->name, op, what, i, n);
    }
}
static double *to_d(const float *f, size_t n) { double *d = Hd(n); for (size_t i = 0; i < n; i++) d[i] = f[i]; return d; }

/* ---------- weights: the project's quantizer, an independent decoder (dtype.h) ---------- */

static const rl_dtype WDT[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0, RL_DT_Q4_1};
static const char *dt_name(rl_dtype t) { return RL_DTYPES[t].st_name; }

static double half_to_d(const uint8_t *p) {
    unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, (int)e - 25);
    return h & 0x8000 ? -v : v;
}
/* Item i of a row of dtype t: value, and (Q4_1) its parts |d q| + |m| for the error magnitude. */
static double w_item(rl_dtype t, const uint8_t *row, int i, double *absparts) {
    double v;
    const uint8_t *b = row + (size_t)(i / RL_DTYPES[t].block) * RL_DTYPES[t].block_bytes;
    int j = i % RL_DTYPES[t].block;
    switch (t) {
    case RL_DT_F32: { float f; memcpy(&f, row + 4 * (size_t)i, 4); v = f; break; }
    case RL_DT_F16: v = half_to_d(row + 2 * (size_t)i); break;
    case RL_DT_BF16: { uint32_t u = (uint32_t)(row[2 * i] | row[2 * i + 1] << 8) << 16; float f; memcpy(&f, &u, 4); v = f; break; }
    case RL_DT_Q8_0: v = half_to_d(b) * (int8_t)b[2 + j]; break;
    case RL_DT_Q4_1: {
        int q = j < 16 ? b[4 + j] & 15 : b[4 + j - 16] >> 4;
        double d = half_to_d(b), m = half_to_d(b + 2);
        if (absparts) *absparts = fabs(d * q) + fabs(m);
        return d * q + m;
    }
    default: v = NAN;
    }
    if (absparts) *absparts = fabs(v);
    return v;
}
/* rows x cols random weights of dtype t (rows of different scale, some offset). */
static uint8_t *make_w(rl_dtype t, int rows, int cols) {
    size_t rb = rl_dtype_row_bytes(t, cols);
    uint8_t *w = H(rb * (size_t)rows);
    float *src = Hf((size_t)cols);
    for (int r = 0; r < rows; r++) {
        float sc = 0.05f + 0.3f * (float)(r % 5);
        for (int i = 0; i < cols; i++) src[i] = sc * frand() + (r % 3 == 1 ? 0.5f * sc : 0.0f);
        uint8_t *row = w + (size_t)r * rb;
        if (t == RL_DT_F32) memcpy(row, src, (size_t)cols * 4);
        else if (t == RL_DT_F16) for (int i = 0; i < cols; i++) { uint16_t h = rl_f32_to_f16(src[i]); memcpy(row + 2 * i, &h, 2); }
        else if (t == RL_DT_BF16) for (int i = 0; i < cols; i++) { uint16_t h = rl_f32_to_bf16(src[i]); memcpy(row + 2 * i, &h, 2); }
        else CHECK(rl_quantize_row(t, src, row, cols) == 0, "quantize: %s", rl_errmsg());
    }
    return w;
}
static int odd_in(rl_dtype t, int k) { return rl_dtype_is_block(t) ? 32 * k : 32 * k + 3; }

/* ---------- tests ---------- */

/* Upload / download round trip: odd offsets and sizes, several uploads in flight before one
 * fence, host staging memory from host_alloc (and host_invalidate after rewriting it). */
static void test_updown(void) {
    size_t n = 4099;
    uint8_t *a = H(n), *b = H(n), *back = H(n + 64);
    for (size_t i = 0; i < n; i++) { a[i] = (uint8_t)irand(256); b[i] = (uint8_t)irand(256); }
    char *buf = dalloc(D, n + 64);
    CHECK(D->o->upload(D->be, buf, a, n) == 0, "upload");
    CHECK(D->o->upload(D->be, buf + 3, b + 3, 1001) == 0, "upload odd"); /* later upload wins */
    down(D, back, buf, n);
    uint8_t *want = H(n);
    memcpy(want, a, n);
    memcpy(want + 3, b + 3, 1001);
    cmp_bytes("updown", "two uploads", back, want, n);
    down(D, back, buf + 1001, 77);
    cmp_bytes("updown", "odd range", back, want + 1001, 77);
    uint8_t *st = D->o->host_alloc(D->be, n);
    CHECK(st != NULL, "host_alloc: %s", rl_errmsg());
    if (!st) return;
    CHECK(((uintptr_t)st & 63) == 0, "host_alloc not 64-aligned");
    memcpy(st, b, n);
    CHECK(D->o->upload(D->be, buf + 64, st, n) == 0, "upload staged");
    CHECK(D->o->wait(D->be, D->o->fence(D->be)) == 0, "wait");
    D->o->host_invalidate(D->be, st);
    memcpy(st, a, n); /* rewrite the staging buffer, upload again */
    CHECK(D->o->upload(D->be, buf, st, n) == 0, "upload staged 2");
    down(D, back, buf, n + 64);
    memcpy(want, a, n);
    CHECK(!memcmp(back, want, n), "staged upload");
    cmp_bytes("updown", "staged", back + n, b + n - 64, 64);
    D->o->host_free(D->be, st);
    CHECK(D->o->status(D->be) == 0, "status: %s", rl_errmsg());
}

static void run_zero_copy(dev *d, float *res, const float *init, size_t n, int mode) {
    float *x = upf(d, init, n);
    if (mode == 0) d->o->zero(d->be, x + 5, 997 * sizeof(float));
    else if (mode == 1) d->o->copy2d(d->be, x + 40 * 13, 13 * sizeof(float), x + 7, 0, 11 * sizeof(float), 9); /* broadcast */
    else if (mode == 2) /* strided rows of 9 floats, 21 apart, into rows 16 apart; gaps untouched */
        d->o->copy2d(d->be, x + 1500, 16 * sizeof(float), x + 3, 21 * sizeof(float), 9 * sizeof(float), 23);
    else d->o->copy2d(d->be, x + 1003, 7, (char *)x + 2, 7, 7, 40); /* byte rows, packed both sides */
    down(d, res, x, n * sizeof(float));
}
/* zero (a sub-range), copy2d (src_stride 0 broadcast, strided both sides, odd byte rows). */
static void test_zero_copy2d(void) {
    size_t n = 2048;
    float *init = rand_f(n, 1), *got = Hf(n), *want = Hf(n);
    for (int mode = 0; mode < 4; mode++) {
        run_zero_copy(D, got, init, n, mode);
        memcpy(want, init, n * sizeof(float));
        if (mode == 0) memset(want + 5, 0, 997 * sizeof(float));
        else if (mode == 1) for (int r = 0; r < 9; r++) memcpy(want + 40 * 13 + 13 * r, init + 7, 11 * sizeof(float));
        else if (mode == 2) for (int r = 0; r < 23; r++) memcpy(want + 1500 + 16 * r, init + 3 + 21 * r, 9 * sizeof(float));
        else for (int r = 0; r < 40; r++) memcpy((char *)(want + 1003) + 7 * r, (char *)init + 2 + 7 * r, 7);
        cmp_bytes(mode ? "copy2d" : "zero", mode == 1 ? "broadcast" : mode == 2 ? "strided" : "bytes", got, want,
                  n * sizeof(float));
    }
}

static void run_convert(dev *d, float *res, const uint8_t *w, size_t wbytes, rl_dtype t, size_t off_bytes, int n) {
    uint8_t *dw = up(d, w, wbytes);
    float *o = dout(d, (size_t)n);
    d->o->convert(d->be, o, dw + off_bytes, t, n);
    down(d, res, o, (size_t)n * sizeof(float));
}
/* convert: a whole row from a row boundary and a part from an item offset (block types: from a
 * block boundary, whole blocks). */
static void test_convert(void) {
    for (size_t k = 0; k < sizeof WDT / sizeof WDT[0]; k++) {
        rl_dtype t = WDT[k];
        if (!D->o->supports(D->be, t)) continue;
        int cols = odd_in(t, 5), rows = 3;
        uint8_t *w = make_w(t, rows, cols);
        size_t rb = rl_dtype_row_bytes(t, cols);
        for (int part = 0; part < 2; part++) {
            int first = part ? (rl_dtype_is_block(t) ? 64 : 3) : 0, n = part ? cols - first - (rl_dtype_is_block(t) ? 32 : 2) : cols;
            size_t off = rb + rl_dtype_row_bytes(t, first);
            float *got = Hf((size_t)n), *cpu = C ? Hf((size_t)n) : NULL;
            run_convert(D, got, w, rb * rows, t, off, n);
            if (C) run_convert(C, cpu, w, rb * rows, t, off, n);
            double *ref = Hd((size_t)n);
            for (int i = 0; i < n; i++) ref[i] = (float)w_item(t, w + rb, first + i, NULL);
            char op[32];
            snprintf(op, sizeof op, "convert/%s", dt_name(t));
            cmp(op, part ? "part" : "row", got, cpu, ref, NULL, (size_t)n);
        }
    }
}

static void run_matmul(dev *d, float *y, const float *x, const uint8_t *w, rl_dtype t, const float *b, int T, int in,
                       int out) {
    float *dx = upf(d, x, (size_t)T * in), *db = upf(d, b, (size_t)out);
    void *dw = up(d, w, rl_dtype_row_bytes(t, in) * (size_t)out);
    float *dy = dout(d, (size_t)T * out);
    d->o->matmul(d->be, dy, dx, dw, t, db, T, in, out);
    down(d, y, dy, (size_t)T * out * sizeof(float));
}
/* Block-type weight item i as its parts d q and the block's m (0 for Q8_0). */
static void w_parts(rl_dtype t, const uint8_t *row, int i, double *dq, double *m) {
    const uint8_t *b = row + (size_t)(i / RL_QBLOCK) * RL_DTYPES[t].block_bytes;
    int j = i % RL_QBLOCK;
    if (t == RL_DT_Q8_0) { *dq = half_to_d(b) * (int8_t)b[2 + j]; *m = 0; return; }
    *dq = half_to_d(b) * (j < 16 ? b[4 + j] & 15 : b[4 + j - 16] >> 4);
    *m = half_to_d(b + 2);
}
/* The int8 activations a backend may use with Q8_0 / Q4_1 weights (the cpu does for T < 4;
 * src/backend/cpu/qact.h): per block of 32, amax = max|x|, d = amax / 127, q = round-to-nearest-
 * even of x * (127 / amax), all in f32; xq = d q. half[b] = d / 2 bounds |x - xq| in block b. */
static void quant_act(const float *x, int n, double *xq, double *half) {
    for (int b0 = 0; b0 < n; b0 += RL_QBLOCK) {
        float amax = 0;
        for (int i = 0; i < RL_QBLOCK; i++) { float a = fabsf(x[b0 + i]); amax = a > amax ? a : amax; }
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = 0; i < RL_QBLOCK; i++) {
            float v = x[b0 + i] * id;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            xq[b0 + i] = (double)d * nearbyintf(v);
        }
        half[b0 / RL_QBLOCK] = d / 2.0;
    }
}

/* References of one matmul call: f32 activations (ref_f, mag_f) and, for block types, int8
 * activations (ref_q = b + sum_i xq_i d q_i + x_i m_i, mag_q) with qb = the bound on their
 * difference, sum_i half_b(i) |d q_i|. */
typedef struct { double *ref_f, *mag_f, *ref_q, *mag_q, *qb; } mm_refs;

static mm_refs mm_reference(rl_dtype t, const uint8_t *w, const float *x, const float *bias, int T, int in, int out) {
    size_t rb = rl_dtype_row_bytes(t, in), n = (size_t)T * out;
    int blk = rl_dtype_is_block(t);
    mm_refs r = {Hd(n), Hd(n), Hd(n), Hd(n), Hd(n)};
    double *xq = Hd((size_t)in), *half = Hd((size_t)in / RL_QBLOCK + 1);
    for (int tt = 0; tt < T; tt++) {
        const float *xr = x + (size_t)tt * in;
        if (blk) quant_act(xr, in, xq, half);
        for (int o = 0; o < out; o++) {
            const uint8_t *row = w + (size_t)o * rb;
            double b0 = bias ? bias[o] : 0, sf = b0, mf = fabs(b0), sq = b0, mq = fabs(b0), qb = 0;
            for (int i = 0; i < in; i++) {
                double a, v = w_item(t, row, i, &a);
                sf += xr[i] * v;
                mf += fabs(xr[i]) * a;
                if (blk) {
                    double dq, m;
                    w_parts(t, row, i, &dq, &m);
                    sq += xq[i] * dq + xr[i] * m;
                    mq += fabs(xq[i] * dq) + fabs(xr[i] * m);
                    qb += half[i / RL_QBLOCK] * fabs(dq);
                }
            }
            size_t k = (size_t)tt * out + o;
            r.ref_f[k] = sf; r.mag_f[k] = mf + 1e-30;
            r.ref_q[k] = sq; r.mag_q[k] = mq + 1e-30; r.qb[k] = qb;
        }
    }
    return r;
}
/* Which semantics a result matches within tol: 0 f32 activations, 1 int8 activations, -1 none. */
static int mm_semantics(const float *y, const mm_refs *r, int blk, size_t n, double tol, double *ef, double *eq,
                        size_t *wf, size_t *wq) {
    *ef = max_err(y, r->ref_f, r->mag_f, n, wf);
    *eq = blk ? max_err(y, r->ref_q, r->mag_q, n, wq) : INFINITY;
    return *ef <= tol ? 0 : *eq <= tol ? 1 : -1;
}

/* matmul: every supported weight dtype, in = 32 k (blocks) or odd, odd out, T 1/3/17/40, bias
 * on/off; and one product past the CPU kernel's blockings (in > 1024, T > 64, out > 96). With
 * Q8_0 / Q4_1 weights a call may use f32 or int8 activations (recorded as matmul/DT/i8act); a
 * backend and the cpu that chose differently must agree within the quantisation bound qb. */
static void test_matmul(void) {
    static const int TS[] = {1, 3, 17, 40, 67};
    static const int KS[] = {2, 10, 33}, OUTS[] = {37, 131, 101};
    double tol = tol_of("matmul");
    for (size_t k = 0; k < sizeof WDT / sizeof WDT[0]; k++) {
        rl_dtype t = WDT[k];
        if (!D->o->supports(D->be, t)) continue;
        int blk = rl_dtype_is_block(t);
        for (int ii = 0; ii < 3; ii++) {
            int in = odd_in(t, KS[ii]), out = OUTS[ii];
            uint8_t *w = make_w(t, out, in);
            float *b = rand_f((size_t)out, 1);
            for (int ti = ii == 2 ? 4 : 0; ti < (ii == 2 ? 5 : 4); ti++)
                for (int bias = ii == 2; bias < 2; bias++) {
                    int T = TS[ti];
                    size_t n = (size_t)T * out, mark_d = D->used, mark_c = C ? C->used : 0, wf, wq;
                    float *x = rand_f((size_t)T * in, 1), *y = Hf(n), *yc = C ? Hf(n) : NULL;
                    run_matmul(D, y, x, w, t, bias ? b : NULL, T, in, out);
                    if (C) run_matmul(C, yc, x, w, t, bias ? b : NULL, T, in, out);
                    mm_refs r = mm_reference(t, w, x, bias ? b : NULL, T, in, out);
                    char op[40], what[64];
                    snprintf(what, sizeof what, "T=%d in=%d out=%d bias=%d", T, in, out, bias);
                    double ef, eq;
                    int sem = mm_semantics(y, &r, blk, n, tol, &ef, &eq, &wf, &wq);
                    snprintf(op, sizeof op, "matmul/%s%s", dt_name(t), sem == 1 ? "/i8act" : "");
                    if (sem == 1) judge(op, what, 0, eq, wq, y[wq], r.ref_q[wq]);
                    else judge(op, what, 0, ef, wf, y[wf], r.ref_f[wf]);
                    if (sem < 0 && blk)
                        CHECK(0, "%s %s (%s): matches neither f32 activations (err %.3g) nor int8 (err %.3g)", D->name,
                              op, what, ef, eq);
                    if (C && sem >= 0) {
                        double cf, cq;
                        size_t ci;
                        int csem = mm_semantics(yc, &r, blk, n, tol, &cf, &cq, &wf, &wq);
                        double *cd = to_d(yc, n), *mm = Hd(n);
                        if (csem == sem) {
                            double e = max_err(y, cd, sem ? r.mag_q : r.mag_f, n, &ci);
                            judge(op, what, 1, e, ci, y[ci], cd[ci]);
                        } else { /* one used int8 activations, the other f32: |difference| <= qb */
                            for (size_t i = 0; i < n; i++) mm[i] = r.qb[i] + tol * (r.mag_f[i] + r.mag_q[i]);
                            snprintf(op, sizeof op, "matmul.mixed/%s", dt_name(t));
                            double e = max_err(y, cd, mm, n, &ci);
                            judge(op, what, 1, e, ci, y[ci], cd[ci]);
                        }
                    }
                    D->used = mark_d;
                    if (C) C->used = mark_c;
                }
        }
    }
}

/* matmul_t (MLA's absorbed queries): y = x W with W (in, out) row-major, every dtype. */
static void run_matmul_t(dev *d, float *y, const float *x, const uint8_t *w, size_t wbytes, rl_dtype t, int T, int in, int out) {
    float *dy = dout(d, (size_t)T * out);
    d->o->matmul_t(d->be, dy, upf(d, x, (size_t)T * in), up(d, w, wbytes), t, T, in, out);
    down(d, y, dy, (size_t)T * out * sizeof(float));
}
static void test_matmul_t(void) {
    if (!D->o->matmul_t) { fprintf(stderr, "  (no matmul_t: MLA runs expanded)\n"); return; }
    for (size_t k = 0; k < sizeof WDT / sizeof WDT[0]; k++) {
        rl_dtype t = WDT[k];
        if (!D->o->supports(D->be, t)) continue;
        int in = 19, out = rl_dtype_is_block(t) ? 288 : 291, T = 5; /* out past one 256-column block */
        uint8_t *w = make_w(t, in, out);
        float *x = rand_f((size_t)T * in, 1), *y = Hf((size_t)T * out), *yc = C ? Hf((size_t)T * out) : NULL;
        run_matmul_t(D, y, x, w, (size_t)in * rl_dtype_row_bytes(t, out), t, T, in, out);
        if (C) run_matmul_t(C, yc, x, w, (size_t)in * rl_dtype_row_bytes(t, out), t, T, in, out);
        double *ref = Hd((size_t)T * out), *mag = Hd((size_t)T * out);
        for (int tt = 0; tt < T; tt++)
            for (int o = 0; o < out; o++) {
                double acc = 0, m = 0;
                for (int i = 0; i < in; i++) {
                    double wv = w_item(t, w + (size_t)i * rl_dtype_row_bytes(t, out), o, NULL);
                    acc += (double)x[(size_t)tt * in + i] * wv;
                    m += fabs((double)x[(size_t)tt * in + i] * wv);
                }
                ref[(size_t)tt * out + o] = acc;
                mag[(size_t)tt * out + o] = m;
            }
        char what[64];
        snprintf(what, sizeof what, "%s T=%d in=%d out=%d", dt_name(t), T, in, out);
        cmp("matmul_t", what, y, yc, ref, mag, (size_t)T * out);
    }
}

/* rmsnorm (w / 1 + w / no w, in place too) and layernorm (w, b each present or NULL). */
static void run_norm(dev *d, float *res, const float *x, const float *w, const float *b, int T, int n, int kind,
                     int one_plus, int inplace) {
    float *dx = upf(d, x, (size_t)T * n), *dw = upf(d, w, (size_t)n), *db = upf(d, b, (size_t)n);
    float *o = inplace ? dx : dout(d, (size_t)T * n);
    if (kind == 0) d->o->rmsnorm(d->be, o, dx, dw, T, n, 1e-6f, one_plus);
    else d->o->layernorm(d->be, o, dx, dw, db, T, n, 1e-5f);
    down(d, res, o, (size_t)T * n * sizeof(float));
}
static void test_norms(void) {
    static const int NS[] = {1, 67, 1003};
    for (int ni = 0; ni < 3; ni++)
        for (int kind = 0; kind < 2; kind++)
            for (int v = 0; v < 5; v++) { /* w (+b) / 1 + w (no b) / no w / in place / no w, no b, in place */
                int n = NS[ni], T = ni == 2 ? 3 : 5, inplace = v >= 3;
                float *x = rand_f((size_t)T * n, 3), *w = rand_f((size_t)n, 1), *b = rand_f((size_t)n, 1);
                for (int i = 0; i < T * n; i++) x[i] += kind ? 0.7f : 0; /* layernorm: a mean to remove */
                const float *wp = v == 2 || v == 4 ? NULL : w, *bp = kind && v != 1 && v != 4 ? b : NULL;
                int one_plus = kind == 0 && v == 1;
                float *got = Hf((size_t)T * n), *cpu = C ? Hf((size_t)T * n) : NULL;
                run_norm(D, got, x, wp, bp, T, n, kind, one_plus, inplace);
                if (C) run_norm(C, cpu, x, wp, bp, T, n, kind, one_plus, inplace);
                double *ref = Hd((size_t)T * n);
                for (int t = 0; t < T; t++) {
                    const float *xr = x + (size_t)t * n;
                    double mean = 0, ss = 0;
                    if (kind) { for (int i = 0; i < n; i++) mean += xr[i]; mean /= n; }
                    for (int i = 0; i < n; i++) ss += (xr[i] - mean) * (xr[i] - mean);
                    double r = 1 / sqrt(ss / n + (kind ? 1e-5 : 1e-6));
                    for (int i = 0; i < n; i++) {
                        double g = wp ? (one_plus ? 1.0 + wp[i] : wp[i]) : 1.0;
                        ref[(size_t)t * n + i] = (xr[i] - mean) * r * g + (bp ? bp[i] : 0);
                    }
                }
                char what[64];
                snprintf(what, sizeof what, "n=%d w=%d b=%d one_plus=%d inplace=%d", n, wp != NULL, bp != NULL, one_plus,
                         inplace);
                cmp(kind ? "layernorm" : "rmsnorm", what, got, cpu, ref, NULL, (size_t)T * n);
            }
}

/* rope: NEOX / GPTJ / NONE, full and partial rot_dims, and the MLA call (x + nope, head stride qk). */
static void run_rope(dev *d, float *res, const rl_rope *r, const float *x, size_t nx, size_t off, int T, int nh,
                     int hd, const float *cs, const float *sn) {
    int half = r->rot_dims / 2;
    float *dx = upf(d, x, nx), *dc = upf(d, cs, (size_t)T * (half ? half : 1)), *ds = upf(d, sn, (size_t)T * (half ? half : 1));
    d->o->rope(d->be, r, dx + off, T, nh, hd, dc, ds);
    down(d, res, dx, nx * sizeof(float));
}
static void test_rope(void) {
    struct { rl_rope_pairing p; int hd, rot, nope; } CASES[] = {
        {RL_ROPE_NEOX, 64, 64, 0}, {RL_ROPE_GPTJ, 64, 64, 0}, {RL_ROPE_NEOX, 40, 16, 0},
        {RL_ROPE_GPTJ, 40, 24, 0}, {RL_ROPE_NONE, 32, 32, 0}, {RL_ROPE_NEOX, 48, 16, 32} /* MLA */,
        {RL_ROPE_GPTJ, 48, 16, 32},
    };
    static const int TS[] = {1, 3, 17};
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++)
        for (int ti = 0; ti < 3; ti++) {
            int T = TS[ti], nh = 3, hd = CASES[c].hd, nope = CASES[c].nope, half = CASES[c].rot / 2;
            rl_rope r;
            memset(&r, 0, sizeof r);
            r.theta = 10000.0 + 1000.0 * (double)c;
            r.rot_dims = CASES[c].rot;
            r.pairing = CASES[c].p;
            r.scaling = RL_RS_NONE;
            int *pos = H(sizeof(int) * (size_t)T), mx = 0;
            for (int t = 0; t < T; t++) { pos[t] = t < 2 ? 7 + t : 300 + 5 * t; if (pos[t] > mx) mx = pos[t]; } /* two sequences */
            float *cs = Hf((size_t)T * half + 1), *sn = Hf((size_t)T * half + 1);
            rl_rope_table(&r, pos, T, mx + 1, cs, sn);
            size_t nx = (size_t)T * nh * hd;
            float *x = rand_f(nx, 2), *got = Hf(nx), *cpu = C ? Hf(nx) : NULL;
            run_rope(D, got, &r, x, nx, (size_t)nope, T, nh, hd, cs, sn);
            if (C) run_rope(C, cpu, &r, x, nx, (size_t)nope, T, nh, hd, cs, sn);
            double *ref = to_d(x, nx);
            if (r.pairing != RL_ROPE_NONE)
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < nh; h++) {
                        const float *v = x + nope + ((size_t)t * nh + h) * hd;
                        double *o = ref + nope + ((size_t)t * nh + h) * hd;
                        for (int i = 0; i < half; i++) {
                            int ia = r.pairing == RL_ROPE_NEOX ? i : 2 * i, ib = r.pairing == RL_ROPE_NEOX ? i + half : 2 * i + 1;
                            double cc = cs[(size_t)t * half + i], ss = sn[(size_t)t * half + i];
                            o[ia] = (double)v[ia] * cc - (double)v[ib] * ss;
                            o[ib] = (double)v[ib] * cc + (double)v[ia] * ss;
                        }
                    }
            char what[64];
            snprintf(what, sizeof what, "pairing=%d hd=%d rot=%d nope=%d T=%d", (int)r.pairing, hd, r.rot_dims, nope, T);
            cmp("rope", what, got, cpu, ref, NULL, nx);
        }
}

/* The k largest of v[0..n) with ok[i] set (ok NULL: all) into out, ties to the lower index
 * (repeated argmax). Returns the distance from the k-th value to the nearest different value:
 * the margin below which f32 rounding on a backend could change the choice (exactly equal
 * values come from identical inputs and stay equal). 0 if fewer than k are eligible. */
static double top_k(const double *v, const int *ok, int n, int k, int *out) {
    static char used[RL_MOE_MAX_EXPERTS];
    if (n > RL_MOE_MAX_EXPERTS) return 0;
    memset(used, 0, (size_t)n);
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if ((!ok || ok[i]) && !used[i] && (best < 0 || v[i] > v[best])) best = i;
        if (best < 0) return 0;
        out[j] = best;
        used[best] = 1;
    }
    double vk = v[out[k - 1]], gap = INFINITY;
    for (int i = 0; i < n; i++)
        if ((!ok || ok[i]) && v[i] != vk && fabs(v[i] - vk) < gap) gap = fabs(v[i] - vk);
    return gap;
}

/* ---------- attention ---------- */

typedef struct { int T, pos0; } seq_shape;
typedef struct { int nh, nkv, hd, vd, window; float softcap, scale; const float *sinks; /* host, nh: attention sinks */ } att_shape;

static void att_ref(double *o, const float *q, const float *kc, const float *vc, int T, int pos0, const att_shape *a) {
    double *s = Hd((size_t)(pos0 + T));
    for (int t = 0; t < T; t++)
        for (int h = 0; h < a->nh; h++) {
            int i = pos0 + t, kvh = h / (a->nh / a->nkv);
            int j0 = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
            const float *qv = q + ((size_t)t * a->nh + h) * a->hd;
            double mx = -INFINITY, sum = 0;
            for (int j = j0; j <= i; j++) {
                double d = 0;
                for (int e = 0; e < a->hd; e++) d += (double)qv[e] * kc[((size_t)j * a->nkv + kvh) * a->hd + e];
                d *= a->scale;
                if (a->softcap > 0) d = a->softcap * tanh(d / a->softcap);
                s[j] = d;
                if (d > mx) mx = d;
            }
            if (a->sinks) mx = fmax(mx, a->sinks[h]);
            if (a->sinks) sum = exp(a->sinks[h] - mx); /* a key of value zero */
            for (int j = j0; j <= i; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
            double *ov = o + ((size_t)t * a->nh + h) * a->vd;
            for (int e = 0; e < a->vd; e++) {
                double acc = 0;
                for (int j = j0; j <= i; j++) acc += s[j] * vc[((size_t)j * a->nkv + kvh) * a->vd + e];
                ov[e] = acc / sum;
            }
        }
}
/* Every sequence's attention issued back to back (independent caches), then downloaded. */
static void run_att(dev *d, float **res, float *const *q, float *const *kc, float *const *vc, const seq_shape *ss,
                    int ns, const att_shape *a) {
    float *o[8];
    for (int s = 0; s < ns; s++) {
        int ctx = ss[s].pos0 + ss[s].T;
        float *dq = upf(d, q[s], (size_t)ss[s].T * a->nh * a->hd);
        float *dk = upf(d, kc[s], (size_t)ctx * a->nkv * a->hd), *dv = upf(d, vc[s], (size_t)ctx * a->nkv * a->vd);
        o[s] = dout(d, (size_t)ss[s].T * a->nh * a->vd);
        d->o->attention(d->be, o[s], dq, dk, dv, ss[s].T, ss[s].pos0, a->nh, a->nkv, a->hd, a->vd, a->scale, a->softcap,
                        a->window);
    }
    for (int s = 0; s < ns; s++) down(d, res[s], o[s], (size_t)ss[s].T * a->nh * a->vd * sizeof(float));
}
static void test_attention(void) {
    static const int GQA[][2] = {{4, 4}, {4, 2}, {8, 2}, {4, 1}};
    static const seq_shape SEQS[][3] = {{{1, 0}, {1, 9}, {1, 127}}, {{3, 0}, {17, 5}, {1, 40}}, {{40, 0}, {3, 60}, {17, 23}}};
    for (int g = 0; g < 4; g++)
        for (int win = 0; win < 2; win++)
            for (int cap = 0; cap < 2; cap++) {
                int sh = (g + win + cap) % 3;
                att_shape a = {GQA[g][0], GQA[g][1], g & 1 ? 40 : 64, g & 1 ? 24 : 64, win ? 7 : 0, cap ? 1.5f : 0.0f, 0, NULL};
                a.scale = 1.0f / sqrtf((float)a.hd);
                float *q[3], *kc[3], *vc[3], *got[3], *cpu[3];
                for (int s = 0; s < 3; s++) {
                    int T = SEQS[sh][s].T, ctx = SEQS[sh][s].pos0 + T;
                    q[s] = rand_f((size_t)T * a.nh * a.hd, 2.5f);
                    kc[s] = rand_f((size_t)ctx * a.nkv * a.hd, 1);
                    vc[s] = rand_f((size_t)ctx * a.nkv * a.vd, 1);
                    got[s] = Hf((size_t)T * a.nh * a.vd);
                    cpu[s] = C ? Hf((size_t)T * a.nh * a.vd) : NULL;
                }
                run_att(D, got, q, kc, vc, SEQS[sh], 3, &a);
                if (C) run_att(C, cpu, q, kc, vc, SEQS[sh], 3, &a);
                for (int s = 0; s < 3; s++) {
                    size_t n = (size_t)SEQS[sh][s].T * a.nh * a.vd;
                    double *ref = Hd(n);
                    att_ref(ref, q[s], kc[s], vc[s], SEQS[sh][s].T, SEQS[sh][s].pos0, &a);
                    char what[96];
                    snprintf(what, sizeof what, "heads %d/%d hd=%d vd=%d window=%d softcap=%g seq %d T=%d pos0=%d", a.nh,
                             a.nkv, a.hd, a.vd, a.window, (double)a.softcap, s, SEQS[sh][s].T, SEQS[sh][s].pos0);
                    cmp("attention", what, got[s], cpu[s], ref, NULL, n);
                }
            }
}

/* kv_store + attention_kv: positions 0..pos0+T-1 stored in sweeps of up to T rows (a ring of
 * window + T - 1 rows wraps), then T queries at pos0; every cache dtype. */
static void round_trip(rl_dtype t, float *x, int n) {
    if (t == RL_DT_F32) return;
    uint8_t buf[4096];
    if (t == RL_DT_F16) for (int i = 0; i < n; i++) x[i] = rl_f16_to_f32(rl_f32_to_f16(x[i]));
    else if (t == RL_DT_BF16) for (int i = 0; i < n; i++) x[i] = rl_bf16_to_f32(rl_f32_to_bf16(x[i]));
    else if (rl_quantize_row(t, x, buf, n) == 0) rl_dequantize_row_ref(t, buf, x, n);
}
static void run_att_kv(dev *d, float *res, const float *q, const float *kc, const float *vc, rl_dtype t, int ring, int T,
                       int pos0, const att_shape *a) {
    int kw = a->nkv * a->hd, vw = a->nkv * a->vd, rows = ring ? ring : pos0 + T;
    rl_kv_view kv = {dalloc(d, rl_dtype_row_bytes(t, kw) * (size_t)rows), dalloc(d, rl_dtype_row_bytes(t, vw) * (size_t)rows),
                     t, ring, kw, vw, a->sinks ? upf(d, a->sinks, (size_t)a->nh) : NULL};
    for (int p = 0; p < pos0 + T; p += T) { /* sweeps of up to T positions */
        int n = pos0 + T - p < T ? pos0 + T - p : T;
        d->o->kv_store(d->be, &kv, p, upf(d, kc + (size_t)p * kw, (size_t)n * kw), upf(d, vc + (size_t)p * vw, (size_t)n * vw), n);
    }
    float *o = dout(d, (size_t)T * a->nh * a->vd);
    d->o->attention_kv(d->be, o, upf(d, q, (size_t)T * a->nh * a->hd), &kv, T, pos0, a->nh, a->nkv, a->hd, a->vd, a->scale,
                       a->softcap, a->window);
    down(d, res, o, (size_t)T * a->nh * a->vd * sizeof(float));
}
static void test_attention_kv(void) {
    if (!D->o->attention_kv || !D->o->kv_store) { fprintf(stderr, "  (no attention_kv: f32 linear caches only)\n"); return; }
    static const rl_dtype KT[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0};
    for (int k = 0; k < 4; k++)
        for (int ring = 0; ring < 2; ring++)
            for (int cap = 0; cap < 3; cap++) { /* cap 2: attention sinks (one above every score, one below) */
                static const float SINKS[8] = {0.3f, -1.0f, 2.5f, 9.0f, -20.0f, 0.0f, 1.0f, -0.5f};
                att_shape a = {8, 2, 64, 32, ring || k == 3 ? 7 : 0, cap == 1 ? 1.5f : 0.0f, 0.125f, cap == 2 ? SINKS : NULL};
                int T = cap == 2 ? 13 : 5, pos0 = 23 + k, ctx = pos0 + T, R = ring ? a.window + T - 1 : 0;
                float *q = rand_f((size_t)T * a.nh * a.hd, 2.5f);
                float *kc = rand_f((size_t)ctx * a.nkv * a.hd, 1), *vc = rand_f((size_t)ctx * a.nkv * a.vd, 1);
                float *got = Hf((size_t)T * a.nh * a.vd), *cpu = C ? Hf((size_t)T * a.nh * a.vd) : NULL;
                run_att_kv(D, got, q, kc, vc, KT[k], R, T, pos0, &a);
                if (C) run_att_kv(C, cpu, q, kc, vc, KT[k], R, T, pos0, &a);
                for (int p = 0; p < ctx; p++) { /* the cache's rounding of every row */
                    round_trip(KT[k], kc + (size_t)p * a.nkv * a.hd, a.nkv * a.hd);
                    round_trip(KT[k], vc + (size_t)p * a.nkv * a.vd, a.nkv * a.vd);
                }
                size_t n = (size_t)T * a.nh * a.vd;
                double *ref = Hd(n);
                att_ref(ref, q, kc, vc, T, pos0, &a);
                char what[96];
                snprintf(what, sizeof what, "%s ring %d window %d softcap %g%s", dt_name(KT[k]), R, a.window, (double)a.softcap,
                         a.sinks ? " sinks" : "");
                cmp("attention_kv", what, got, cpu, ref, NULL, n);
            }
}

/* kv_store alone: the cache bytes after sweeps into a linear cache and a ring smaller than one
 * sweep (later positions win), rows of widths whose byte sizes are not multiples of 4, against
 * the host's conversions; rows no sweep wrote keep their bytes. */
static void host_row(rl_dtype t, uint8_t *dst, const float *src, int n) {
    if (t == RL_DT_F32) memcpy(dst, src, (size_t)n * sizeof(float));
    else if (t == RL_DT_F16) for (int i = 0; i < n; i++) { uint16_t h = rl_f32_to_f16(src[i]); memcpy(dst + 2 * i, &h, 2); }
    else if (t == RL_DT_BF16) for (int i = 0; i < n; i++) { uint16_t h = rl_f32_to_bf16(src[i]); memcpy(dst + 2 * i, &h, 2); }
    else CHECK(rl_quantize_row(t, src, dst, n) == 0, "quantize: %s", rl_errmsg());
}
static void test_kv_store(void) {
    if (!D->o->kv_store) { fprintf(stderr, "  (no kv_store: f32 linear caches only)\n"); return; }
    static const rl_dtype KT[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0};
    for (int k = 0; k < 4; k++)
        for (int ring = 0; ring < 2; ring++) {
            int kw = KT[k] == RL_DT_Q8_0 ? 96 : 33, vw = KT[k] == RL_DT_Q8_0 ? 32 : 7, rows = ring ? 5 : 29;
            size_t kb = rl_dtype_row_bytes(KT[k], kw), vb = rl_dtype_row_bytes(KT[k], vw);
            uint8_t *hk = H(kb * rows + 3), *hv = H(vb * rows + 3), *gk = H(kb * rows + 3), *gv = H(vb * rows + 3);
            for (size_t i = 0; i < kb * rows + 3; i++) hk[i] = (uint8_t)(i * 37 + 5);
            for (size_t i = 0; i < vb * rows + 3; i++) hv[i] = (uint8_t)(i * 11 + 3);
            /* caches at odd byte offsets (1 and 3) past an aligned allocation */
            uint8_t *dk = up(D, hk, kb * rows + 3), *dv = up(D, hv, vb * rows + 3);
            rl_kv_view kv = {dk + 1, dv + 3, KT[k], ring ? rows : 0, kw, vw, NULL};
            static const int SW[][2] = {{0, 3}, {3, 8}, {11, 1}, {12, 13}}; /* (pos0, n) */
            for (int s = 0; s < 4; s++) {
                int p0 = SW[s][0], n = SW[s][1];
                float *kf = rand_f((size_t)n * kw, 3), *vf = rand_f((size_t)n * vw, 0.01f);
                if (s == 2) for (int i = 0; i < kw; i++) kf[i] = 0; /* an all-zero block */
                D->o->kv_store(D->be, &kv, p0, upf(D, kf, (size_t)n * kw), upf(D, vf, (size_t)n * vw), n);
                for (int t = 0; t < n; t++) {
                    int r = ring ? (p0 + t) % rows : p0 + t;
                    host_row(KT[k], hk + 1 + (size_t)r * kb, kf + (size_t)t * kw, kw);
                    host_row(KT[k], hv + 3 + (size_t)r * vb, vf + (size_t)t * vw, vw);
                }
            }
            down(D, gk, dk, kb * rows + 3);
            down(D, gv, dv, vb * rows + 3);
            char what[64];
            snprintf(what, sizeof what, "%s ring %d keys", dt_name(KT[k]), ring ? rows : 0);
            cmp_bytes("kv_store", what, gk, hk, kb * rows + 3);
            snprintf(what, sizeof what, "%s ring %d values", dt_name(KT[k]), ring ? rows : 0);
            cmp_bytes("kv_store", what, gv, hv, vb * rows + 3);
        }
}

/* attention_tree: a branching tree of 7 nodes (two roots) after 23 prefix positions, and a
 * 40-node tree of random shape after 70 (its keys span several chunks of 64), every cache
 * dtype; the reference attends each node over the prefix then its ancestors and itself. */
static void tree_ref(double *o, const float *q, const float *kc, const float *vc, const int32_t *par, int T, int pos0,
                     const att_shape *a) {
    int *rows = H(sizeof(int) * (size_t)(pos0 + T));
    float *kr = Hf((size_t)(pos0 + T) * a->nkv * a->hd), *vr = Hf((size_t)(pos0 + T) * a->nkv * a->vd);
    double *one = Hd((size_t)a->nh * a->vd);
    for (int t = 0; t < T; t++) {
        int d = 0;
        for (int u = t; u >= 0; u = par[u]) d++;
        for (int j = 0; j < pos0; j++) rows[j] = j;
        int x = pos0 + d;
        for (int u = t; u >= 0; u = par[u]) rows[--x] = pos0 + u;
        for (int j = 0; j < pos0 + d; j++) { /* the node's keys as one causal sequence; its query is the last */
            memcpy(kr + (size_t)j * a->nkv * a->hd, kc + (size_t)rows[j] * a->nkv * a->hd, sizeof(float) * a->nkv * a->hd);
            memcpy(vr + (size_t)j * a->nkv * a->vd, vc + (size_t)rows[j] * a->nkv * a->vd, sizeof(float) * a->nkv * a->vd);
        }
        att_ref(one, q + (size_t)t * a->nh * a->hd, kr, vr, 1, pos0 + d - 1, a);
        memcpy(o + (size_t)t * a->nh * a->vd, one, sizeof(double) * a->nh * a->vd);
    }
}
static void run_att_tree(dev *d, float *res, const float *q, const float *kc, const float *vc, const int32_t *par,
                         rl_dtype t, int T, int pos0, const att_shape *a, int ring) {
    int kw = a->nkv * a->hd, vw = a->nkv * a->vd, n = pos0 + T, rows = ring ? ring : n;
    rl_kv_view kv = {dalloc(d, rl_dtype_row_bytes(t, kw) * (size_t)rows), dalloc(d, rl_dtype_row_bytes(t, vw) * (size_t)rows),
                     t, ring, kw, vw, a->sinks ? upf(d, a->sinks, (size_t)a->nh) : NULL};
    d->o->kv_store(d->be, &kv, 0, upf(d, kc, (size_t)n * kw), upf(d, vc, (size_t)n * vw), n);
    float *o = dout(d, (size_t)T * a->nh * a->vd);
    d->o->attention_tree(d->be, o, upf(d, q, (size_t)T * a->nh * a->hd), &kv, up(d, par, sizeof(int32_t) * (size_t)T), T,
                         pos0, a->nh, a->nkv, a->hd, a->vd, a->scale, a->softcap, a->window);
    down(d, res, o, (size_t)T * a->nh * a->vd * sizeof(float));
}
static void test_attention_tree(void) {
    if (!D->o->attention_tree) { fprintf(stderr, "  (no attention_tree: token trees are refused)\n"); return; }
    static const rl_dtype KT[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0};
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 4; c++) { /* c 2: a window of 6 (cuts prefix keys and deep ancestors); 3: the same in a ring */
            static const float SINKS[8] = {1.5f, -2.0f, 0.0f, 6.0f, -0.25f, 3.0f, -9.0f, 0.5f};
            att_shape a = {8, 2, 64, 32, c >= 2 ? 6 : 0, k == 1 && c == 0 ? 1.5f : 0.0f, 0.125f, c == 1 || c == 3 ? SINKS : NULL};
            int T = c ? 40 : 7, pos0 = c ? 70 : 23, ctx = pos0 + T, ring = c == 3 ? a.window + T - 1 : 0;
            int32_t par[40] = {-1, 0, 0, 1, 2, 3, -1};
            for (int t = 0; c && t < T; t++) { /* a root now and then, else one of the 3 nodes before */
                int back = (int)((frand() + 1) * 1.5f);
                par[t] = t == 0 || t % 9 == 4 ? -1 : t - 1 - (back < t ? back : t - 1);
            }
            float *q = rand_f((size_t)T * a.nh * a.hd, 2.5f);
            float *kc = rand_f((size_t)ctx * a.nkv * a.hd, 1), *vc = rand_f((size_t)ctx * a.nkv * a.vd, 1);
            float *got = Hf((size_t)T * a.nh * a.vd), *cpu = C ? Hf((size_t)T * a.nh * a.vd) : NULL;
            run_att_tree(D, got, q, kc, vc, par, KT[k], T, pos0, &a, ring);
            if (C) run_att_tree(C, cpu, q, kc, vc, par, KT[k], T, pos0, &a, ring);
            for (int p = 0; p < ctx; p++) {
                round_trip(KT[k], kc + (size_t)p * a.nkv * a.hd, a.nkv * a.hd);
                round_trip(KT[k], vc + (size_t)p * a.nkv * a.vd, a.nkv * a.vd);
            }
            size_t n = (size_t)T * a.nh * a.vd;
            double *ref = Hd(n);
            tree_ref(ref, q, kc, vc, par, T, pos0, &a);
            char what[96];
            snprintf(what, sizeof what, "%s %d nodes after %d softcap %g window %d ring %d%s", dt_name(KT[k]), T, pos0,
                     (double)a.softcap, a.window, ring, a.sinks ? " sinks" : "");
            cmp("attention_tree", what, got, cpu, ref, NULL, n);
        }
}

/* DSA attention: queries whose key count is below, equal to and above topk; one case with exact
 * ties of the index score (tie rule: lowest positions); token trees (parents TREE_PAR: node t
 * sees the rows before pos0, then its ancestors root first and itself). The test data keeps
 * distinct index scores >= 1e-4 from the top-k boundary (regenerated otherwise), so the
 * selection cannot depend on rounding. */
typedef struct { int T, pos0, nh, hd, vd, ih, ihd, topk, tree; } dsa_shape;
static const int32_t TREE_PAR[9] = {-1, 0, 0, 1, 2, 3, -1, 5, 4};

/* Node t's keys: rows[x] for x < the count returned (the prefix, then its path root first). */
static int dsa_rows(const dsa_shape *S, int t, int *rows) {
    int n = S->pos0 + t + 1;
    for (int j = 0; j < n; j++) rows[j] = j;
    if (!S->tree) return n;
    int d = 0;
    for (int u = t; u >= 0; u = TREE_PAR[u]) d++;
    n = S->pos0 + d;
    for (int u = t, x = n - 1; u >= 0; u = TREE_PAR[u]) rows[x--] = S->pos0 + u;
    return n;
}

static double dsa_ref(double *out, const float *q, const float *kc, const float *vc, const float *iq, const float *iw,
                      const float *ik, const dsa_shape *S, float scale) {
    int ctx = S->pos0 + S->T;
    double *sc = Hd((size_t)ctx), *p = Hd((size_t)ctx), min_gap = INFINITY;
    int *sel = H(sizeof(int) * (size_t)ctx), *rows = H(sizeof(int) * (size_t)ctx);
    for (int t = 0; t < S->T; t++) {
        int n = dsa_rows(S, t, rows), ns = 0;
        for (int j = 0; j < n; j++) {
            double v = 0;
            for (int h = 0; h < S->ih; h++) {
                double d = 0;
                for (int e = 0; e < S->ihd; e++) d += (double)iq[((size_t)t * S->ih + h) * S->ihd + e] * ik[(size_t)rows[j] * S->ihd + e];
                d /= sqrt((double)S->ihd);
                v += iw[(size_t)t * S->ih + h] * (d > 0 ? d : 0);
            }
            sc[j] = v;
        }
        if (n > S->topk) {
            double gap = top_k(sc, NULL, n, S->topk, sel);
            if (gap < min_gap) min_gap = gap;
            ns = S->topk;
        } else
            for (int j = 0; j < n; j++) sel[ns++] = j;
        for (int x = 0; x < ns; x++) sel[x] = rows[sel[x]]; /* the keys' cache rows */
        for (int h = 0; h < S->nh; h++) {
            double mx = -INFINITY, sum = 0;
            for (int x = 0; x < ns; x++) {
                double d = 0;
                for (int e = 0; e < S->hd; e++) d += (double)q[((size_t)t * S->nh + h) * S->hd + e] * kc[((size_t)sel[x] * S->nh + h) * S->hd + e];
                p[x] = d * scale;
                if (p[x] > mx) mx = p[x];
            }
            for (int x = 0; x < ns; x++) { p[x] = exp(p[x] - mx); sum += p[x]; }
            for (int e = 0; e < S->vd; e++) {
                double acc = 0;
                for (int x = 0; x < ns; x++) acc += p[x] * vc[((size_t)sel[x] * S->nh + h) * S->vd + e];
                out[((size_t)t * S->nh + h) * S->vd + e] = acc / sum;
            }
        }
    }
    return min_gap;
}
static void run_dsa(dev *d, float *res, const float *q, const float *kc, const float *vc, const float *iq,
                    const float *iw, const float *ik, const dsa_shape *S, float scale) {
    int ctx = S->pos0 + S->T;
    rl_dsa_args a = {S->ih, S->ihd, S->topk, upf(d, iq, (size_t)S->T * S->ih * S->ihd), upf(d, iw, (size_t)S->T * S->ih),
                     upf(d, ik, (size_t)ctx * S->ihd), 0, 0, 0, NULL};
    if (S->tree) a.parent = (const int32_t *)up(d, TREE_PAR, sizeof(int32_t) * (size_t)S->T);
    float *dq = upf(d, q, (size_t)S->T * S->nh * S->hd), *dk = upf(d, kc, (size_t)ctx * S->nh * S->hd);
    float *dv = upf(d, vc, (size_t)ctx * S->nh * S->vd), *o = dout(d, (size_t)S->T * S->nh * S->vd);
    d->o->dsa_attention(d->be, o, dq, dk, dv, S->T, S->pos0, S->nh, S->hd, S->vd, scale, &a);
    down(d, res, o, (size_t)S->T * S->nh * S->vd * sizeof(float));
}
static void test_dsa(void) {
    static const dsa_shape SH[] = {{6, 0, 3, 24, 16, 2, 16, 8, 0}, {9, 4, 3, 24, 16, 2, 16, 8, 0}, {1, 127, 2, 32, 32, 3, 16, 16, 0},
                                   {5, 30, 4, 20, 12, 2, 8, 31, 0}, {4, 10, 2, 16, 16, 2, 16, 5, 0},
                                   {9, 4, 3, 24, 16, 2, 16, 7, 1}, {9, 40, 2, 16, 16, 2, 16, 20, 1}};
    for (size_t c = 0; c < sizeof SH / sizeof SH[0]; c++) {
        const dsa_shape *S = &SH[c];
        int ctx = S->pos0 + S->T;
        size_t n = (size_t)S->T * S->nh * S->vd;
        float scale = 1.0f / sqrtf((float)S->hd);
        float *q = rand_f((size_t)S->T * S->nh * S->hd, 2), *kc = rand_f((size_t)ctx * S->nh * S->hd, 1);
        float *vc = rand_f((size_t)ctx * S->nh * S->vd, 1), *iq = NULL, *iw = NULL, *ik = NULL;
        double *ref = Hd(n);
        for (int tries = 0;; tries++) {
            iq = rand_f((size_t)S->T * S->ih * S->ihd, 1);
            iw = rand_f((size_t)S->T * S->ih, 1);
            ik = rand_f((size_t)ctx * S->ihd, 1);
            if (c == 4) /* keys repeat with period 3: exact ties, broken by the lowest positions */
                for (int j = 3; j < ctx; j++) memcpy(ik + (size_t)j * S->ihd, ik + (size_t)(j % 3) * S->ihd, sizeof(float) * (size_t)S->ihd);
            if (dsa_ref(ref, q, kc, vc, iq, iw, ik, S, scale) >= 1e-4) break;
            CHECK(tries < 20, "no DSA test data without near-ties");
            if (tries >= 20) return;
        }
        float *got = Hf(n), *cpu = C ? Hf(n) : NULL;
        run_dsa(D, got, q, kc, vc, iq, iw, ik, S, scale);
        if (C) run_dsa(C, cpu, q, kc, vc, iq, iw, ik, S, scale);
        char what[64];
        snprintf(what, sizeof what, "T=%d pos0=%d heads=%d topk=%d%s", S->T, S->pos0, S->nh, S->topk, S->tree ? " tree" : "");
        cmp("dsa_attention", what, got, cpu, ref, NULL, n);
    }
}

/* ---------- elementwise ---------- */

/* x with a few extreme values (exp overflow, saturation) at the start. */
static float *ew_input(size_t n, float amp) {
    float *x = rand_f(n, amp);
    static const float EXT[] = {-100, 100, -20, 20, 0, -88.5f, 9.5f, -9.5f};
    for (size_t i = 0; i < 8 && i < n; i++) x[i] = EXT[i];
    return x;
}
enum { EW_ADD, EW_SCALE, EW_SOFTCAP, EW_SIGMUL, EW_CLAMP, EW_ACT };
static void run_ew(dev *d, float *res, int op, const float *y, const float *x, int64_t n, float s, rl_act_kind k) {
    float *dy = upf(d, y, (size_t)n), *dx = upf(d, x, (size_t)n);
    switch (op) {
    case EW_ADD: d->o->add(d->be, dy, dx, n); break;
    case EW_SCALE: d->o->scale(d->be, dy, s, n); break;
    case EW_SOFTCAP: d->o->softcap(d->be, dy, s, n); break;
    case EW_SIGMUL: d->o->sigmoid_mul(d->be, dy, dx, n); break;
    case EW_CLAMP: d->o->clamp(d->be, dy, s, n); break;
    default: d->o->act_mul(d->be, k, dy, dx, n); break;
    }
    down(d, res, dy, (size_t)n * sizeof(float));
}
static void test_elementwise(void) {
    static const int64_t NS[] = {1, 1001};
    static const char *ACT[] = {"silu", "gelu_tanh", "gelu_erf", "swiglu_oai", "relu2", "identity"};
    for (int ni = 0; ni < 2; ni++) {
        int64_t n = NS[ni];
        for (int op = 0; op <= EW_ACT + 11; op++) {
            int kind = op - EW_ACT, is_act = op >= EW_ACT;
            rl_act_kind k = is_act ? (rl_act_kind)(kind % 6) : RL_ACT_SILU;
            int no_up = is_act && kind >= 6, oai = is_act && k == RL_ACT_SWIGLU_OAI; /* (oai: past both clamps too) */
            float s = op == EW_SCALE ? -1.37f : op == EW_SOFTCAP ? 30.0f : op == EW_CLAMP ? 2.5f : 0;
            float *y = ew_input((size_t)n, op == EW_SOFTCAP ? 60 : oai ? 12 : 4);
            float *x = no_up || op == EW_SCALE || op == EW_SOFTCAP || op == EW_CLAMP ? NULL : op == EW_SIGMUL ? ew_input((size_t)n, 6) : rand_f((size_t)n, oai ? 10 : 3);
            float *got = Hf((size_t)n), *cpu = C ? Hf((size_t)n) : NULL;
            run_ew(D, got, is_act ? EW_ACT : op, y, x, n, s, k);
            if (C) run_ew(C, cpu, is_act ? EW_ACT : op, y, x, n, s, k);
            double *ref = Hd((size_t)n);
            for (int64_t i = 0; i < n; i++) {
                double g = y[i];
                switch (is_act ? EW_ACT : op) {
                case EW_ADD: ref[i] = (float)(y[i] + x[i]); break; /* f32: one rounding */
                case EW_SCALE: ref[i] = (float)(y[i] * s); break;
                case EW_SOFTCAP: ref[i] = s * tanh(g / s); break;
                case EW_SIGMUL: ref[i] = g / (1 + exp(-(double)x[i])); break;
                case EW_CLAMP: ref[i] = fmin(fmax(g, -s), s); break;
                default:
                    if (k == RL_ACT_SILU) g = g / (1 + exp(-g));
                    else if (k == RL_ACT_GELU_TANH) g = 0.5 * g * (1 + tanh(sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
                    else if (k == RL_ACT_GELU_ERF) g = 0.5 * g * (1 + erf(g / sqrt(2.0)));
                    else if (k == RL_ACT_RELU2) g = g > 0 ? g * g : 0;
                    else if (k == RL_ACT_IDENTITY) {}
                    else { /* gpt-oss (transformers' GptOssExperts): gate clamped above, up both ways, alpha 1.702 */
                        g = fmin(g, 7.0);
                        ref[i] = g / (1 + exp(-1.702 * g)) * ((x ? fmax(fmin((double)x[i], 7.0), -7.0) : 0.0) + 1);
                        break;
                    }
                    ref[i] = x ? g * x[i] : g;
                }
            }
            const char *name = op == EW_ADD ? "add" : op == EW_SCALE ? "scale" : op == EW_SOFTCAP ? "softcap"
                             : op == EW_SIGMUL ? "sigmoid_mul" : op == EW_CLAMP ? "clamp" : NULL;
            char nm[32], what[48];
            if (!name) { snprintf(nm, sizeof nm, "act_mul/%s", ACT[k]); name = nm; }
            snprintf(what, sizeof what, "n=%lld up=%d", (long long)n, !no_up);
            cmp(name, what, got, cpu, ref, NULL, (size_t)n);
        }
    }
}

/* ---------- row ops ---------- */

static void run_rnd(dev *d, float *res, const float *x, const uint8_t *w, rl_dtype t, int T, int rows, int cols) {
    float *o = upf(d, x, (size_t)T * rows);
    void *dw = up(d, w, rl_dtype_row_bytes(t, cols) * (size_t)rows);
    d->o->row_norm_div(d->be, o, T, rows, dw, t, cols);
    down(d, res, o, (size_t)T * rows * sizeof(float));
}
/* row_norm_div over every supported dtype (rows longer than one 256-item chunk; a zero row). */
static void test_row_norm_div(void) {
    for (size_t k = 0; k < sizeof WDT / sizeof WDT[0]; k++) {
        rl_dtype t = WDT[k];
        if (!D->o->supports(D->be, t)) continue;
        int T = 3, rows = 37, cols = odd_in(t, 10);
        size_t rb = rl_dtype_row_bytes(t, cols);
        uint8_t *w = make_w(t, rows, cols);
        memset(w + 5 * rb, 0, rb); /* a zero row: divided by 1e-12 */
        float *x = rand_f((size_t)T * rows, 1), *got = Hf((size_t)T * rows), *cpu = C ? Hf((size_t)T * rows) : NULL;
        for (int tt = 0; tt < T; tt++) x[tt * rows + 5] = 1e-12f * (float)(tt + 1);
        run_rnd(D, got, x, w, t, T, rows, cols);
        if (C) run_rnd(C, cpu, x, w, t, T, rows, cols);
        double *ref = Hd((size_t)T * rows);
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < cols; i++) { double v = w_item(t, w + (size_t)r * rb, i, NULL); ss += v * v; }
            double nr = sqrt(ss);
            for (int tt = 0; tt < T; tt++) ref[(size_t)tt * rows + r] = x[(size_t)tt * rows + r] / (nr > 1e-12 ? nr : 1e-12);
        }
        char op[32];
        snprintf(op, sizeof op, "row_norm_div/%s", dt_name(t));
        cmp(op, "T=3 rows=37", got, cpu, ref, NULL, (size_t)T * rows);
    }
}

static void run_row_gate(dev *d, float *res, const float *out, const float *x, const float *g, int T, int n) {
    float *o = upf(d, out, (size_t)T * n), *dx = upf(d, x, (size_t)T * n), *dg = upf(d, g, (size_t)n);
    d->o->row_gate(d->be, o, dx, dg, T, n);
    down(d, res, o, (size_t)T * n * sizeof(float));
}
static void test_row_gate(void) {
    static const int NS[] = {1, 67, 1003}, TS[] = {1, 3, 17};
    for (int c = 0; c < 3; c++) {
        int n = NS[c], T = TS[c];
        float *out = rand_f((size_t)T * n, 2), *x = rand_f((size_t)T * n, 1), *g = rand_f((size_t)n, 0.2f);
        float *got = Hf((size_t)T * n), *cpu = C ? Hf((size_t)T * n) : NULL;
        run_row_gate(D, got, out, x, g, T, n);
        if (C) run_row_gate(C, cpu, out, x, g, T, n);
        double *ref = Hd((size_t)T * n);
        for (int t = 0; t < T; t++) {
            double z = 0;
            for (int i = 0; i < n; i++) z += (double)x[(size_t)t * n + i] * g[i];
            for (int i = 0; i < n; i++) ref[(size_t)t * n + i] = out[(size_t)t * n + i] / (1 + exp(-z));
        }
        char what[32];
        snprintf(what, sizeof what, "T=%d n=%d", T, n);
        cmp("row_gate", what, got, cpu, ref, NULL, (size_t)T * n);
    }
}

/* scale_rows: each row times its own weight (negative, zero, 1). */
static void run_scale_rows(dev *d, float *res, const float *y, const float *w, int T, int n) {
    float *dy = upf(d, y, (size_t)T * n), *dw = upf(d, w, (size_t)T);
    d->o->scale_rows(d->be, dy, dw, T, n);
    down(d, res, dy, (size_t)T * n * sizeof(float));
}
static void test_scale_rows(void) {
    static const int NS[] = {1, 67, 1003}, TS[] = {1, 3, 17};
    for (int c = 0; c < 3; c++) {
        int n = NS[c], T = TS[c];
        float *y = rand_f((size_t)T * n, 2), *w = rand_f((size_t)T, 3);
        if (T > 2) { w[1] = 0; w[2] = 1; }
        float *got = Hf((size_t)T * n), *cpu = C ? Hf((size_t)T * n) : NULL;
        run_scale_rows(D, got, y, w, T, n);
        if (C) run_scale_rows(C, cpu, y, w, T, n);
        double *ref = Hd((size_t)T * n);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < n; i++) ref[(size_t)t * n + i] = (double)y[(size_t)t * n + i] * w[t];
        char what[32];
        snprintf(what, sizeof what, "T=%d n=%d", T, n);
        cmp("scale_rows", what, got, cpu, ref, NULL, (size_t)T * n);
    }
}

/* gather_rows (repeated source rows) and scatter_add_rows (distinct rows per call, two calls
 * into overlapping row sets accumulate). */
static void run_gs(dev *d, float *g_res, float *s_res, const float *src, const float *dst0, const int32_t *rows,
                   const float *w, int nr, int n_src, int n) {
    float *ds = upf(d, src, (size_t)n_src * n), *dd = upf(d, dst0, (size_t)n_src * n), *dg = dout(d, (size_t)nr * n);
    int32_t *dr = up(d, rows, 3 * sizeof(int32_t) * (size_t)nr);
    float *dw = upf(d, w, 2 * (size_t)nr);
    d->o->gather_rows(d->be, dg, ds, dr, nr, n);
    d->o->scatter_add_rows(d->be, dd, dg, dr + nr, dw, nr, n);          /* the gathered rows back */
    d->o->scatter_add_rows(d->be, dd, ds, dr + 2 * nr, dw + nr, nr, n); /* rows overlapping the first call's */
    down(d, g_res, dg, (size_t)nr * n * sizeof(float));
    down(d, s_res, dd, (size_t)n_src * n * sizeof(float));
}
static void test_gather_scatter(void) {
    int n_src = 11, nr = 9, n = 67;
    float *src = rand_f((size_t)n_src * n, 2), *dst = rand_f((size_t)n_src * n, 1), *w = rand_f(2 * (size_t)nr, 1);
    int32_t *rows = H(3 * sizeof(int32_t) * (size_t)nr);
    for (int r = 0; r < nr; r++) {
        rows[r] = (int32_t)((r * 7 + 3) % 5);                  /* gather: repeats */
        rows[nr + r] = (int32_t)((r * 4 + 1) % n_src);         /* scatter: distinct within a call */
        rows[2 * nr + r] = (int32_t)((r * 5 + 2) % n_src);
    }
    float *g = Hf((size_t)nr * n), *s = Hf((size_t)n_src * n);
    float *gc = C ? Hf((size_t)nr * n) : NULL, *sc = C ? Hf((size_t)n_src * n) : NULL;
    run_gs(D, g, s, src, dst, rows, w, nr, n_src, n);
    if (C) run_gs(C, gc, sc, src, dst, rows, w, nr, n_src, n);
    double *gref = Hd((size_t)nr * n), *sref = to_d(dst, (size_t)n_src * n), *mag = Hd((size_t)n_src * n);
    for (int r = 0; r < nr; r++)
        for (int i = 0; i < n; i++) gref[(size_t)r * n + i] = src[(size_t)rows[r] * n + i];
    for (size_t i = 0; i < (size_t)n_src * n; i++) mag[i] = 1 + fabs(sref[i]);
    for (int call = 0; call < 2; call++)
        for (int r = 0; r < nr; r++) {
            int dr = rows[(call + 1) * nr + r];
            const float *sv = call ? src + (size_t)r * n : src + (size_t)rows[r] * n;
            for (int i = 0; i < n; i++) {
                double v = (double)w[call * nr + r] * sv[i];
                sref[(size_t)dr * n + i] += v;
                mag[(size_t)dr * n + i] += fabs(v);
            }
        }
    cmp("gather_rows", "repeated rows", g, gc, gref, NULL, (size_t)nr * n);
    cmp("scatter_add_rows", "two calls", s, sc, sref, mag, (size_t)n_src * n);
}

/* ---------- MoE routing ---------- */

typedef struct { rl_route_params p; int with_bias, T, ties; } route_case;

/* Reference routing of one token (scores in sc, chosen experts / weights sorted by expert id);
 * returns the margin of its decisions (group choice, top-k; see top_k). */
static double route_ref(const float *logit, const float *bias, const rl_route_params *p, double *sc, int *idx, double *w) {
    int E = p->n_experts, K = p->top_k, G = p->n_group > 1 ? p->n_group : 1, per = E / G;
    static double ch[RL_MOE_MAX_EXPERTS];
    static int ok[RL_MOE_MAX_EXPERTS];
    double mx = -INFINITY, sum = 0, gs[64], gap = INFINITY;
    int gsel[64];
    for (int e = 0; e < E; e++) if (logit[e] > mx) mx = logit[e];
    for (int e = 0; e < E; e++) {
        sc[e] = p->sigmoid ? 1 / (1 + exp(-(double)logit[e])) : exp(logit[e] - mx);
        sum += sc[e];
    }
    if (!p->sigmoid) for (int e = 0; e < E; e++) sc[e] /= sum;
    for (int e = 0; e < E; e++) { ch[e] = sc[e] + (bias ? bias[e] : 0); ok[e] = 1; }
    if (G > 1 && p->topk_group < G) { /* group score: its max, or the sum of its top 2 */
        for (int g = 0; g < G; g++) {
            int t2[2];
            top_k(ch + g * per, NULL, per, p->group_top2 ? 2 : 1, t2); /* which of near-equals: no matter */
            gs[g] = p->group_top2 ? ch[g * per + t2[0]] + ch[g * per + t2[1]] : ch[g * per + t2[0]];
        }
        double g1 = top_k(gs, NULL, G, p->topk_group, gsel);
        if (g1 < gap) gap = g1;
        for (int e = 0; e < E; e++) ok[e] = 0;
        for (int j = 0; j < p->topk_group; j++) for (int i = 0; i < per; i++) ok[gsel[j] * per + i] = 1;
    }
    double g3 = top_k(ch, ok, E, K, idx), tot = 0;
    if (g3 < gap) gap = g3;
    for (int a = 1; a < K; a++) { int v = idx[a], b = a - 1; while (b >= 0 && idx[b] > v) { idx[b + 1] = idx[b]; b--; } idx[b + 1] = v; }
    for (int j = 0; j < K; j++) tot += w[j] = sc[idx[j]];
    for (int j = 0; j < K; j++) w[j] = (p->norm_topk ? w[j] / tot : w[j]) * p->scale;
    return gap;
}
static void run_route(dev *d, float *scores, int32_t *idx, float *w, const float *logits, const float *bias, int T,
                      const rl_route_params *p) {
    int E = p->n_experts, K = p->top_k;
    float *dl = upf(d, logits, (size_t)T * E), *db = upf(d, bias, (size_t)E), *dw = dout(d, (size_t)T * K);
    int32_t *di = dalloc(d, sizeof(int32_t) * (size_t)T * K);
    d->o->moe_route(d->be, dl, db, T, p, di, dw);
    down(d, scores, dl, (size_t)T * E * sizeof(float));
    down(d, idx, di, (size_t)T * K * sizeof(int32_t));
    down(d, w, dw, (size_t)T * K * sizeof(float));
}
/* Sorts a token's (idx, w) by expert id. */
static void sort_choice(int32_t *idx, float *w, int K) {
    for (int a = 1; a < K; a++) {
        int32_t i = idx[a]; float v = w[a]; int b = a - 1;
        while (b >= 0 && idx[b] > i) { idx[b + 1] = idx[b]; w[b + 1] = w[b]; b--; }
        idx[b + 1] = i; w[b + 1] = v;
    }
}
static void test_moe_route(void) {
    static const route_case RC[] = {
        {{8, 2, 0, 1, 1, 0, 1, 1.0f}, 0, 17, 0},      /* Mixtral / Qwen: softmax, renormalised */
        {{60, 4, 0, 1, 1, 0, 0, 1.0f}, 0, 3, 0},      /* Qwen2-MoE: softmax, not renormalised */
        {{128, 8, 0, 0, 0, 0, 1, 1.0f}, 0, 5, 0},     /* Qwen3-MoE (n_group 0) */
        {{64, 6, 1, 8, 3, 1, 1, 2.5f}, 1, 17, 0},     /* DeepSeek-V3: sigmoid, bias, top-2 groups */
        {{32, 3, 0, 8, 3, 0, 0, 1.5f}, 0, 3, 0},      /* DeepSeek-V2: softmax, group max */
        {{16, 4, 1, 4, 4, 1, 1, 1.0f}, 1, 1, 0},      /* topk_group == n_group: groups off */
        {{16, 1, 1, 1, 1, 0, 1, 1.0f}, 0, 3, 0},      /* sigmoid, top-1 renormalised */
        {{32, 4, 1, 4, 1, 0, 0, 0.7f}, 1, 3, 0},      /* one group kept (max), bias, scale */
        {{16, 3, 0, 4, 2, 1, 1, 1.0f}, 0, 3, 1},      /* exact ties (equal logit pairs): lower id wins */
        {{12, 5, 1, 1, 1, 0, 0, 1.0f}, 0, 2, 1},      /* ties split at the k-th choice */
    };
    for (size_t c = 0; c < sizeof RC / sizeof RC[0]; c++) {
        const rl_route_params *p = &RC[c].p;
        int T = RC[c].T, E = p->n_experts, K = p->top_k;
        float *logits = Hf((size_t)T * E), *bias = RC[c].with_bias ? rand_f((size_t)E, 0.3f) : NULL;
        double *sref = Hd((size_t)T * E), *wref = Hd((size_t)T * K);
        int32_t *iref = H(sizeof(int32_t) * (size_t)T * K);
        for (int t = 0; t < T; t++)
            for (int tries = 0;; tries++) { /* a token without near-ties */
                int ix[64];
                float *l = logits + (size_t)t * E;
                for (int e = 0; e < E; e++) l[e] = RC[c].ties && (e & 1) ? l[e - 1] : 3 * frand();
                if (route_ref(l, bias, p, sref + (size_t)t * E, ix, wref + (size_t)t * K) >= 1e-4) {
                    for (int j = 0; j < K; j++) iref[(size_t)t * K + j] = ix[j];
                    break;
                }
                CHECK(tries < 50, "no routing test data without near-ties");
                if (tries >= 50) return;
            }
        float *sc = Hf((size_t)T * E), *w = Hf((size_t)T * K), *scc = C ? Hf((size_t)T * E) : NULL, *wc = C ? Hf((size_t)T * K) : NULL;
        int32_t *idx = H(sizeof(int32_t) * (size_t)T * K), *idxc = H(sizeof(int32_t) * (size_t)T * K);
        run_route(D, sc, idx, w, logits, bias, T, p);
        if (C) run_route(C, scc, idxc, wc, logits, bias, T, p);
        for (int t = 0; t < T; t++) {
            sort_choice(idx + (size_t)t * K, w + (size_t)t * K, K);
            if (C) sort_choice(idxc + (size_t)t * K, wc + (size_t)t * K, K);
        }
        char what[64];
        snprintf(what, sizeof what, "case %zu E=%d K=%d groups %d/%d T=%d", c, E, K, p->topk_group, p->n_group, T);
        cmp_bytes("moe_route.idx", what, idx, iref, sizeof(int32_t) * (size_t)T * K);
        if (C) cmp_bytes("moe_route.idx", what, idxc, iref, sizeof(int32_t) * (size_t)T * K);
        if (!memcmp(idx, iref, sizeof(int32_t) * (size_t)T * K)) cmp("moe_route.w", what, w, wc, wref, NULL, (size_t)T * K);
        cmp("moe_route.scores", what, sc, scc, sref, NULL, (size_t)T * E);
    }
}

/* ---------- Gated DeltaNet ---------- */

static void run_conv(dev *d, float *res, const float *in, const float *w, const float *b, int T, int Cn, int K, int silu) {
    float *di = upf(d, in, (size_t)(K - 1 + T) * Cn), *dw = upf(d, w, (size_t)Cn * K), *o = dout(d, (size_t)T * Cn);
    d->o->dn_conv(d->be, o, di, dw, b ? upf(d, b, (size_t)Cn) : NULL, T, Cn, K, silu);
    down(d, res, o, (size_t)T * Cn * sizeof(float));
}
static void test_dn_conv(void) {
    static const int TS[] = {1, 5, 17, 6}, KS[] = {4, 2, 3, 3};
    for (int c = 0; c < 4; c++) { /* the last without SiLU (LFM2's short conv) */
        int T = TS[c], K = KS[c], Cn = 37 + 30 * c, silu = c < 3;
        float *in = rand_f((size_t)(K - 1 + T) * Cn, 2), *w = rand_f((size_t)Cn * K, 1), *b = c ? rand_f((size_t)Cn, 1) : NULL;
        float *got = Hf((size_t)T * Cn), *cpu = C ? Hf((size_t)T * Cn) : NULL;
        run_conv(D, got, in, w, b, T, Cn, K, silu);
        if (C) run_conv(C, cpu, in, w, b, T, Cn, K, silu);
        double *ref = Hd((size_t)T * Cn);
        for (int t = 0; t < T; t++)
            for (int ch = 0; ch < Cn; ch++) {
                double a = b ? b[ch] : 0;
                for (int k = 0; k < K; k++) a += (double)w[(size_t)ch * K + k] * in[(size_t)(t + k) * Cn + ch];
                ref[(size_t)t * Cn + ch] = silu ? a / (1 + exp(-a)) : a;
            }
        char what[48];
        snprintf(what, sizeof what, "T=%d C=%d K=%d%s%s", T, Cn, K, b ? " bias" : "", silu ? "" : " no SiLU");
        cmp("dn_conv", what, got, cpu, ref, NULL, (size_t)T * Cn);
    }
}

typedef struct { const float *conv, *b, *a, *z, *a_log, *dt_bias, *norm_w; } dn_in;

/* The gated delta rule (transformers' Qwen3_5GatedDeltaNet, recurrent form) in double. */
static void dn_ref(const rl_dn_dims *dd, double *S, const dn_in *x, double *core, int T) {
    int nk = dd->k_heads, nv = dd->v_heads, dk = dd->k_dim, dv = dd->v_dim, Cn = 2 * nk * dk + nv * dv;
    double q[64], k[64], kv[64], o[64];
    for (int h = 0; h < nv; h++) {
        int kh = dd->v_tiled ? h % nk : h / (nv / nk); /* GGUF qwen35's tiled value heads, or HF's grouped ones */
        double *Sh = S + (size_t)h * dk * dv;
        for (int t = 0; t < T; t++) {
            const float *row = x->conv + (size_t)t * Cn;
            double qs = 0, ks = 0;
            for (int i = 0; i < dk; i++) { q[i] = row[kh * dk + i]; k[i] = row[nk * dk + kh * dk + i]; qs += q[i] * q[i]; ks += k[i] * k[i]; }
            for (int i = 0; i < dk; i++) { q[i] /= sqrt(qs + 1e-6) * sqrt((double)dk); k[i] /= sqrt(ks + 1e-6); }
            double beta = 1 / (1 + exp(-(double)x->b[t * nv + h])), sp = log1p(exp((double)x->a[t * nv + h] + x->dt_bias[h]));
            double A = dd->a_direct ? (double)x->a_log[h] : -exp((double)x->a_log[h]); /* GGUF ssm_a is A itself */
            double decay = exp(A * sp);
            for (int c = 0; c < dv; c++) kv[c] = 0;
            for (int i = 0; i < dk; i++)
                for (int c = 0; c < dv; c++) { Sh[i * dv + c] *= decay; kv[c] += k[i] * Sh[i * dv + c]; }
            for (int c = 0; c < dv; c++) { kv[c] = beta * (row[2 * nk * dk + h * dv + c] - kv[c]); o[c] = 0; }
            for (int i = 0; i < dk; i++)
                for (int c = 0; c < dv; c++) { Sh[i * dv + c] += k[i] * kv[c]; o[c] += q[i] * Sh[i * dv + c]; }
            double ss = 0;
            for (int c = 0; c < dv; c++) ss += o[c] * o[c];
            double r = 1 / sqrt(ss / dv + dd->norm_eps);
            for (int c = 0; c < dv; c++) {
                double z = x->z[(size_t)t * nv * dv + h * dv + c];
                core[(size_t)t * nv * dv + h * dv + c] = o[c] * r * x->norm_w[c] * z / (1 + exp(-z));
            }
        }
    }
}
/* Two calls (T1 then T - T1 tokens, the state carried on the device); T1 = T: one call. */
static void run_recur(dev *d, float *core, float *state, const rl_dn_dims *dd, const float *S0, const dn_in *x, int T,
                      int T1) {
    int nv = dd->v_heads, dv = dd->v_dim, Cn = 2 * dd->k_heads * dd->k_dim + nv * dv;
    size_t ns = (size_t)nv * dd->k_dim * dv;
    float *dS = upf(d, S0, ns), *dc = upf(d, x->conv, (size_t)T * Cn), *db = upf(d, x->b, (size_t)T * nv);
    float *da = upf(d, x->a, (size_t)T * nv), *dz = upf(d, x->z, (size_t)T * nv * dv), *al = upf(d, x->a_log, (size_t)nv);
    float *dt = upf(d, x->dt_bias, (size_t)nv), *nw = upf(d, x->norm_w, (size_t)dv), *o = dout(d, (size_t)T * nv * dv);
    d->o->dn_recur(d->be, dd, dS, dc, db, da, dz, al, dt, nw, o, T1);
    if (T1 < T)
        d->o->dn_recur(d->be, dd, dS, dc + (size_t)T1 * Cn, db + (size_t)T1 * nv, da + (size_t)T1 * nv,
                       dz + (size_t)T1 * nv * dv, al, dt, nw, o + (size_t)T1 * nv * dv, T - T1);
    down(d, core, o, (size_t)T * nv * dv * sizeof(float));
    down(d, state, dS, ns * sizeof(float));
}
static void test_dn_recur(void) {
    static const rl_dn_dims DD[] = {{2, 4, 16, 24, 4, 1e-6f, 0, 0}, {1, 1, 32, 16, 4, 1e-6f, 0, 0}, {2, 6, 8, 40, 4, 1e-5f, 0, 0},
                                    {2, 6, 8, 40, 4, 1e-5f, 1, 1}};
    for (int c = 0; c < 4; c++) {
        const rl_dn_dims *dd = &DD[c];
        int T = 8, nv = dd->v_heads, dv = dd->v_dim, Cn = 2 * dd->k_heads * dd->k_dim + nv * dv;
        size_t ns = (size_t)nv * dd->k_dim * dv, nc = (size_t)T * nv * dv;
        dn_in x = {rand_f((size_t)T * Cn, 1.5f), rand_f((size_t)T * nv, 2), rand_f((size_t)T * nv, 2), rand_f(nc, 2),
                   rand_f((size_t)nv, 1), rand_f((size_t)nv, 1), rand_f((size_t)dv, 1)};
        if (dd->a_direct) for (int h = 0; h < nv; h++) ((float *)x.a_log)[h] = -expf(x.a_log[h]); /* ssm_a: A = -exp(A_log) < 0 */
        float *S0 = rand_f(ns, 0.5f);
        double *S = to_d(S0, ns), *ref = Hd(nc);
        dn_ref(dd, S, &x, ref, T);
        float *core = Hf(nc), *st = Hf(ns), *core1 = Hf(nc), *st1 = Hf(ns), *cc = C ? Hf(nc) : NULL, *sc = C ? Hf(ns) : NULL;
        run_recur(D, core, st, dd, S0, &x, T, 3);   /* state carried: 3 + 5 tokens */
        run_recur(D, core1, st1, dd, S0, &x, T, T); /* one call over the concatenation */
        if (C) run_recur(C, cc, sc, dd, S0, &x, T, T);
        char what[64];
        snprintf(what, sizeof what, "heads %d/%d dk=%d dv=%d%s", dd->k_heads, nv, dd->k_dim, dv, dd->v_tiled ? " tiled, A direct" : "");
        cmp("dn_recur/core", what, core, cc, ref, NULL, nc);
        cmp("dn_recur/state", what, st, sc, S, NULL, ns);
        cmp("dn_recur/split", what, core, NULL, to_d(core1, nc), NULL, nc);
        cmp("dn_recur/split", what, st, NULL, to_d(st1, ns), NULL, ns);
    }
}

/* ---------- Mamba-2 ---------- */

typedef struct { const float *xbc, *dt, *a_log, *dt_bias, *d_skip; } ssm_in;

/* transformers' Mamba-2 mixer, recurrent form, in double; mag: 1 + |D x| + sum_n |S_n C_n|. */
static void ssm_ref(const rl_ssm_dims *sd, double *S, const ssm_in *x, double *y, double *mag, int T) {
    int nh = sd->heads, P = sd->head_dim, N = sd->d_state, G = sd->groups, I = nh * P, Cn = I + 2 * G * N;
    for (int h = 0; h < nh; h++) {
        int g = h / (nh / G);
        const float *al = x->a_log + (sd->a_state ? (size_t)h * N : (size_t)h);
        for (int t = 0; t < T; t++) {
            const float *row = x->xbc + (size_t)t * Cn;
            double dt = log1p(exp((double)x->dt[t * nh + h] + x->dt_bias[h]));
            dt = fmin(fmax(dt, sd->dt_min), sd->dt_max);
            for (int p = 0; p < P; p++) {
                double xv = row[h * P + p], acc = 0, m = 1 + fabs(x->d_skip[h] * xv);
                for (int n = 0; n < N; n++) {
                    double *s = &S[((size_t)h * P + p) * N + n], a = al[sd->a_state ? n : 0];
                    double A = sd->a_direct ? a : -exp(a); /* GGUF ssm_a is A itself; Mamba-1: one per state */
                    *s = *s * exp(dt * A) + dt * row[I + g * N + n] * xv;
                    acc += *s * row[I + G * N + g * N + n];
                    m += fabs(*s * row[I + G * N + g * N + n]);
                }
                y[(size_t)t * I + h * P + p] = acc + x->d_skip[h] * xv;
                mag[(size_t)t * I + h * P + p] = m;
            }
        }
    }
}
static void run_ssm(dev *d, float *y, float *state, const rl_ssm_dims *sd, const float *S0, const ssm_in *x, int T, int T1) {
    int nh = sd->heads, I = nh * sd->head_dim, Cn = I + 2 * sd->groups * sd->d_state;
    size_t ns = (size_t)I * sd->d_state;
    float *dS = upf(d, S0, ns), *dx = upf(d, x->xbc, (size_t)T * Cn), *ddt = upf(d, x->dt, (size_t)T * nh);
    float *al = upf(d, x->a_log, (size_t)nh * (sd->a_state ? sd->d_state : 1)), *db = upf(d, x->dt_bias, (size_t)nh), *ds = upf(d, x->d_skip, (size_t)nh);
    float *o = dout(d, (size_t)T * I);
    d->o->ssm_scan(d->be, sd, dS, dx, ddt, al, db, ds, o, T1);
    if (T1 < T)
        d->o->ssm_scan(d->be, sd, dS, dx + (size_t)T1 * Cn, ddt + (size_t)T1 * nh, al, db, ds, o + (size_t)T1 * I, T - T1);
    down(d, y, o, (size_t)T * I * sizeof(float));
    down(d, state, dS, ns * sizeof(float));
}
static void test_ssm_scan(void) {
    static const rl_ssm_dims SD[] = {{1, 4, 16, 8, 0.0f, INFINITY, 0, 0}, {2, 6, 32, 12, 0.0f, INFINITY, 1, 0},
                                     {3, 3, 24, 70, 0.05f, 0.5f, 0, 0},
                                     {1, 97, 16, 1, 0.0f, INFINITY, 0, 1}, /* Mamba-1: a channel per head, A per state */
                                     {1, 5, 40, 3, 0.0f, INFINITY, 1, 1}};
    for (int c = 0; c < 5; c++) {
        const rl_ssm_dims *sd = &SD[c];
        int T = 8, nh = sd->heads, I = nh * sd->head_dim, Cn = I + 2 * sd->groups * sd->d_state;
        size_t ns = (size_t)I * sd->d_state, ny = (size_t)T * I;
        size_t na = (size_t)nh * (sd->a_state ? sd->d_state : 1);
        ssm_in x = {rand_f((size_t)T * Cn, 1.5f), rand_f((size_t)T * nh, 2), rand_f(na, 1), rand_f((size_t)nh, 1), rand_f((size_t)nh, 1)};
        if (sd->a_direct) for (size_t h = 0; h < na; h++) ((float *)x.a_log)[h] = -expf(x.a_log[h]);
        float *S0 = rand_f(ns, 0.5f);
        double *S = to_d(S0, ns), *ref = Hd(ny), *mag = Hd(ny);
        ssm_ref(sd, S, &x, ref, mag, T);
        float *y = Hf(ny), *st = Hf(ns), *y1 = Hf(ny), *st1 = Hf(ns), *yc = C ? Hf(ny) : NULL, *sc = C ? Hf(ns) : NULL;
        run_ssm(D, y, st, sd, S0, &x, T, 3);   /* state carried: 3 + 5 tokens */
        run_ssm(D, y1, st1, sd, S0, &x, T, T); /* one call */
        if (C) run_ssm(C, yc, sc, sd, S0, &x, T, T);
        char what[80];
        snprintf(what, sizeof what, "groups %d heads %d N=%d P=%d%s%s%s", sd->groups, nh, sd->d_state, sd->head_dim,
                 isinf(sd->dt_max) ? "" : " dt clamped", sd->a_direct ? " A direct" : "", sd->a_state ? " A per state" : "");
        cmp("ssm_scan/y", what, y, yc, ref, mag, ny);
        cmp("ssm_scan/state", what, st, sc, S, NULL, ns);
        cmp("ssm_scan/split", what, y, NULL, to_d(y1, ny), NULL, ny);
        cmp("ssm_scan/split", what, st, NULL, to_d(st1, ns), NULL, ns);
    }
}

/* ---------- driver ---------- */

static int open_dev(dev *d, const char *name) {
    memset(d, 0, sizeof *d);
    d->name = name;
    if (!(d->be = rl_backend_open(name, 2))) return -1;
    d->o = d->be->ops;
    d->cap = ARENA_BYTES;
    if (!(d->arena = d->o->arena_new(d->be, d->cap))) { rl_backend_close(d->be); return -1; }
    size_t sb = d->o->scratch_bytes(d->be, MAX_CTX, MAX_T, MAX_IN);
    d->o->set_scratch(d->be, dalloc(d, sb), MAX_CTX, MAX_T, MAX_IN);
    return 0;
}
static void close_dev(dev *d) {
    d->o->arena_free(d->be, d->arena, d->cap);
    rl_backend_close(d->be);
}

#define RUN_ON(fn) do { size_t md = D->used, mc = C ? C->used : 0; RUN(fn); hfree_all(); \
    CHECK(D->o->status(D->be) == 0, "%s status: %s", D->name, rl_errmsg()); D->used = md; if (C) C->used = mc; } while (0)

static void test_status(void) { CHECK(D->o->status(D->be) == 0, "%s: %s", D->name, rl_errmsg()); }

/* 1 if name is in the comma-separated list. */
static int listed(const char *list, const char *name) {
    size_t l = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += l)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') && (p[l] == 0 || p[l] == ',')) return 1;
    return 0;
}

int main(void) {
    /* the names this suite knows, then any other name the build lists */
    char names[16][32], skipped[512] = "";
    int nn = 0;
    static const char *KNOWN[] = {"cpu", "cpu-staged", "cuda", "vulkan"};
    for (int i = 0; i < 4; i++) snprintf(names[nn++], sizeof names[0], "%s", KNOWN[i]);
    const char *av = rl_backend_available();
    for (const char *p = av; *p && nn < 16;) {
        size_t l = strcspn(p, ", ");
        if (l) {
            snprintf(names[nn], sizeof names[0], "%.*s", (int)l, p);
            int dup = 0;
            for (int i = 0; i < nn; i++) dup |= !strcmp(names[i], names[nn]);
            if (!dup) nn++;
        }
        p += l + (p[l] != 0);
    }
    static dev cpu, other;
    if (open_dev(&cpu, "cpu")) {
        fprintf(stderr, "cannot open the cpu backend: %s\n", rl_errmsg());
        printf("RESULT 0 1\n");
        return 1;
    }
    for (int b = 0; b < nn; b++) {
        if (b == 0) { D = &cpu; C = NULL; }
        else if (open_dev(&other, names[b])) { /* not built in, or built in without a usable device */
            fprintf(stderr, "  (%s: %s)\n", names[b], rl_errmsg());
            int built = listed(av, names[b]); /* built in without a device here: counted as skipped */
            t_skipped += built;
            snprintf(skipped + strlen(skipped), sizeof skipped - strlen(skipped), "%s%s%s", *skipped ? ", " : "",
                     names[b], built ? " (built in, no usable device: skipped)" : " (not built in)");
            continue;
        } else { D = &other; C = &cpu; }
        fprintf(stderr, "backend %s: %s (host_shared %d; matmul dtypes:", D->name, D->o->describe(D->be), D->o->host_shared);
        for (size_t k = 0; k < sizeof WDT / sizeof WDT[0]; k++)
            if (D->o->supports(D->be, WDT[k])) fprintf(stderr, " %s", dt_name(WDT[k]));
            else CHECK(D != &cpu, "the cpu backend must support %s", dt_name(WDT[k]));
        fprintf(stderr, ")\n");
        n_stats = 0;
        rng = 0x2545f4914f6cdd1dull; /* the same inputs on every backend */
        RUN_ON(test_updown);
        RUN_ON(test_zero_copy2d);
        RUN_ON(test_convert);
        RUN_ON(test_matmul);
        RUN_ON(test_matmul_t);
        RUN_ON(test_norms);
        RUN_ON(test_rope);
        RUN_ON(test_attention);
        RUN_ON(test_attention_kv);
        RUN_ON(test_kv_store);
        RUN_ON(test_attention_tree);
        RUN_ON(test_dsa);
        RUN_ON(test_elementwise);
        RUN_ON(test_row_norm_div);
        RUN_ON(test_row_gate);
        RUN_ON(test_scale_rows);
        RUN_ON(test_gather_scatter);
        RUN_ON(test_moe_route);
        RUN_ON(test_dn_conv);
        RUN_ON(test_dn_recur);
        RUN_ON(test_ssm_scan);
        RUN_ON(test_status);
        fprintf(stderr, "  %-22s %8s %12s %12s\n", "op", "tol", "max vs ref", C ? "max vs cpu" : "");
        for (int i = 0; i < n_stats; i++) {
            if (C) fprintf(stderr, "  %-22s %8.0e %12.3e %12.3e\n", STATS[i].op, STATS[i].tol, STATS[i].ref_max, STATS[i].cpu_max);
            else fprintf(stderr, "  %-22s %8.0e %12.3e\n", STATS[i].op, STATS[i].tol, STATS[i].ref_max);
        }
        if (D != &cpu) close_dev(D);
    }
    close_dev(&cpu);
    fprintf(stderr, "backends skipped: %s\n", *skipped ? skipped : "none");
    TEST_END();
}
