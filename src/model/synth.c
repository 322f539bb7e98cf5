/* Synthetic checkpoint writer (see synth.h). */
#include "model/synth.h"
#include "model/synth_quant.h"
#include "format/st_writer.h"
#include "model/config.h"
#include "model/weights.h"
#include "model/weights_moe.h"
#include "util/err.h"
#include "util/fileio.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char name[160];
    int64_t rows, cols;   /* cols 0 = vector */
    int conv;             /* 1: a depthwise conv1d weight, written as HF does: [rows, 1, cols] */
    int64_t lead;         /* > 0: that many matrices in one 3-D tensor [lead, rows, cols] (fused experts;
                             transposed: [lead, cols, rows]) */
    int transposed;
    int kind;             /* 0 linear, 1 norm, 2 bias, 3 embedding, 4 attention sinks (N(0, 1)) */
    int quant;            /* 1: written in the pre-quantized form (rl_synth_opts.quant) */
    int mxfp4;            /* fused experts in MXFP4 (gpt-oss): <name>_blocks, <name>_scales (random codes) */
    int s0, ns;           /* its safetensors specs [s0, s0 + ns) */
} tspec;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Approximately normal: sum of 4 uniforms (Irwin-Hall), scaled to unit variance. */
static float gauss(uint64_t *s) {
    uint64_t r = rng_next(s);
    float a = (float)(r & 0xffff), b = (float)((r >> 16) & 0xffff), c = (float)((r >> 32) & 0xffff), d = (float)(r >> 48);
    return ((a + b + c + d) / 65536.0f - 2.0f) * 1.7320508f;
}

static void put(void *dst, size_t i, float v, rl_dtype dt) {
    if (dt == RL_DT_F32) ((float *)dst)[i] = v;
    else if (dt == RL_DT_BF16) ((uint16_t *)dst)[i] = rl_f32_to_bf16(v);
    else ((uint16_t *)dst)[i] = rl_f32_to_f16(v);
}

/* Writes tensor t: values mean + sd N(0,1) rounded through the base dtype; quantized weights
 * through the quantizer (or, dequant_f32, their exact dequantised values as F32). */
static int write_tensor(rl_st_writer *w, const tspec *t, const rl_synth_opts *o, uint64_t *rng, void *buf, size_t buf_elems) {
    int64_t n = t->rows * (t->cols ? t->cols : 1) * (t->lead ? t->lead : 1);
    if (t->mxfp4) { /* random e2m1 codes, then one e8m0 scale per 32 putting the weights' spread near 1/sqrt(cols) */
        uint8_t *b = buf;
        size_t cap = buf_elems * 4;
        for (int64_t i = 0; i < n / 2;) {
            size_t k = (size_t)(n / 2 - i) < cap ? (size_t)(n / 2 - i) : cap;
            for (size_t j = 0; j < k; j++) b[j] = (uint8_t)(rng_next(rng) >> 56);
            if (rl_st_writer_write(w, b, k)) return -1;
            i += (int64_t)k;
        }
        int sc = 127 + (int)lround(log2(1.0 / (2.9 * sqrt((double)t->cols)))); /* (e2m1 codes: rms ~2.9) */
        for (int64_t i = 0; i < n / 32;) {
            size_t k = (size_t)(n / 32 - i) < cap ? (size_t)(n / 32 - i) : cap;
            for (size_t j = 0; j < k; j++) b[j] = (uint8_t)(sc - (int)(rng_next(rng) >> 63));
            if (rl_st_writer_write(w, b, k)) return -1;
            i += (int64_t)k;
        }
        return 0;
    }
    float sd = t->kind == 0 ? 1.0f / sqrtf((float)t->cols) : t->kind == 3 ? 0.05f : t->kind == 4 ? 1.0f : 0.02f;
    float mean = t->kind == 1 ? 1.0f : 0.0f;
    rl_dtype dt = o->dtype, out_dt = o->dequant_f32 ? RL_DT_F32 : dt;
    if (t->quant) { /* whole matrix: quantize per block / group */
        float *wf = malloc(sizeof(float) * (size_t)n), *deq = o->dequant_f32 ? malloc(sizeof(float) * (size_t)n) : NULL;
        if (!wf || (o->dequant_f32 && !deq)) { free(wf); free(deq); return rl_err("out of memory"); }
        for (int64_t i = 0; i < n; i++) { /* the base checkpoint's value, then quantized */
            float v = mean + sd * gauss(rng);
            if (dt == RL_DT_BF16) v = rl_bf16_to_f32(rl_f32_to_bf16(v));
            else if (dt == RL_DT_F16) v = rl_f16_to_f32(rl_f32_to_f16(v));
            wf[i] = v;
        }
        int rc = rl_synth_qwrite((rl_quant_method)o->quant, deq ? NULL : w, wf, t->rows, t->cols, deq);
        if (!rc && deq) rc = rl_st_writer_write(w, deq, sizeof(float) * (size_t)n);
        free(wf); free(deq);
        return rc;
    }
    for (int64_t i = 0; i < n;) {
        size_t k = (size_t)(n - i) < buf_elems ? (size_t)(n - i) : buf_elems;
        for (size_t j = 0; j < k; j++) {
            float v = mean + sd * gauss(rng);
            if (out_dt != dt) v = dt == RL_DT_BF16 ? rl_bf16_to_f32(rl_f32_to_bf16(v)) : dt == RL_DT_F16 ? rl_f16_to_f32(rl_f32_to_f16(v)) : v;
            put(buf, j, v, out_dt);
        }
        if (rl_st_writer_write(w, buf, k * RL_DTYPES[out_dt].size)) return -1;
        i += (int64_t)k;
    }
    return 0;
}

int rl_synth_write(const char *config_path, const char *out_dir, const rl_synth_opts *o) {
    char path[4096];
    size_t len;
    char *cfg = rl_read_file(config_path, &len);
    if (!cfg) return -1;
    if (mkdir(out_dir, 0755) && errno != EEXIST) { free(cfg); return rl_err("%s: cannot create directory: %s", out_dir, strerror(errno)); }
    if (o->quant && !o->dequant_f32) { /* the pre-quantized form declares its quantization_config */
        char *q = rl_synth_qconfig((rl_quant_method)o->quant, cfg, len);
        free(cfg);
        if (!(cfg = q)) return -1;
        len = strlen(cfg);
    }
    if (rl_path_join(path, sizeof path, out_dir, "config.json") || rl_write_file_atomic(path, cfg, len)) { free(cfg); return -1; }
    free(cfg);
    rl_model_desc *d = malloc(sizeof *d);
    if (!d) return rl_err("out of memory");
    if (rl_config_load(out_dir, d)) { free(d); return -1; }

    /* tensor list in file order: embedding, layers, final norm, head */
    int cap = 10 + d->n_layers * W_COUNT + d->n_layers * d->n_experts * 3 + d->n_layers * 3, n = 0; /* + routed experts (and biases) */
    tspec *ts = calloc((size_t)cap, sizeof *ts);
    if (!ts) { free(d); return rl_err("out of memory"); }
    snprintf(ts[n].name, sizeof ts[n].name, "%s", d->gname[G_EMBED]); ts[n].rows = d->vocab; ts[n].cols = d->hidden; ts[n++].kind = 3;
    for (int l = 0; l < d->n_layers; l++) {
        for (int r = 0; r < W_COUNT; r++) {
            if (!rl_role_needed_layer(d, l, r)) continue;
            tspec *t = &ts[n++];
            snprintf(t->name, sizeof t->name, d->wname[r], l);
            rl_role_shape(d, r, &t->rows, &t->cols);
            if (r == W_LIN_CONV) { /* Gated DeltaNet: [conv_dim, 1, kernel] */
                t->rows = rl_lin_conv_dim(d);
                t->cols = d->lin_conv_k;
                t->conv = 1;
            }
            int is_norm = r == W_ATTN_NORM || r == W_MLP_NORM || r == W_Q_NORM || r == W_K_NORM || r == W_POST_ATTN_NORM || r == W_POST_MLP_NORM ||
                          r == W_MLA_Q_A_NORM || r == W_MLA_KV_A_NORM || r == W_IDX_K_NORM || r == W_LIN_NORM || r == W_LIN_DT_NORM ||
                          r == W_LIN_B_NORM || r == W_LIN_C_NORM;
            t->kind = t->cols ? 0 : is_norm ? 1 : r == W_SINKS ? 4 : 2;
            t->quant = o->quant && t->cols && !t->conv && r != W_MOE_ROUTER && r != W_SHX_GATE_W;
        }
        if (d->n_experts > 0 && d->layer_moe[l]) /* routed experts (weights_moe.c) */
            for (int e = 0; e < d->n_experts; e++)
                for (int k = 0; k < 3; k++) {
                    tspec x = {0};
                    if (rl_moe_expert_name(d, l, e, k, x.name, sizeof x.name, &x.rows, &x.cols)) { free(ts); free(d); return rl_err("synth: expert name too long"); }
                    if (!x.name[0] || (d->moe_fused && e)) continue; /* fused: one 3-D tensor of every expert, plain */
                    x.quant = o->quant != 0 && !d->moe_fused;
                    x.lead = d->moe_fused ? d->n_experts : 0;
                    x.mxfp4 = d->moe_fused && d->quant.method == RL_QM_MXFP4;
                    x.transposed = d->moe_fused && d->moe_transposed && !x.mxfp4;
                    ts[n++] = x;
                    if (d->moe_fused && d->ename_b[k]) { /* its biases [E, rows] */
                        tspec b = {.rows = d->n_experts, .cols = x.rows, .kind = 2};
                        snprintf(b.name, sizeof b.name, d->ename_b[k], l);
                        ts[n++] = b;
                    }
                }
    }
    if (d->gname[G_FINAL_NORM]) { /* (OLMo 1: none) */
        snprintf(ts[n].name, sizeof ts[n].name, "%s", d->gname[G_FINAL_NORM]); ts[n].rows = d->hidden; ts[n++].kind = 1;
    }
    if (d->norm == RL_NORM_LAYER && d->gname[G_FINAL_NORM_B]) {
        snprintf(ts[n].name, sizeof ts[n].name, "%s", d->gname[G_FINAL_NORM_B]); ts[n].rows = d->hidden; ts[n++].kind = 2;
    }
    if (!d->tied) { snprintf(ts[n].name, sizeof ts[n].name, "%s", d->gname[G_LM_HEAD]); ts[n].rows = d->vocab; ts[n].cols = d->hidden; ts[n++].kind = 0; }
    if (d->head_bias) { snprintf(ts[n].name, sizeof ts[n].name, "%s", d->gname[G_LM_HEAD_B]); ts[n].rows = d->vocab; ts[n++].kind = 2; }

    rl_dtype out_dt = o->dequant_f32 ? RL_DT_F32 : o->dtype;
    size_t esz = RL_DTYPES[out_dt].size, buf_elems = 1 << 20;
    size_t n_sp = (size_t)n * RL_SYNTH_QPIECES;
    void *buf = malloc(buf_elems * 4);
    const char **names = calloc(n_sp, sizeof *names), **shards = calloc(n_sp, sizeof *shards);
    char (*shard_names)[64] = calloc((size_t)n, 64);
    char (*pnames)[192] = calloc(n_sp, 192);
    rl_st_spec *specs = calloc(n_sp, sizeof *specs);
    uint64_t rng = o->seed * 0x9E3779B97F4A7C15ull + 1, total = 0;
    int rc = -1, n_specs = 0;
    if (!buf || !names || !shards || !shard_names || !specs || !pnames) { rl_err("out of memory"); goto done; }
    /* every tensor's specs (a quantized weight has several; others one) */
    for (int i = 0; i < n; i++) {
        tspec *t = &ts[i];
        t->s0 = n_specs;
        if (t->mxfp4) { /* blocks [E, rows, cols/32, 16], scales [E, rows, cols/32] */
            snprintf(pnames[n_specs], 192, "%s_blocks", t->name);
            snprintf(pnames[n_specs + 1], 192, "%s_scales", t->name);
            specs[n_specs] = (rl_st_spec){.name = pnames[n_specs], .dtype = RL_DT_U8, .ndim = 4, .shape = {t->lead, t->rows, t->cols / 32, 16}};
            specs[n_specs + 1] = (rl_st_spec){.name = pnames[n_specs + 1], .dtype = RL_DT_U8, .ndim = 3, .shape = {t->lead, t->rows, t->cols / 32}};
            t->ns = 2;
            n_specs += 2;
            continue;
        }
        t->ns = t->quant && !o->dequant_f32 ? rl_synth_qspecs((rl_quant_method)o->quant, t->name, t->rows, t->cols, specs + n_specs, pnames + n_specs) : 0;
        if (!t->ns) {
            if (t->quant && !o->dequant_f32) t->quant = 0; /* not packable: stays plain */
            else if (t->quant) { /* dequantised copy: only where the quantized form packs it */
                rl_st_spec tmp[RL_SYNTH_QPIECES];
                char tn[RL_SYNTH_QPIECES][192];
                t->quant = rl_synth_qspecs((rl_quant_method)o->quant, t->name, t->rows, t->cols, tmp, tn) > 0;
            }
            specs[n_specs] = t->conv   ? (rl_st_spec){.name = t->name, .dtype = out_dt, .ndim = 3, .shape = {t->rows, 1, t->cols}}
                             : t->lead ? (rl_st_spec){.name = t->name, .dtype = out_dt, .ndim = 3,
                                                      .shape = {t->lead, t->transposed ? t->cols : t->rows, t->transposed ? t->rows : t->cols}}
                                       : (rl_st_spec){.name = t->name, .dtype = out_dt, .ndim = t->cols ? 2 : 1, .shape = {t->rows, t->cols}};
            t->ns = 1;
        }
        n_specs += t->ns;
    }
    /* group tensors into shards */
    int n_shards = 0, *shard_of = calloc((size_t)n, sizeof(int));
    if (!shard_of) { rl_err("out of memory"); goto done; }
    uint64_t acc = 0;
    for (int i = 0; i < n; i++) {
        uint64_t b = 0, sb;
        for (int k = 0; k < ts[i].ns; k++)
            if (!rl_dtype_nbytes(specs[ts[i].s0 + k].dtype, specs[ts[i].s0 + k].ndim, specs[ts[i].s0 + k].shape, &sb)) b += sb;
        if (i == 0 || (o->shard_bytes && acc + b > o->shard_bytes && acc > 0)) { n_shards++; acc = 0; }
        acc += b; total += b;
        shard_of[i] = n_shards - 1;
    }
    (void)esz;
    uint64_t done = 0;
    if (o->progress) o->progress(o->progress_ud, 0, total);
    for (int s = 0, i = 0; s < n_shards; s++) {
        int i0 = i;
        while (i < n && shard_of[i] == s) i++;
        if (n_shards == 1) snprintf(shard_names[s], 64, "model.safetensors");
        else snprintf(shard_names[s], 64, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        if (rl_path_join(path, sizeof path, out_dir, shard_names[s])) { free(shard_of); goto done; }
        int sp0 = ts[i0].s0, sp1 = ts[i - 1].s0 + ts[i - 1].ns;
        rl_st_writer *w = rl_st_writer_open(path, sp1 - sp0, specs + sp0, NULL);
        if (!w) { free(shard_of); goto done; }
        for (int j = i0; j < i; j++) {
            if (write_tensor(w, &ts[j], o, &rng, buf, buf_elems)) { rl_st_writer_abort(w); free(shard_of); goto done; }
            for (int k = 0; k < ts[j].ns; k++) {
                uint64_t sb;
                if (!rl_dtype_nbytes(specs[ts[j].s0 + k].dtype, specs[ts[j].s0 + k].ndim, specs[ts[j].s0 + k].shape, &sb)) done += sb;
            }
            if (o->progress) o->progress(o->progress_ud, done, total);
        }
        for (int k = sp0; k < sp1; k++) { names[k] = specs[k].name; shards[k] = shard_names[s]; }
        if (rl_st_writer_close(w)) { free(shard_of); goto done; }
    }
    free(shard_of);
    if (n_shards > 1 && rl_st_write_index(out_dir, total, n_specs, names, shards)) goto done;
    rc = 0;
done:
    free(buf); free(names); free(shards); free(shard_names); free(pnames); free(specs); free(ts); free(d);
    return rc;
}
