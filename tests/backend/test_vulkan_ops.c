/* The vulkan backend op by op against the cpu backend (and, for matmul, a double-accumulated
 * scalar reference over the exactly dequantised weights, since the cpu may quantise activations
 * to int8 for Q8_0 / Q4_1 at small T): random inputs, odd sizes, every weight dtype. Counted as
 * skipped where vulkan is not built in or no Vulkan device opens (tests/backend/
 * test_conformance.c covers every backend with its own tolerances once it is in the tree).
 *
 * err = |vulkan - ref| / (1 + |ref|) unless stated; tolerances per op:
 *   convert, zero, copy2d, gather_rows, add, scale, moe_route idx   0 (exact)
 *   matmul             1e-5 of |bias| + sum |x w| (f32 accumulation in another order)
 *   rmsnorm, layernorm, row_gate, attention, dsa_attention,
 *   moe_route w, dn_conv, dn_recur (core and state)                 1e-5
 *   rope, softcap, sigmoid_mul, act_mul, row_norm_div, scatter_add  1e-6 */
#include "test.h"
#include "rabbitllm.h"
#include "backend/backend.h"
#include "backend/cpu/hfq.h"
#include "model/rope.h"
#include "util/err.h"
#include <math.h>
#include <stdint.h>

static rl_backend *VK, *CPU;
static uint8_t *arena, *arena_next;   /* vulkan device memory (addresses only) */
static size_t arena_bytes = (size_t)64 << 20;
static float *cpu_scratch;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / (1 << 23)) - 1.0);
}
static float *rnd(size_t n, float s) {
    float *p = malloc(n * sizeof *p + 4);
    for (size_t i = 0; i < n; i++) p[i] = frand() * s;
    return p;
}
/* device copy of n host bytes (bump-allocated in the test arena, 256-aligned) */
static void *dev(const void *h, size_t n) {
    uint8_t *d = arena_next;
    arena_next += (n + 255) & ~(size_t)255;
    if (h && n) CHECK(VK->ops->upload(VK, d, h, n) == 0, "upload: %s", rl_last_error());
    return d;
}
static float *down(const void *d, size_t n) {
    float *h = malloc(n * sizeof(float) + 4);
    CHECK(VK->ops->download(VK, h, d, n * sizeof(float)) == 0, "download: %s", rl_last_error());
    return h;
}
static double cmp(const char *what, const float *got, const float *want, size_t n, double tol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= worst)) { worst = e; wi = i; }
    }
    CHECK(worst <= tol, "%s: err %.3g > %.3g at [%zu]: got %.9g want %.9g", what, worst, tol, wi, got[wi], want[wi]);
    fprintf(stderr, "  %-28s max err %.3g (tol %.0e)\n", what, worst, tol);
    return worst;
}
static void reset(void) { arena_next = arena; }

/* random weights of dtype dt (rows x cols, cols a multiple of 32 for block types) */
static uint8_t *weights(rl_dtype dt, int rows, int cols) {
    size_t rb = rl_dtype_row_bytes(dt, cols);
    uint8_t *w = malloc(rb * rows + 4);
    for (int r = 0; r < rows; r++) {
        uint8_t *row = w + rb * r;
        for (int c = 0; c < cols; c++) {
            float v = frand();
            if (dt == RL_DT_F32) memcpy(row + 4 * c, &v, 4);
            else if (dt == RL_DT_F16) { uint16_t h = rl_f32_to_f16(v); memcpy(row + 2 * c, &h, 2); }
            else if (dt == RL_DT_BF16) { uint16_t h = rl_f32_to_bf16(v); memcpy(row + 2 * c, &h, 2); }
        }
        if (dt == RL_DT_Q8_0 || dt == RL_DT_Q4_1)
            for (int b = 0; b < cols / 32; b++) {
                uint8_t *blk = row + b * RL_DTYPES[dt].block_bytes;
                uint16_t d = rl_f32_to_f16(0.01f + 0.02f * fabsf(frand())), m = rl_f32_to_f16(frand() * 0.1f);
                memcpy(blk, &d, 2);
                if (dt == RL_DT_Q4_1) memcpy(blk + 2, &m, 2);
                for (int j = dt == RL_DT_Q8_0 ? 2 : 4; j < (int)RL_DTYPES[dt].block_bytes; j++)
                    blk[j] = (uint8_t)(frand() * 127.0f + 128.0f);
            }
    }
    return w;
}

/* Random blocks of a GGUF block type (Q5_0 / Q5_1 and the k-quants): random bytes with the f16
 * super scales (and mins) set to small finite values. */
static uint8_t *gguf_blocks(rl_dtype dt, int rows, int cols) {
    size_t bb = RL_DTYPES[dt].block_bytes, nb = (size_t)rows * (size_t)(cols / RL_DTYPES[dt].block);
    uint8_t *w = malloc(nb * bb + 4);
    int d_at = dt == RL_DT_Q2_K ? 80 : dt == RL_DT_Q3_K ? 108 : dt == RL_DT_Q6_K ? 208 : 0;
    int m_at = dt == RL_DT_Q2_K ? 82 : dt == RL_DT_Q5_1 || dt == RL_DT_Q4_K || dt == RL_DT_Q5_K ? 2 : -1;
    for (size_t b = 0; b < nb; b++) {
        uint8_t *blk = w + b * bb;
        for (size_t j = 0; j < bb; j++) blk[j] = (uint8_t)(frand() * 127.0f + 128.0f);
        uint16_t d = rl_f32_to_f16(0.001f + 0.02f * fabsf(frand())), m = rl_f32_to_f16(frand() * 0.05f);
        if (dt == RL_DT_GMXFP4) blk[0] = (uint8_t)(118 + (b * 7) % 14); /* e8m0: 2^-10 .. 2^3 */
        else memcpy(blk + d_at, &d, 2);
        if (m_at >= 0) memcpy(blk + m_at, &m, 2);
    }
    return w;
}

static void test_matmul_convert(void) {
    const rl_dtype dts[] = {RL_DT_F32, RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0, RL_DT_Q4_1};
    const int Ts[] = {1, 3, 9, 17};
    for (int di = 0; di < 5; di++)
        for (int ti = 0; ti < 4; ti++) {
            reset();
            rl_dtype dt = dts[di];
            /* rows up to 256 take the thread-per-row path, longer ones the workgroup-per-row one */
            int T = Ts[ti], in = (dt >= RL_DT_Q8_0 ? 96 : 37 + ti) + (ti >= 2 ? 320 : 0), out = 45 + ti;
            size_t rb = rl_dtype_row_bytes(dt, in);
            /* odd byte offsets of the weights inside a layer image */
            uint8_t *w = weights(dt, out, in), *wd = (uint8_t *)dev(NULL, rb * out + 8) + (dt == RL_DT_F32 ? 4 : 2);
            CHECK(VK->ops->upload(VK, wd, w, rb * out) == 0, "upload");
            float *x = rnd((size_t)T * in, 1), *b = rnd(out, 1), *wf = malloc((size_t)out * in * sizeof(float));
            rl_cpu_ops.convert(CPU, wf, w, dt, (int64_t)out * in);
            float *xd = dev(x, (size_t)T * in * 4), *bd = dev(b, (size_t)out * 4), *yd = dev(NULL, (size_t)T * out * 4);
            float *cd = dev(NULL, (size_t)out * in * 4);
            VK->ops->convert(VK, cd, wd, dt, (int64_t)out * in);
            float *cv = down(cd, (size_t)out * in);
            char name[64];
            snprintf(name, sizeof name, "convert %s", RL_DTYPES[dt].st_name);
            if (ti == 0) cmp(name, cv, wf, (size_t)out * in, 0);
            for (int bias = 0; bias < 2; bias++) {
                VK->ops->matmul(VK, yd, xd, wd, dt, bias ? bd : NULL, T, in, out);
                float *y = down(yd, (size_t)T * out), *ref = malloc((size_t)T * out * sizeof(float));
                double worst = 0;
                for (int t = 0; t < T; t++)
                    for (int o = 0; o < out; o++) {
                        double s = bias ? b[o] : 0, mag = bias ? fabs(b[o]) : 0;
                        for (int i = 0; i < in; i++) {
                            s += (double)x[t * in + i] * wf[(size_t)o * in + i];
                            mag += fabs((double)x[t * in + i] * wf[(size_t)o * in + i]);
                        }
                        double e = fabs(y[t * out + o] - s) / (mag + 1e-30);
                        if (e > worst) worst = e;
                        ref[t * out + o] = (float)s;
                    }
                snprintf(name, sizeof name, "matmul %s T=%d%s", RL_DTYPES[dt].st_name, T, bias ? " bias" : "");
                CHECK(worst <= 1e-5, "%s: err %.3g of sum |x w|", name, worst);
                if (ti == 3 && bias) fprintf(stderr, "  %-28s max err %.3g of sum|xw| (tol 1e-05)\n", name, worst);
                free(y); free(ref);
            }
            /* row_norm_div over the same weights */
            float *o0 = rnd((size_t)T * out, 1), *od = dev(o0, (size_t)T * out * 4);
            VK->ops->row_norm_div(VK, od, T, out, wd, dt, in);
            rl_cpu_ops.row_norm_div(CPU, o0, T, out, w, dt, in);
            float *og = down(od, (size_t)T * out);
            snprintf(name, sizeof name, "row_norm_div %s", RL_DTYPES[dt].st_name);
            cmp(name, og, o0, (size_t)T * out, 1e-6);
            free(o0); free(og); free(cv);
            free(w); free(x); free(b); free(wf);
        }
    CHECK(VK->ops->status(VK) == 0, "status: %s", rl_last_error());
}

/* GGUF weight types against the cpu's ggml numerics (activations rounded to f16 / bf16 or
 * quantised to Q8_0 / Q8_1 blocks, integer block dots): 1e-5 of sum |x w| */
static void test_matmul_gguf(void) {
    const rl_dtype dts[] = {RL_DT_GF16, RL_DT_GBF16, RL_DT_GQ8_0, RL_DT_GQ4_1, RL_DT_Q4_0, RL_DT_IQ4_NL, RL_DT_Q5_0,
                            RL_DT_Q5_1, RL_DT_Q2_K, RL_DT_Q3_K, RL_DT_Q4_K, RL_DT_Q5_K, RL_DT_Q6_K, RL_DT_GMXFP4};
    const rl_dtype lay[] = {RL_DT_F16, RL_DT_BF16, RL_DT_Q8_0, RL_DT_Q4_1, RL_DT_Q8_0, RL_DT_Q8_0};
    for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++)
        for (int T = 1; T <= (RL_DTYPES[dts[di]].block == 256 ? 47 : 21); T += 4 + 10 * (T > 1)) {
            /* 47 k-quant rows of 768: two passes through the activation scratch */
            reset();
            rl_dtype dt = dts[di];
            int kq = RL_DTYPES[dt].block == 256; /* k-quants: rows of whole 256-blocks (256: one thread per row) */
            int in = kq ? (T > 1 ? 768 : 256) : T > 1 ? 416 : 160, out = kq ? 1001 : 3001;
            size_t rb = rl_dtype_row_bytes(dt, in);
            /* random blocks: the Q8_0 generator's bytes make valid Q4_0 / IQ4_NL blocks of 18 bytes */
            uint8_t *w = di < 6 ? weights(lay[di], out, in) : gguf_blocks(dt, out, in);
            if (dt == RL_DT_Q4_0 || dt == RL_DT_IQ4_NL)
                for (int b = 0; b < out * in / 32; b++) memmove(w + (size_t)b * 18, w + (size_t)b * 34, 18);
            float *x = rnd((size_t)T * in, 2), *y = malloc((size_t)T * out * 4), *wf = malloc((size_t)out * in * 4);
            rl_cpu_ops.matmul(CPU, y, x, w, dt, NULL, T, in, out);
            rl_cpu_ops.convert(CPU, wf, w, dt, (int64_t)out * in);
            float *wd = dev(w, rb * out), *xd = dev(x, (size_t)T * in * 4), *yd = dev(NULL, (size_t)T * out * 4);
            CHECK(VK->ops->supports(VK, dt), "%s supported", RL_DTYPES[dt].st_name);
            VK->ops->matmul(VK, yd, xd, wd, dt, NULL, T, in, out);
            float *g = down(yd, (size_t)T * out);
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int o = 0; o < out; o++) {
                    double mag = 1e-6;
                    for (int i = 0; i < in; i++) mag += fabs((double)x[t * in + i] * wf[(size_t)o * in + i]);
                    double e = fabs((double)g[t * out + o] - y[t * out + o]) / mag;
                    if (e > worst) worst = e;
                }
            CHECK(worst <= 1e-5, "matmul %s T=%d: err %.3g of sum |x w|", RL_DTYPES[dt].st_name, T, worst);
            fprintf(stderr, "  matmul %-21s max err %.3g of sum|xw| (tol 1e-05)\n", RL_DTYPES[dt].st_name, worst);
            float *cd = dev(NULL, (size_t)out * in * 4);
            VK->ops->convert(VK, cd, wd, dt, (int64_t)out * in);
            float *cv = down(cd, (size_t)out * in);
            cmp("convert (gguf)", cv, wf, (size_t)out * in, 0);
            free(w); free(x); free(y); free(wf); free(g); free(cv);
        }
}

/* A composite weight's pieces on the device (each at an odd byte offset: the shader reads any
 * alignment) and the device descriptor beside the host one. */
typedef struct { const void *p; size_t n; } piece;
static rl_qweight dev_q(const rl_qweight *h, const piece pc[5]) {
    rl_qweight d = *h;
    const void **f[5] = {&d.data, &d.scales, &d.zeros, &d.g_idx, &d.map2};
    for (int k = 0; k < 5; k++) {
        if (!pc[k].p) { *f[k] = NULL; continue; }
        uint8_t *a = (uint8_t *)dev(NULL, pc[k].n + 8) + 1 + 2 * (k & 1);
        CHECK(VK->ops->upload(VK, a, pc[k].p, pc[k].n) == 0, "upload: %s", rl_last_error());
        *f[k] = a;
    }
    return d;
}
static uint32_t urand32(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* The HF pre-quantized formats (FP8 block with F32 / BF16 / F16 scales and partial blocks, GPTQ 4 / 8
 * bits with act-order g_idx and a partial last group, AWQ, bitsandbytes NF4 with and without
 * double quantisation, MXFP4) against the cpu's matmul on the same pieces: 1e-5 of sum |x w|; a corrupt
 * g_idx gives NaN in its outputs. */
static void test_matmul_hfq(void) {
    for (int c = 0; c < 9; c++)
        for (int T = 1; T <= 11; T += 10) {
            reset();
            rl_dtype dt = c < 3 ? RL_DT_FP8_BLK : c < 5 ? RL_DT_GPTQ : c == 5 ? RL_DT_AWQ : c < 8 ? RL_DT_BNB4 : RL_DT_MXFP4;
            int out = c == 0 ? 130 : c == 1 ? 37 : c == 2 ? 20 : c == 3 ? 72 : c == 4 ? 48 : c == 5 ? 64 : 37;
            int in = c == 0 ? 257 : c == 1 ? 300 : c == 2 ? 70 : c == 3 ? 88 : c == 4 ? 72 : c == 5 ? 256 : c == 8 ? 320 : 50;
            rl_qweight q = {.rows = out, .cols = in};
            piece pc[5] = {{0}};
            void *own[5] = {0};
            if (dt == RL_DT_FP8_BLK) {
                q.blk_r = c == 2 ? 16 : 128; q.blk_c = c == 2 ? 32 : 128;
                q.scale_dt = c == 0 ? RL_DT_F32 : c == 1 ? RL_DT_BF16 : RL_DT_F16;
                size_t ns = (size_t)((out + q.blk_r - 1) / q.blk_r) * ((in + q.blk_c - 1) / q.blk_c), sb = q.scale_dt == RL_DT_F32 ? 4 : 2;
                uint8_t *w = malloc((size_t)out * in), *sc = malloc(ns * 4);
                for (int k = 0; k < out * in; k++) { w[k] = (uint8_t)urand32(); if ((w[k] & 0x7f) == 0x7f) w[k] ^= 1; }
                for (size_t k = 0; k < ns; k++) {
                    float v = 0.01f + 0.02f * fabsf(frand());
                    uint16_t h = q.scale_dt == RL_DT_BF16 ? rl_f32_to_bf16(v) : rl_f32_to_f16(v);
                    if (sb == 4) memcpy(sc + 4 * k, &v, 4); else memcpy(sc + 2 * k, &h, 2);
                }
                pc[0] = (piece){w, (size_t)out * in}; pc[1] = (piece){sc, ns * sb};
                own[0] = w; own[1] = sc;
            } else if (dt == RL_DT_GPTQ || dt == RL_DT_AWQ) {
                int bits = c == 4 ? 8 : 4, pf = 32 / bits, group = c == 5 ? 64 : 32, G = (in + group - 1) / group;
                size_t nw = dt == RL_DT_AWQ ? (size_t)in * (out / 8) : (size_t)(in / pf) * out, nz = (size_t)G * (out / pf);
                uint32_t *qw = malloc(4 * nw), *qz = malloc(4 * nz);
                uint16_t *sc = malloc(2 * (size_t)G * out);
                int32_t *gi = malloc(4 * (size_t)in);
                for (size_t k = 0; k < nw; k++) qw[k] = urand32();
                for (size_t k = 0; k < nz; k++) qz[k] = urand32() & (dt == RL_DT_AWQ ? 0xffffffffu : bits == 8 ? 0x7e7e7e7eu : 0x66666666u);
                for (int k = 0; k < G * out; k++) sc[k] = rl_f32_to_f16(0.001f + 0.01f * fabsf(frand()));
                for (int i = 0; i < in; i++) gi[i] = i / group;
                for (int i = in - 1; i > 0 && c == 3; i--) { int j = (int)(urand32() % (uint32_t)(i + 1)), t = gi[i]; gi[i] = gi[j]; gi[j] = t; }
                q.bits = bits; q.group = group; q.ngroups = G;
                pc[0] = (piece){qw, 4 * nw}; pc[1] = (piece){sc, 2 * (size_t)G * out}; pc[2] = (piece){qz, 4 * nz};
                if (dt == RL_DT_GPTQ) pc[3] = (piece){gi, 4 * (size_t)in};
                own[0] = qw; own[1] = sc; own[2] = qz; own[3] = gi;
            } else if (dt == RL_DT_MXFP4) {
                uint8_t *bl = malloc((size_t)out * in / 2), *sc = malloc((size_t)out * in / 32);
                for (int k = 0; k < out * in / 2; k++) bl[k] = (uint8_t)urand32();
                for (int k = 0; k < out * in / 32; k++) sc[k] = (uint8_t)(118 + urand32() % 12);
                q.scale_dt = RL_DT_U8;
                pc[0] = (piece){bl, (size_t)out * in / 2}; pc[1] = (piece){sc, (size_t)out * in / 32};
                own[0] = bl; own[1] = sc;
            } else {
                int dbl = c == 7, n = out * in, bs = 64, nb = (n + bs - 1) / bs, nest = 8, nn = (nb + nest - 1) / nest;
                uint8_t *cd = malloc((size_t)n / 2 + 1), *a8 = malloc((size_t)nb);
                float *af = malloc(4 * (size_t)nb), *map = malloc(64), *nmap = malloc(1024), *na = malloc(4 * (size_t)nn);
                for (int k = 0; k < n / 2 + 1; k++) cd[k] = (uint8_t)urand32();
                for (int k = 0; k < 16; k++) map[k] = frand();
                for (int k = 0; k < 256; k++) nmap[k] = frand();
                for (int k = 0; k < nb; k++) { af[k] = 0.01f + 0.1f * fabsf(frand()); a8[k] = (uint8_t)urand32(); }
                for (int k = 0; k < nn; k++) na[k] = 0.05f * (float)(1 + k % 9);
                q.bits = 4; q.group = bs; q.nested_block = nest; q.nested_offset = 0.0371f; q.scale_dt = dbl ? RL_DT_U8 : RL_DT_F32;
                pc[0] = (piece){cd, (size_t)n / 2 + 1};
                pc[1] = dbl ? (piece){a8, (size_t)nb} : (piece){af, 4 * (size_t)nb};
                pc[3] = (piece){map, 64};
                if (dbl) { pc[2] = (piece){na, 4 * (size_t)nn}; pc[4] = (piece){nmap, 1024}; }
                own[0] = cd; own[1] = a8; own[2] = af; own[3] = map; own[4] = nmap;
                free(na);
                na = NULL;
                if (dbl) { /* pieces must outlive the descriptor: na is owned through own[2] instead of af */
                    na = malloc(4 * (size_t)nn);
                    for (int k = 0; k < nn; k++) na[k] = 0.05f * (float)(1 + k % 9);
                    pc[2] = (piece){na, 4 * (size_t)nn};
                    free(af);
                    own[2] = na;
                }
            }
            q.data = pc[0].p; q.scales = pc[1].p; q.zeros = pc[2].p; q.g_idx = pc[3].p; q.map2 = pc[4].p;
            float *x = rnd((size_t)T * in, 2), *b = rnd((size_t)out, 1), *y = malloc((size_t)T * out * 4);
            rl_cpu_ops.matmul(CPU, y, x, &q, dt, b, T, in, out);
            rl_qweight dq = dev_q(&q, pc);
            float *xd = dev(x, (size_t)T * in * 4), *bd = dev(b, (size_t)out * 4), *yd = dev(NULL, (size_t)T * out * 4);
            CHECK(VK->ops->supports(VK, dt), "%s supported", RL_DTYPES[dt].st_name);
            VK->ops->matmul(VK, yd, xd, &dq, dt, bd, T, in, out);
            float *g = down(yd, (size_t)T * out);
            float *wf = malloc((size_t)out * in * 4);
            rl_hfq_dequant(&q, dt, 0, out, 0, in, wf);
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int o = 0; o < out; o++) {
                    double mag = 1e-6 + fabs(b[o]);
                    for (int i = 0; i < in; i++) mag += fabs((double)x[t * in + i] * wf[(size_t)o * in + i]);
                    double e = fabs((double)g[t * out + o] - y[t * out + o]) / mag;
                    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
                }
            char what[64];
            snprintf(what, sizeof what, "matmul %s%s", RL_DTYPES[dt].st_name, c == 7 ? " (double quant)" : c == 3 ? " (act-order)" : "");
            CHECK(worst <= 1e-5, "%s %dx%d T=%d: err %.3g of sum |x w|", what, out, in, T, worst);
            fprintf(stderr, "  %-28s max err %.3g of sum|xw| (tol 1e-05)\n", what, worst);
            if (dt == RL_DT_GPTQ && T == 1) { /* a g_idx out of range: NaN for that input's outputs, no read outside */
                int32_t bad = q.ngroups + 5;
                CHECK(VK->ops->upload(VK, (uint8_t *)dq.g_idx + 4 * 3, &bad, 4) == 0, "upload");
                VK->ops->matmul(VK, yd, xd, &dq, dt, bd, T, in, out);
                float *gn = down(yd, (size_t)out);
                int nan = 0;
                for (int o = 0; o < out; o++) nan += isnan(gn[o]) != 0;
                CHECK(nan == out, "corrupt g_idx: %d of %d outputs NaN", nan, out);
                free(gn);
            }
            free(x); free(b); free(y); free(g); free(wf);
            for (int k = 0; k < 5; k++) free(own[k]);
        }
    CHECK(VK->ops->status(VK) == 0, "status: %s", rl_last_error());
}

static void test_norms_rope(void) {
    reset();
    int T = 5, n = 203;
    float *x = rnd((size_t)T * n, 3), *w = rnd(n, 1), *b = rnd(n, 1), *o = malloc((size_t)T * n * 4);
    float *xd = dev(x, (size_t)T * n * 4), *wd = dev(w, n * 4), *bd = dev(b, n * 4), *od = dev(NULL, (size_t)T * n * 4);
    for (int mode = 0; mode < 5; mode++) {
        const float *ww = mode == 2 ? NULL : w;
        if (mode < 3) {
            rl_cpu_ops.rmsnorm(CPU, o, x, ww, T, n, 1e-5f, mode == 1);
            VK->ops->rmsnorm(VK, od, xd, ww ? wd : NULL, T, n, 1e-5f, mode == 1);
        } else {
            rl_cpu_ops.layernorm(CPU, o, x, w, mode == 3 ? b : NULL, T, n, 1e-5f);
            VK->ops->layernorm(VK, od, xd, wd, mode == 3 ? bd : NULL, T, n, 1e-5f);
        }
        float *g = down(od, (size_t)T * n);
        cmp(mode < 3 ? "rmsnorm" : "layernorm", g, o, (size_t)T * n, 1e-5);
        free(g);
    }
    for (int pairing = 0; pairing < 2; pairing++) {
        rl_rope r = {.theta = 10000, .rot_dims = 24, .pairing = pairing ? RL_ROPE_GPTJ : RL_ROPE_NEOX};
        int nh = 3, hd = 32, pos[5] = {4, 5, 6, 7, 8};
        float c[5 * 12], s[5 * 12], *q = rnd((size_t)T * nh * hd, 1);
        rl_rope_table(&r, pos, T, 9, c, s);
        float *qd = dev(q, (size_t)T * nh * hd * 4), *cd = dev(c, sizeof c), *sd = dev(s, sizeof s);
        VK->ops->rope(VK, &r, qd, T, nh, hd, cd, sd);
        rl_cpu_ops.rope(CPU, &r, q, T, nh, hd, c, s);
        float *g = down(qd, (size_t)T * nh * hd);
        cmp(pairing ? "rope gptj (partial)" : "rope neox (partial)", g, q, (size_t)T * nh * hd, 1e-6);
        free(g); free(q);
    }
    free(x); free(w); free(b); free(o);
}

static void test_attention(void) {
    struct { int nh, nkv, hd, vd, T, pos0, window; float cap; } C[] = {
        {8, 2, 40, 40, 5, 7, 0, 0}, {4, 4, 24, 16, 3, 70, 0, 30.0f}, {6, 3, 33, 33, 9, 60, 13, 0}, {2, 1, 64, 80, 1, 140, 0, 0}};
    for (int k = 0; k < 4; k++) {
        reset();
        int L = C[k].pos0 + C[k].T, qd = C[k].nh * C[k].hd;
        float *q = rnd((size_t)C[k].T * qd, 1), *kc = rnd((size_t)L * C[k].nkv * C[k].hd, 1),
              *vc = rnd((size_t)L * C[k].nkv * C[k].vd, 1), *o = malloc((size_t)C[k].T * C[k].nh * C[k].vd * 4);
        float *qd_ = dev(q, (size_t)C[k].T * qd * 4), *kd = dev(kc, (size_t)L * C[k].nkv * C[k].hd * 4),
              *vd = dev(vc, (size_t)L * C[k].nkv * C[k].vd * 4), *od = dev(NULL, (size_t)C[k].T * C[k].nh * C[k].vd * 4);
        float sc = 1.0f / sqrtf((float)C[k].hd);
        VK->ops->attention(VK, od, qd_, kd, vd, C[k].T, C[k].pos0, C[k].nh, C[k].nkv, C[k].hd, C[k].vd, sc, C[k].cap, C[k].window);
        rl_cpu_ops.attention(CPU, o, q, kc, vc, C[k].T, C[k].pos0, C[k].nh, C[k].nkv, C[k].hd, C[k].vd, sc, C[k].cap, C[k].window);
        float *g = down(od, (size_t)C[k].T * C[k].nh * C[k].vd);
        cmp("attention (gqa/softcap/window)", g, o, (size_t)C[k].T * C[k].nh * C[k].vd, 1e-5);
        free(q); free(kc); free(vc); free(o); free(g);
    }
    /* DSA: top 5 of up to 21 keys (the first queries take every key) */
    reset();
    int T = 6, pos0 = 15, nh = 3, hd = 20, vd = 12, ih = 2, ihd = 16, L = pos0 + T;
    float *q = rnd((size_t)T * nh * hd, 1), *kc = rnd((size_t)L * nh * hd, 1), *vc = rnd((size_t)L * nh * vd, 1);
    float *iq = rnd((size_t)T * ih * ihd, 1), *iw = rnd((size_t)T * ih, 1), *ik = rnd((size_t)L * ihd, 1);
    float *o = malloc((size_t)T * nh * vd * 4);
    rl_dsa_args a = {ih, ihd, 5, iq, iw, ik, 0, 0, 0, NULL}, ad = {ih, ihd, 5, dev(iq, (size_t)T * ih * ihd * 4), dev(iw, (size_t)T * ih * 4),
                                                   dev(ik, (size_t)L * ihd * 4), 0, 0, 0, NULL};
    float *qd = dev(q, (size_t)T * nh * hd * 4), *kd = dev(kc, (size_t)L * nh * hd * 4), *vdd = dev(vc, (size_t)L * nh * vd * 4);
    float *od = dev(NULL, (size_t)T * nh * vd * 4);
    VK->ops->dsa_attention(VK, od, qd, kd, vdd, T, pos0, nh, hd, vd, 0.2f, &ad);
    rl_cpu_ops.dsa_attention(CPU, o, q, kc, vc, T, pos0, nh, hd, vd, 0.2f, &a);
    float *g = down(od, (size_t)T * nh * vd);
    cmp("dsa_attention", g, o, (size_t)T * nh * vd, 1e-5);
    free(q); free(kc); free(vc); free(iq); free(iw); free(ik); free(o); free(g);
}

static void test_elementwise_copies(void) {
    reset();
    int n = 1001;
    float *y = rnd(n, 4), *x = rnd(n, 4), *r = malloc(n * 4);
    for (int op = 0; op < 10; op++) {
        float *yd = dev(y, n * 4), *xd = dev(x, n * 4);
        memcpy(r, y, n * 4);
        const char *name[] = {"add", "scale", "softcap", "sigmoid_mul", "silu", "silu_mul", "gelu_tanh", "gelu_tanh_mul",
                              "gelu_erf", "gelu_erf_mul"};
        switch (op) {
        case 0: VK->ops->add(VK, yd, xd, n); rl_cpu_ops.add(CPU, r, x, n); break;
        case 1: VK->ops->scale(VK, yd, 0.37f, n); rl_cpu_ops.scale(CPU, r, 0.37f, n); break;
        case 2: VK->ops->softcap(VK, yd, 3.0f, n); rl_cpu_ops.softcap(CPU, r, 3.0f, n); break;
        case 3: VK->ops->sigmoid_mul(VK, yd, xd, n); rl_cpu_ops.sigmoid_mul(CPU, r, x, n); break;
        default: {
            rl_act_kind k = op < 6 ? RL_ACT_SILU : op < 8 ? RL_ACT_GELU_TANH : RL_ACT_GELU_ERF;
            VK->ops->act_mul(VK, k, yd, op % 2 ? xd : NULL, n);
            rl_cpu_ops.act_mul(CPU, k, r, op % 2 ? x : NULL, n);
        }
        }
        float *g = down(yd, n);
        cmp(name[op], g, r, n, op < 2 ? 0 : 1e-6);
        free(g);
    }
    /* zero and copy2d: aligned (shader) and unaligned (transfer), src_stride 0 */
    uint8_t src[600], *dst = calloc(1, 600), *ref = calloc(1, 600);
    for (int i = 0; i < 600; i++) src[i] = (uint8_t)(i * 7 + 3);
    const size_t cfg[][5] = {{8, 24, 0, 16, 9}, {3, 17, 5, 11, 13}, {40, 0, 20, 36, 7}};
    for (int c = 0; c < 3; c++) {
        uint8_t *sd = dev(src, 600), *dd = dev(ref, 600);
        memset(dst, 0, 600);
        VK->ops->copy2d(VK, dd + cfg[c][0], cfg[c][3] * 2, sd + cfg[c][2], cfg[c][1], cfg[c][3], (int)cfg[c][4]);
        for (size_t r = 0; r < cfg[c][4]; r++) memcpy(dst + cfg[c][0] + r * cfg[c][3] * 2, src + cfg[c][2] + r * cfg[c][1], cfg[c][3]);
        VK->ops->zero(VK, dd + 1, 3 + c * 4); /* unaligned (transfer) */
        memset(dst + 1, 0, 3 + c * 4);
        VK->ops->zero(VK, dd + 100, 16 + c * 8); /* aligned (shader) */
        memset(dst + 100, 0, 16 + c * 8);
        uint8_t got[600];
        CHECK(VK->ops->download(VK, got, dd, 600) == 0, "download");
        CHECK(!memcmp(got, dst, 600), "copy2d / zero config %d differ", c);
    }
    /* gather / scatter-add with repeated rows */
    int nr = 7, m = 33, rows[7] = {4, 0, 4, 2, 5, 1, 4};
    float *tab = rnd(6 * m, 1), *w = rnd(nr, 1), *gs = malloc((size_t)nr * m * 4), *dstf = rnd(6 * m, 1);
    float *tabd = dev(tab, 6 * m * 4), *gd = dev(NULL, (size_t)nr * m * 4), *wd = dev(w, nr * 4), *dfd = dev(dstf, 6 * m * 4);
    int32_t *rd = dev(rows, sizeof rows);
    VK->ops->gather_rows(VK, gd, tabd, rd, nr, m);
    rl_cpu_ops.gather_rows(CPU, gs, tab, rows, nr, m);
    float *g = down(gd, (size_t)nr * m);
    cmp("gather_rows", g, gs, (size_t)nr * m, 0);
    VK->ops->scatter_add_rows(VK, dfd, gd, rd, wd, nr, m);
    rl_cpu_ops.scatter_add_rows(CPU, dstf, gs, rows, w, nr, m);
    float *g2 = down(dfd, 6 * m);
    cmp("scatter_add_rows", g2, dstf, 6 * m, 1e-6);
    /* row_gate */
    float *gate = rnd(m, 1), *xo = rnd((size_t)3 * m, 1), *xg = rnd((size_t)3 * m, 1);
    float *gated = dev(gate, m * 4), *xod = dev(xo, 3 * m * 4), *xgd = dev(xg, 3 * m * 4);
    VK->ops->row_gate(VK, xod, xgd, gated, 3, m);
    rl_cpu_ops.row_gate(CPU, xo, xg, gate, 3, m);
    float *g3 = down(xod, 3 * m);
    cmp("row_gate", g3, xo, 3 * m, 1e-5);
    free(y); free(x); free(r); free(dst); free(ref); free(tab); free(w); free(gs); free(dstf); free(g); free(g2);
    free(gate); free(xo); free(xg); free(g3);
}

static void test_moe_route(void) {
    rl_route_params P[] = {{8, 2, 0, 1, 1, 0, 1, 1.0f}, {16, 4, 1, 4, 2, 1, 1, 2.5f}, {12, 3, 1, 3, 1, 0, 0, 1.0f}};
    for (int k = 0; k < 3; k++) {
        reset();
        int T = 5, E = P[k].n_experts, K = P[k].top_k;
        float *lg = rnd((size_t)T * E, 3), *bias = rnd(E, 0.5f), wc[64];
        int32_t ic[64], ig[64];
        float *lgd = dev(lg, (size_t)T * E * 4), *bd = dev(bias, E * 4), *wdv = dev(NULL, (size_t)T * K * 4);
        int32_t *idv = dev(NULL, (size_t)T * K * 4);
        VK->ops->moe_route(VK, lgd, k ? bd : NULL, T, &P[k], idv, wdv);
        rl_cpu_ops.moe_route(CPU, lg, k ? bias : NULL, T, &P[k], ic, wc);
        float *wg = down(wdv, (size_t)T * K), *sg = down(lgd, (size_t)T * E);
        CHECK(VK->ops->download(VK, ig, idv, (size_t)T * K * 4) == 0, "download");
        CHECK(!memcmp(ig, ic, (size_t)T * K * 4), "moe_route %d: chosen experts differ", k);
        cmp("moe_route w", wg, wc, (size_t)T * K, 1e-5);
        cmp("moe_route scores", sg, lg, (size_t)T * E, 1e-5);
        free(lg); free(bias); free(wg); free(sg);
    }
}

static void test_deltanet(void) {
    reset();
    rl_dn_dims dd = {2, 4, 16, 24, 4, 1e-6f, 0, 0};
    int T = 6, C = 2 * dd.k_heads * dd.k_dim + dd.v_heads * dd.v_dim, K = dd.conv_k, nv = dd.v_heads;
    float *in = rnd((size_t)(T + K - 1) * C, 1), *cw = rnd((size_t)C * K, 1), *conv = malloc((size_t)T * C * 4);
    float *ind = dev(in, (size_t)(T + K - 1) * C * 4), *cwd = dev(cw, (size_t)C * K * 4), *convd = dev(NULL, (size_t)T * C * 4);
    VK->ops->dn_conv(VK, convd, ind, cwd, NULL, T, C, K, 1);
    rl_cpu_ops.dn_conv(CPU, conv, in, cw, NULL, T, C, K, 1);
    float *g = down(convd, (size_t)T * C);
    cmp("dn_conv", g, conv, (size_t)T * C, 1e-5);
    size_t sn = (size_t)nv * dd.k_dim * dd.v_dim, cn = (size_t)T * nv * dd.v_dim;
    float *st = rnd(sn, 0.3f), *b = rnd((size_t)T * nv, 2), *a = rnd((size_t)T * nv, 2), *z = rnd(cn, 2);
    float *al = rnd(nv, 1), *dtb = rnd(nv, 1), *nw = rnd(dd.v_dim, 1), *core = malloc(cn * 4);
    float *std_ = dev(st, sn * 4), *bd = dev(b, (size_t)T * nv * 4), *ad = dev(a, (size_t)T * nv * 4), *zd = dev(z, cn * 4);
    float *ald = dev(al, nv * 4), *dtd = dev(dtb, nv * 4), *nwd = dev(nw, dd.v_dim * 4), *cored = dev(NULL, cn * 4);
    VK->ops->dn_recur(VK, &dd, std_, convd, bd, ad, zd, ald, dtd, nwd, cored, T);
    rl_cpu_ops.dn_recur(CPU, &dd, st, conv, b, a, z, al, dtb, nw, core, T);
    float *gc = down(cored, cn), *gst = down(std_, sn);
    cmp("dn_recur core", gc, core, cn, 1e-5);
    cmp("dn_recur state", gst, st, sn, 1e-5);
    free(in); free(cw); free(conv); free(g); free(st); free(b); free(a); free(z); free(al); free(dtb); free(nw);
    free(core); free(gc); free(gst);
}

/* An op the backend cannot do turns into a status error, not a silent wrong answer. */
static void test_status(void) {
    for (int k = 0; k < 2; k++) { /* an unsupported dtype; a GGUF matmul wider than the activation scratch (none here) */
        rl_backend *be = rl_backend_open("vulkan", 1);
        CHECK(be != NULL, "open: %s", rl_last_error());
        if (!be) return;
        rl_dtype dt = k ? RL_DT_Q4_K : RL_DT_F8_E4M3;
        CHECK(!be->ops->supports(be, dt) == !k, "%s supported: %d", RL_DTYPES[dt].st_name, be->ops->supports(be, dt));
        float *ar = be->ops->arena_new(be, 1 << 16);
        CHECK(ar != NULL, "arena: %s", rl_last_error());
        be->ops->matmul(be, ar, ar + 1024, ar + 4096, dt, NULL, 1, 256, 4);
        CHECK(be->ops->status(be) == -1 && strstr(rl_last_error(), k ? "activation scratch" : "F8_E4M3"),
              "status after the matmul: %s", rl_last_error());
        CHECK(be->ops->upload(be, (char *)ar - 4096, ar, 4) == -1, "upload outside the arena is refused");
        be->ops->arena_free(be, ar, 1 << 16);
        rl_backend_close(be);
    }
}

int main(void) {
#ifndef RL_VULKAN_BUILD
    fprintf(stderr, "skip: vulkan is not built in\n");
    printf("RESULT 0 0 1\n");
    return 0;
#endif
    VK = rl_backend_open("vulkan", 1);
    if (!VK) {
        fprintf(stderr, "skip: %s\n", rl_last_error());
        printf("RESULT 0 0 1\n");
        return 0;
    }
    fprintf(stderr, "%s\n", VK->ops->describe(VK));
    CPU = rl_backend_open("cpu", 1);
    cpu_scratch = malloc(CPU->ops->scratch_bytes(CPU, 256, 32, 1024));
    CPU->ops->set_scratch(CPU, cpu_scratch, 256, 32, 1024);
    size_t sb = VK->ops->scratch_bytes(VK, 256, 32, 1024);
    arena = arena_next = VK->ops->arena_new(VK, arena_bytes + sb);
    if (!arena) { fprintf(stderr, "arena: %s\n", rl_last_error()); return 1; }
    VK->ops->set_scratch(VK, arena + arena_bytes, 256, 32, 1024);
    RUN(test_matmul_convert);
    RUN(test_matmul_gguf);
    RUN(test_matmul_hfq);
    RUN(test_norms_rope);
    RUN(test_attention);
    RUN(test_elementwise_copies);
    RUN(test_moe_route);
    RUN(test_deltanet);
    CHECK(VK->ops->status(VK) == 0, "status: %s", rl_last_error());
    RUN(test_status);
    VK->ops->arena_free(VK, arena, arena_bytes + sb);
    rl_backend_close(VK);
    rl_backend_close(CPU);
    free(cpu_scratch);
    TEST_END();
}
