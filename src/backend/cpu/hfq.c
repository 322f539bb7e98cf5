/* Dequantisation of the HF pre-quantized formats and their tiled matmul (see hfq.h). The
 * formulas are those of ../shared/fixtures-quant/README.md and the producers' code:
 *   FP8:  w[o][i] = e4m3(q[o][i]) * s[o / b0][i / b1]
 *   GPTQ: w[o][i] = scales[g][o] * (q[i][o] - (qzeros[g][o] + 1)), g = g_idx[i] (v1 zeros)
 *   AWQ:  w[o][i] = scales[i / G][o] * (q[i][o] - qzeros[i / G][o]), nibbles in AWQ order
 *   BNB4: w[k] = quant_map[nibble k] * absmax[k / 64], absmax optionally double-quantised.
 *   MXFP4: w[o][i] = e2m1(nibble i of row o, low nibble first) * 2^(scales[o][i / 32] - 127). */
#include "backend/cpu/hfq.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/hfq_simd.h"
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static float fp8_lut[256], e8m0_lut[256];
static pthread_once_t fp8_once = PTHREAD_ONCE_INIT;
static void fp8_init(void) {
    for (int i = 0; i < 256; i++) fp8_lut[i] = rl_f8e4m3_to_f32((uint8_t)i);
    for (int i = 0; i < 256; i++) e8m0_lut[i] = ldexpf(1.0f, i - 127); /* MXFP4 scales (255: inf, as ldexp gives) */
}

static inline float scale_at(const void *s, rl_dtype dt, size_t k) {
    switch (dt) {
    case RL_DT_BF16: return rl_bf16_to_f32(((const uint16_t *)s)[k]);
    case RL_DT_F16: return rl_f16_to_f32(((const uint16_t *)s)[k]);
    default: return ((const float *)s)[k];
    }
}

static int use_simd(void) { return strcmp(rl_simd()->name, "scalar") != 0; }

static void deq_fp8(const rl_qweight *q, int o0, int no, int i0, int ni, float *dst) {
    pthread_once(&fp8_once, fp8_init);
    int simd = use_simd();
    const uint8_t *w = q->data;
    size_t sc = (size_t)(q->cols + q->blk_c - 1) / (size_t)q->blk_c;
    for (int r = 0; r < no; r++) {
        int o = o0 + r;
        const uint8_t *row = w + (size_t)o * q->cols;
        size_t srow = (size_t)(o / q->blk_r) * sc;
        float *d = dst + (size_t)r * ni;
        for (int j = 0; j < ni;) { /* one scale block of columns at a time */
            int i = i0 + j, end = (i / q->blk_c + 1) * q->blk_c - i0;
            if (end > ni) end = ni;
            float s = scale_at(q->scales, q->scale_dt, srow + (size_t)(i / q->blk_c));
            if (simd) { rl_hfq_fp8_row_avx2(row + i0 + j, s, end - j, d + j); j = end; }
            for (; j < end; j++) d[j] = fp8_lut[row[i0 + j]] * s;
        }
    }
}

static void deq_gptq(const rl_qweight *q, int o0, int no, int i0, int ni, float *dst) {
    const uint32_t *qw = q->data, *qz = q->zeros;
    const uint16_t *sc = q->scales;
    const int32_t *gi = q->g_idx;
    int bits = q->bits, pf = 32 / bits, out = q->rows, zc = out / pf;
    uint32_t mask = (1u << bits) - 1;
    for (int j = 0; j < ni; j++) {
        int i = i0 + j, g = gi[i];
        const uint32_t *wrow = qw + (size_t)(i / pf) * out;
        int sh = bits * (i % pf);
        if (g < 0 || g >= q->ngroups) {
            for (int r = 0; r < no; r++) dst[(size_t)r * ni + j] = NAN;
            continue;
        }
        for (int r = 0; r < no; r++) {
            int o = o0 + r;
            int qv = (int)((wrow[o] >> sh) & mask);
            int z = (int)((qz[(size_t)g * zc + o / pf] >> (bits * (o % pf))) & mask) + 1;
            dst[(size_t)r * ni + j] = rl_f16_to_f32(sc[(size_t)g * out + o]) * (float)(qv - z);
        }
    }
}

static void deq_awq(const rl_qweight *q, int o0, int no, int i0, int ni, float *dst) {
    static const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    const uint32_t *qw = q->data, *qz = q->zeros;
    const uint16_t *sc = q->scales;
    int out = q->rows, wc = out / 8;
    for (int j = 0; j < ni; j++) {
        int i = i0 + j, g = i / q->group;
        for (int r = 0; r < no; r++) {
            int o = o0 + r, sh = 4 * rev[o % 8];
            int qv = (int)((qw[(size_t)i * wc + o / 8] >> sh) & 15);
            int z = (int)((qz[(size_t)g * wc + o / 8] >> sh) & 15);
            dst[(size_t)r * ni + j] = rl_f16_to_f32(sc[(size_t)g * out + o]) * (float)(qv - z);
        }
    }
}

static inline float bnb_absmax(const rl_qweight *q, size_t b) {
    if (q->scale_dt == RL_DT_F32) return ((const float *)q->scales)[b];
    const float *nmap = q->map2, *nabs = q->zeros;
    float p = nmap[((const uint8_t *)q->scales)[b]] * nabs[b / (size_t)q->nested_block];
    return p + q->nested_offset; /* two roundings, as bitsandbytes computes it */
}

static void deq_bnb4(const rl_qweight *q, int o0, int no, int i0, int ni, float *dst) {
    const uint8_t *c = q->data;
    const float *map = q->g_idx;
    size_t bs = (size_t)q->group;
    for (int r = 0; r < no; r++) {
        size_t k = (size_t)(o0 + r) * (size_t)q->cols + (size_t)i0;
        float *d = dst + (size_t)r * ni;
        for (int j = 0; j < ni;) { /* one absmax block at a time */
            size_t b = k / bs, end = (b + 1) * bs - k;
            int e = end < (size_t)(ni - j) ? j + (int)end : ni;
            float a = bnb_absmax(q, b);
            for (; j < e; j++, k++) {
                uint8_t byte = c[k >> 1];
                d[j] = map[(k & 1) ? (byte & 15) : (byte >> 4)] * a;
            }
        }
    }
}

static void deq_mxfp4(const rl_qweight *q, int o0, int no, int i0, int ni, float *dst) {
    static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    pthread_once(&fp8_once, fp8_init);
    const uint8_t *c = q->data, *sc = q->scales;
    size_t rb = (size_t)q->cols / 2, sb = (size_t)q->cols / 32;
    for (int r = 0; r < no; r++) {
        const uint8_t *row = c + (size_t)(o0 + r) * rb, *srow = sc + (size_t)(o0 + r) * sb;
        float *d = dst + (size_t)r * ni;
        for (int j = 0; j < ni; j++) { /* e2m1 times a power of two: the exact product */
            int i = i0 + j;
            uint8_t b = row[i >> 1];
            d[j] = e2m1[(i & 1) ? b >> 4 : b & 15] * e8m0_lut[srow[i >> 5]];
        }
    }
}

void rl_hfq_dequant(const rl_qweight *q, rl_dtype dt, int o0, int no, int i0, int ni, float *dst) {
    switch (dt) {
    case RL_DT_FP8_BLK: deq_fp8(q, o0, no, i0, ni, dst); break;
    case RL_DT_GPTQ: deq_gptq(q, o0, no, i0, ni, dst); break;
    case RL_DT_AWQ: deq_awq(q, o0, no, i0, ni, dst); break;
    case RL_DT_BNB4: deq_bnb4(q, o0, no, i0, ni, dst); break;
    case RL_DT_MXFP4: deq_mxfp4(q, o0, no, i0, ni, dst); break;
    default: for (size_t k = 0; k < (size_t)no * ni; k++) dst[k] = NAN; break;
    }
}

/* GPTQ / AWQ with the (scale, zero) of rows [o0, o0 + no) for every group decoded once per row
 * block (sf, zi: ngroups x no): the same values as deq_gptq / deq_awq, fewer conversions. */
static void deq_int_tab(const rl_qweight *q, rl_dtype dt, int o0, int no, int i0, int ni, float *dst, const float *sf, const int *zi) {
    static const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    const uint32_t *qw = q->data;
    const int32_t *gi = q->g_idx;
    int bits = q->bits, pf = 32 / bits, out = q->rows;
    uint32_t mask = (1u << bits) - 1;
    for (int j = 0; j < ni; j++) {
        int i = i0 + j, g = dt == RL_DT_GPTQ ? gi[i] : i / q->group;
        if (g < 0 || g >= q->ngroups) {
            for (int r = 0; r < no; r++) dst[(size_t)r * ni + j] = NAN;
            continue;
        }
        const float *s = sf + (size_t)g * no;
        const int *z = zi + (size_t)g * no;
        if (dt == RL_DT_GPTQ) {
            const uint32_t *wrow = qw + (size_t)(i / pf) * out + o0;
            int sh = bits * (i % pf);
            for (int r = 0; r < no; r++) dst[(size_t)r * ni + j] = s[r] * (float)((int)((wrow[r] >> sh) & mask) - z[r]);
        } else {
            const uint32_t *wrow = qw + (size_t)i * (out / 8);
            for (int r = 0; r < no; r++) {
                int o = o0 + r;
                dst[(size_t)r * ni + j] = s[r] * (float)((int)((wrow[o / 8] >> (4 * rev[o % 8])) & 15) - z[r]);
            }
        }
    }
}

/* Fills the tables of deq_int_tab for rows [o0, o0 + no). */
static void int_tables(const rl_qweight *q, rl_dtype dt, int o0, int no, float *sf, int *zi) {
    static const int rev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    const uint32_t *qz = q->zeros;
    const uint16_t *sc = q->scales;
    int bits = q->bits, pf = 32 / bits, out = q->rows;
    uint32_t mask = (1u << bits) - 1;
    for (int g = 0; g < q->ngroups; g++)
        for (int r = 0; r < no; r++) {
            int o = o0 + r;
            sf[(size_t)g * no + r] = rl_f16_to_f32(sc[(size_t)g * out + o]);
            if (dt == RL_DT_GPTQ) zi[(size_t)g * no + r] = (int)((qz[(size_t)g * (out / pf) + o / pf] >> (bits * (o % pf))) & mask) + 1;
            else zi[(size_t)g * no + r] = (int)((qz[(size_t)g * (out / 8) + o / 8] >> (4 * rev[o % 8])) & 15);
        }
}

#define HFQ_ROWS 16  /* output rows per work item */
#define HFQ_K 512    /* input columns per dequantised tile */

typedef struct {
    float *y;
    const float *x, *bias;
    const rl_qweight *q;
    rl_dtype dt;
    int T, in, out;
    const rl_simd_impl *s;
} hfq_job;

static void hfq_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const hfq_job *j = ctx;
    _Alignas(64) float tile[HFQ_ROWS * HFQ_K];
    int tab = j->dt == RL_DT_GPTQ || j->dt == RL_DT_AWQ;
    float *sf = tab ? malloc(sizeof(float) * (size_t)j->q->ngroups * HFQ_ROWS) : NULL;
    int *zi = tab ? malloc(sizeof(int) * (size_t)j->q->ngroups * HFQ_ROWS) : NULL;
    if (!sf || !zi) tab = 0; /* out of memory: the direct path */
    int simd = use_simd();
    for (int64_t it = b; it < e; it++) {
        int o0 = (int)it * HFQ_ROWS, no = j->out - o0 < HFQ_ROWS ? j->out - o0 : HFQ_ROWS;
        for (int t = 0; t < j->T; t++)
            for (int r = 0; r < no; r++) j->y[(size_t)t * j->out + o0 + r] = j->bias ? j->bias[o0 + r] : 0.0f;
        for (int i0 = 0; i0 < j->in; i0 += HFQ_K) {
            int ni = j->in - i0 < HFQ_K ? j->in - i0 : HFQ_K;
            if (tab && i0 == 0) int_tables(j->q, j->dt, o0, no, sf, zi);
            if (tab && simd && no == HFQ_ROWS && j->T < 16) { /* column-major tile, FMA accumulation */
                rl_hfq_int_cols_avx2(j->q, j->dt == RL_DT_AWQ, o0, i0, ni, sf, zi, tile);
                int t = 0;
                for (; t + 4 <= j->T; t += 4)
                    rl_hfq_cols_acc4_avx2(j->x + (size_t)t * j->in + i0, (size_t)j->in, tile, ni, j->y + (size_t)t * j->out + o0, (size_t)j->out);
                for (; t < j->T; t++) rl_hfq_cols_acc_avx2(j->x + (size_t)t * j->in + i0, tile, ni, j->y + (size_t)t * j->out + o0);
                continue;
            }
            if (tab) deq_int_tab(j->q, j->dt, o0, no, i0, ni, tile, sf, zi);
            else rl_hfq_dequant(j->q, j->dt, o0, no, i0, ni, tile);
            if (j->T >= 4) { /* a sweep: the register-tiled f32 micro-kernels on the tile */
                j->s->gemm_nt(j->x + i0, j->in, tile, ni, j->y + o0, j->out, j->T, no, ni, 1);
                continue;
            }
            for (int t = 0; t < j->T; t++) {
                const float *xt = j->x + (size_t)t * j->in + i0;
                float *yt = j->y + (size_t)t * j->out + o0;
                for (int r = 0; r < no; r++) yt[r] += j->s->dot(xt, tile + (size_t)r * ni, ni);
            }
        }
    }
    free(sf);
    free(zi);
}

/* Decode (T <= 4) on AVX-512 F+BW: FP8 or bitsandbytes 4-bit rows (absmax blocks aligned with
 * the rows), or GPTQ / AWQ 256 outputs at a time, dequantised in registers (hfq_avx512.c). Items:
 * HFQ_ROWS FP8 / BNB4 rows, or up to INT_NSB blocks of 64 GPTQ / AWQ outputs (the tail of out
 * below a multiple of 64 runs on the tile path). */
typedef struct {
    hfq_job j;
    int n_fused; /* GPTQ / AWQ: outputs covered by 64-wide items */
} hfq_fused_job;

static int use_avx512bw(void);

static void hfq_fused_work(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    const hfq_fused_job *f = ctx;
    const hfq_job *j = &f->j;
    if (j->dt == RL_DT_FP8_BLK) {
        int o0 = (int)b * HFQ_ROWS, o1 = (int)e * HFQ_ROWS < j->out ? (int)e * HFQ_ROWS : j->out;
        rl_hfq_fp8_gemv_avx512(j->q, j->x, j->T, o0, o1, j->y, j->bias);
        return;
    }
    if (j->dt == RL_DT_MXFP4) { /* AVX-512, else AVX2 (hfq_fused_ok) */
        int o0 = (int)b * HFQ_ROWS, o1 = (int)e * HFQ_ROWS < j->out ? (int)e * HFQ_ROWS : j->out, z = use_avx512bw();
        for (int o = o0; o < o1; o++) {
            const uint8_t *c = (const uint8_t *)j->q->data + (size_t)o * j->in / 2, *s = (const uint8_t *)j->q->scales + (size_t)o * j->in / 32;
            float bo = j->bias ? j->bias[o] : 0.0f;
            if (z) rl_hfq_mxfp4_row_avx512(c, s, e8m0_lut, j->in, j->x, j->T, j->y + o, (size_t)j->out, bo);
            else rl_hfq_mxfp4_row_avx2(c, s, e8m0_lut, j->in, j->x, j->T, j->y + o, (size_t)j->out, bo);
        }
        return;
    }
    if (j->dt == RL_DT_BNB4) { /* rows whose absmax blocks start at the row (hfq_fused_ok) */
        int o0 = (int)b * HFQ_ROWS, o1 = (int)e * HFQ_ROWS < j->out ? (int)e * HFQ_ROWS : j->out;
        int nbr = j->in / j->q->group;
        float *amax = malloc(sizeof(float) * (size_t)nbr);
        for (int o = o0; o < o1; o++) {
            if (!amax) { /* out of memory: NaN rather than a wrong result */
                for (int t = 0; t < j->T; t++) j->y[(size_t)t * j->out + o] = NAN;
                continue;
            }
            for (int k = 0; k < nbr; k++) amax[k] = bnb_absmax(j->q, (size_t)o * nbr + (size_t)k);
            rl_hfq_bnb4_row_avx512((const uint8_t *)j->q->data + (size_t)o * j->in / 2, j->q->g_idx, amax, j->q->group,
                                   j->in, j->x, j->T, j->y + o, (size_t)j->out, j->bias ? j->bias[o] : 0.0f);
        }
        free(amax);
        return;
    }
    size_t ng = (size_t)j->q->ngroups, tab = ng * 64 * INT_NSB;
    float *sf = malloc(sizeof(float) * tab * 2);
    int *zi = malloc(sizeof(int) * ng * 64);
    int nblk = f->n_fused / 64;
    for (int64_t it = b; it < e; it++) {
        int sb0 = (int)it * INT_NSB, nsb = nblk - sb0 < INT_NSB ? nblk - sb0 : INT_NSB, o0 = sb0 * 64;
        if (!sf || !zi) { /* out of memory: NaN rather than a wrong result */
            for (int t = 0; t < j->T; t++)
                for (int r = 0; r < 64 * nsb; r++) j->y[(size_t)t * j->out + o0 + r] = NAN;
            continue;
        }
        float *nsz = sf + tab;
        for (int sb = 0; sb < nsb; sb++) {
            float *s = sf + (size_t)sb * ng * 64, *z = nsz + (size_t)sb * ng * 64;
            int_tables(j->q, j->dt, o0 + 64 * sb, 64, s, zi);
            for (size_t k = 0; k < ng * 64; k++) z[k] = -s[k] * (float)zi[k];
        }
        rl_hfq_int_gemv_avx512(j->q, j->dt == RL_DT_AWQ, o0, nsb, sf, nsz, j->x, j->T, j->y, j->bias);
    }
    free(sf);
    free(zi);
}

static int use_avx512bw(void) {
#if defined(__x86_64__) || defined(__i386__)
    static atomic_int ok = -1;
    int v = atomic_load_explicit(&ok, memory_order_relaxed);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        atomic_store_explicit(&ok, v, memory_order_relaxed);
    }
    return v && !strncmp(rl_simd()->name, "avx512", 6);
#else
    return 0;
#endif
}

void rl_hfq_matmul(rl_pool *p, float *y, const float *x, const rl_qweight *q, rl_dtype dt, const float *bias,
                   int T, int in, int out) {
    if (!q || q->rows != out || q->cols != in || (dt == RL_DT_MXFP4 && in % 32)) { /* a descriptor for another shape: never read it */
        for (int64_t i = 0; i < (int64_t)T * out; i++) y[i] = NAN;
        return;
    }
    int bnb_ok = dt == RL_DT_BNB4 && q->group > 0 && q->group % 32 == 0 && in % q->group == 0;
    int mx_ok = dt == RL_DT_MXFP4 && use_simd(); /* (AVX2 is enough for the MXFP4 decode kernel) */
    if (T <= 4 && (use_avx512bw() || mx_ok) && (dt == RL_DT_FP8_BLK || bnb_ok || mx_ok || ((dt == RL_DT_GPTQ || dt == RL_DT_AWQ) && out >= 64))) {
        hfq_fused_job f = {{y, x, bias, q, dt, T, in, out, rl_simd()}, 0};
        int64_t n_items;
        if (dt == RL_DT_MXFP4) pthread_once(&fp8_once, fp8_init);
        if (dt == RL_DT_FP8_BLK || dt == RL_DT_BNB4 || dt == RL_DT_MXFP4) n_items = (out + HFQ_ROWS - 1) / HFQ_ROWS;
        else { f.n_fused = out / 64 * 64; n_items = (out / 64 + INT_NSB - 1) / INT_NSB; }
        rl_pool_for_work(p, n_items, 1, (int64_t)T * in * out + (int64_t)in * out, hfq_fused_work, &f);
        if (f.n_fused == 0 || f.n_fused == out) return;
        /* GPTQ / AWQ outputs past the last multiple of 64: the tile path on that slice */
        hfq_job j = {y, x, bias, q, dt, T, in, out, rl_simd()};
        hfq_work(&j, f.n_fused / HFQ_ROWS, (out + HFQ_ROWS - 1) / HFQ_ROWS, 0);
        return;
    }
    hfq_job j = {y, x, bias, q, dt, T, in, out, rl_simd()};
    rl_pool_for_work(p, (out + HFQ_ROWS - 1) / HFQ_ROWS, 1, (int64_t)T * in * out + (int64_t)in * out * 4, hfq_work, &j);
}
