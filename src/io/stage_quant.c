/* Composite weight resolution for pre-quantized HF checkpoints (see stage_quant.h). Tensor
 * layouts: ../shared/fixtures-quant/README.md (from the producers' code). */
#include "io/stage_quant.h"
#include "io/stage.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rl_tensor_info *find_sfx(const rl_checkpoint *ck, const char *base, const char *sfx, char *name, size_t cap) {
    if (snprintf(name, cap, "%s%s", base, sfx) >= (int)cap) return NULL;
    return rl_ckpt_find(ck, name);
}

/* Checks a tensor's dtype and 2-D / 1-D shape (c < 0: 1-D of r). */
static int want(const rl_tensor_info *t, const char *dir, const char *what, rl_dtype dt, int64_t r, int64_t c) {
    int ok = c < 0 ? (t->ndim == 1 && t->shape[0] == r) : (t->ndim == 2 && t->shape[0] == r && t->shape[1] == c);
    if (t->dtype != dt)
        return rl_err("%s: tensor %s (%s) has dtype %s, expected %s", dir, t->name, what, RL_DTYPES[t->dtype].st_name, RL_DTYPES[dt].st_name);
    if (ok) return 0;
    if (c < 0) return rl_err("%s: tensor %s (%s) has the wrong shape: expected [%lld]", dir, t->name, what, (long long)r);
    return rl_err("%s: tensor %s (%s) has shape [%lld, %lld], expected [%lld, %lld]", dir, t->name, what,
                  (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0), (long long)r, (long long)c);
}

static int fp8_role(const rl_checkpoint *ck, const char *name, int64_t rows, int64_t cols, const char *dir,
                    const rl_quant_desc *qd, const rl_tensor_info *w, rl_stage_qrole *q) {
    char n2[320];
    if (want(w, dir, "FP8 weight", RL_DT_F8_E4M3, rows, cols)) return -1;
    const rl_tensor_info *s = find_sfx(ck, name, qd->fp8_ct ? "_scale" : "_scale_inv", n2, sizeof n2);
    if (!s) return rl_err("%s: missing tensor %s (the FP8 %s scales of %s)", dir, n2, qd->fp8_ct ? qd->type : "block", name);
    /* block 0 = the whole dimension (compressed-tensors per-channel / per-tensor) */
    int64_t br = qd->block[0] ? qd->block[0] : rows, bc = qd->block[1] ? qd->block[1] : cols, sr = (rows + br - 1) / br, sc = (cols + bc - 1) / bc;
    if (s->dtype != RL_DT_F32 && s->dtype != RL_DT_BF16 && s->dtype != RL_DT_F16)
        return rl_err("%s: tensor %s has dtype %s; FP8 scales must be F32, BF16 or F16", dir, s->name, RL_DTYPES[s->dtype].st_name);
    /* a grid of one column may also be stored 1-D ([out] per channel; [] or [1] per tensor) */
    int grid_ok = s->ndim == 2 ? s->shape[0] == sr && s->shape[1] == sc
                : sc == 1 && qd->fp8_ct && (s->ndim == 1 ? s->shape[0] == sr : sr == 1 && s->ndim == 0);
    if (!grid_ok)
        return rl_err("%s: tensor %s: the scale grid [%lld, %lld] does not cover weight %s [%lld, %lld] in %lldx%lld blocks (expected [%lld, %lld])",
                      dir, s->name, (long long)s->shape[0], (long long)(s->ndim > 1 ? s->shape[1] : 0), name, (long long)rows,
                      (long long)cols, (long long)br, (long long)bc, (long long)sr, (long long)sc);
    q->dt = RL_DT_FP8_BLK;
    q->aux[0] = s;
    q->p.scale_dt = s->dtype;
    q->p.bits = 8;
    q->p.blk_r = (int)br;
    q->p.blk_c = (int)bc;
    return 1;
}

/* GPTQ (v1) and AWQ (GEMM): base is the module prefix (name without ".weight"). */
static int int_role(const rl_checkpoint *ck, const char *base, int64_t rows, int64_t cols, const char *dir,
                    const rl_quant_desc *qd, const rl_tensor_info *w, rl_stage_qrole *q) {
    char n2[320];
    int gptq = qd->method == RL_QM_GPTQ, pf = 32 / qd->bits;
    int64_t G = (cols + qd->group - 1) / qd->group;
    const char *fmt = gptq ? "GPTQ" : "AWQ";
    if (gptq ? cols % pf || rows % pf : rows % pf || cols % qd->group)
        return rl_err("%s: tensor %s: [%lld out, %lld in] cannot be packed as %s %d-bit (group %d)", dir, w->name,
                      (long long)rows, (long long)cols, fmt, qd->bits, qd->group);
    if (gptq ? want(w, dir, "GPTQ qweight", RL_DT_I32, cols / pf, rows) : want(w, dir, "AWQ qweight", RL_DT_I32, cols, rows / pf)) return -1;
    const rl_tensor_info *z = find_sfx(ck, base, ".qzeros", n2, sizeof n2);
    if (!z) return rl_err("%s: missing tensor %s (%s zeros)", dir, n2, fmt);
    if (want(z, dir, "qzeros", RL_DT_I32, G, rows / pf)) return -1;
    const rl_tensor_info *s = find_sfx(ck, base, ".scales", n2, sizeof n2);
    if (!s) return rl_err("%s: missing tensor %s (%s scales)", dir, n2, fmt);
    if (want(s, dir, "scales", RL_DT_F16, G, rows)) return -1;
    q->dt = gptq ? RL_DT_GPTQ : RL_DT_AWQ;
    q->aux[0] = s;
    q->aux[1] = z;
    q->p.bits = qd->bits;
    q->p.group = qd->group;
    q->p.ngroups = (int)G;
    if (!gptq) return 1;
    const rl_tensor_info *g = find_sfx(ck, base, ".g_idx", n2, sizeof n2);
    if (!g) return rl_err("%s: missing tensor %s (GPTQ group index)", dir, n2);
    if (want(g, dir, "g_idx", RL_DT_I32, cols, -1)) return -1;
    int32_t *gi = malloc((size_t)g->nbytes);
    if (!gi) return rl_err("out of memory");
    int rc = rl_ckpt_read(ck, g, gi);
    for (int64_t i = 0; !rc && i < cols; i++)
        if (gi[i] < 0 || gi[i] >= G)
            rc = rl_err("%s: tensor %s: g_idx[%lld] = %d is out of range (the scales have %lld groups)", dir, g->name, (long long)i, gi[i], (long long)G);
    free(gi);
    q->aux[2] = g;
    return rc ? -1 : 1;
}

/* Reads the quant_state JSON of a bitsandbytes weight into q->p (blocksize, nested params). */
static int bnb_state(const rl_checkpoint *ck, const rl_tensor_info *t, int64_t rows, int64_t cols, const char *dir, int dq, rl_stage_qrole *q) {
    if (t->dtype != RL_DT_U8 || t->nbytes > 4096) return rl_err("%s: tensor %s: expected a small U8 JSON quant_state", dir, t->name);
    char buf[4097];
    if (rl_ckpt_read(ck, t, buf)) return -1;
    buf[t->nbytes] = 0;
    cJSON *j = cJSON_Parse(buf);
    int rc = 0;
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(j, "blocksize"), *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *nb = cJSON_GetObjectItemCaseSensitive(j, "nested_blocksize"), *no = cJSON_GetObjectItemCaseSensitive(j, "nested_offset");
    if (!cJSON_IsObject(j) || !cJSON_IsNumber(bs) || bs->valuedouble < 2 || bs->valuedouble > 65536 || !cJSON_IsArray(sh) ||
        cJSON_GetArraySize(sh) != 2)
        rc = rl_err("%s: tensor %s: quant_state is not a bitsandbytes 4-bit state (blocksize, shape)", dir, t->name);
    else if (cJSON_GetArrayItem(sh, 0)->valuedouble != (double)rows || cJSON_GetArrayItem(sh, 1)->valuedouble != (double)cols)
        rc = rl_err("%s: tensor %s: quant_state shape [%g, %g] differs from the expected [%lld, %lld]", dir, t->name,
                    cJSON_GetArrayItem(sh, 0)->valuedouble, cJSON_GetArrayItem(sh, 1)->valuedouble, (long long)rows, (long long)cols);
    else if (dq && (!cJSON_IsNumber(nb) || nb->valuedouble < 1 || nb->valuedouble > 65536 || !cJSON_IsNumber(no)))
        rc = rl_err("%s: tensor %s: double-quantised quant_state lacks nested_blocksize / nested_offset", dir, t->name);
    else {
        q->p.group = (int)bs->valuedouble;
        if (dq) { q->p.nested_block = (int)nb->valuedouble; q->p.nested_offset = (float)no->valuedouble; }
    }
    cJSON_Delete(j);
    return rc;
}

static int bnb_role(const rl_checkpoint *ck, const char *name, int64_t rows, int64_t cols, const char *dir,
                    const rl_quant_desc *qd, const rl_tensor_info *w, rl_stage_qrole *q) {
    char n2[320];
    int64_t n = rows * cols;
    if (n % 2 || (w->ndim == 2 ? w->shape[0] != n / 2 || w->shape[1] != 1 : w->ndim != 1 || w->shape[0] != n / 2))
        return rl_err("%s: tensor %s: packed 4-bit weight of shape [%lld%s] does not hold [%lld, %lld] codes", dir, w->name,
                      (long long)w->shape[0], w->ndim == 2 ? ", 1" : "", (long long)rows, (long long)cols);
    const rl_tensor_info *st = find_sfx(ck, name, ".quant_state.bitsandbytes__nf4", n2, sizeof n2);
    if (!st) st = find_sfx(ck, name, ".quant_state.bitsandbytes__fp4", n2, sizeof n2);
    if (!st) return rl_err("%s: missing tensor %s.quant_state.bitsandbytes__%s", dir, name, qd->type);
    const rl_tensor_info *am = find_sfx(ck, name, ".absmax", n2, sizeof n2);
    if (!am) return rl_err("%s: missing tensor %s (bitsandbytes absmax)", dir, n2);
    int dq = am->dtype == RL_DT_U8;
    if (bnb_state(ck, st, rows, cols, dir, dq, q)) return -1;
    int64_t nblk = (n + q->p.group - 1) / q->p.group;
    if (want(am, dir, "absmax", dq ? RL_DT_U8 : RL_DT_F32, nblk, -1)) return -1;
    const rl_tensor_info *qm = find_sfx(ck, name, ".quant_map", n2, sizeof n2);
    if (!qm) return rl_err("%s: missing tensor %s (bitsandbytes code map)", dir, n2);
    if (want(qm, dir, "quant_map", RL_DT_F32, 16, -1)) return -1;
    q->aux[0] = am;
    q->aux[1] = qm;
    if (dq) {
        const rl_tensor_info *na = find_sfx(ck, name, ".nested_absmax", n2, sizeof n2);
        if (!na) return rl_err("%s: missing tensor %s (double quantisation)", dir, n2);
        if (want(na, dir, "nested_absmax", RL_DT_F32, (nblk + q->p.nested_block - 1) / q->p.nested_block, -1)) return -1;
        const rl_tensor_info *nm = find_sfx(ck, name, ".nested_quant_map", n2, sizeof n2);
        if (!nm) return rl_err("%s: missing tensor %s (double quantisation)", dir, n2);
        if (want(nm, dir, "nested_quant_map", RL_DT_F32, 256, -1)) return -1;
        q->aux[2] = na;
        q->aux[3] = nm;
    }
    q->dt = RL_DT_BNB4;
    q->p.scale_dt = dq ? RL_DT_U8 : RL_DT_F32;
    q->p.bits = 4;
    return 1;
}

int rl_stage_quant_role(const rl_model_desc *d, const rl_checkpoint *ck, const char *name, int64_t rows, int64_t cols,
                        const char *dir, const rl_tensor_info **main, rl_stage_qrole *q) {
    const rl_quant_desc *qd = &d->quant;
    memset(q, 0, sizeof *q);
    if (qd->method == RL_QM_NONE || qd->method == RL_QM_MXFP4 /* (experts only: moe.c) */ || rows <= 0 || cols <= 0 || rows > (1 << 30) || cols > (1 << 30)) return 0;
    const rl_tensor_info *w = rl_find_tensor(d, ck, name);
    if (w) name = w->name; /* (found under a name_alt prefix: its extra tensors are there too) */
    int rc = 0;
    q->p.rows = (int)rows;
    q->p.cols = (int)cols;
    if (qd->method == RL_QM_FP8) {
        if (!w || w->dtype != RL_DT_F8_E4M3) return 0;
        rc = fp8_role(ck, name, rows, cols, dir, qd, w, q);
    } else if (qd->method == RL_QM_BNB4) {
        if (!w || w->dtype != RL_DT_U8) return 0;
        rc = bnb_role(ck, name, rows, cols, dir, qd, w, q);
    } else {
        if (w) return 0;
        char base[320], n2[320];
        size_t k = strlen(name);
        if (k < 7 || strcmp(name + k - 7, ".weight") || k - 7 >= sizeof base) return 0;
        memcpy(base, name, k - 7);
        base[k - 7] = 0;
        if (snprintf(n2, sizeof n2, "%s.qweight", base) >= (int)sizeof n2 || !(w = rl_find_tensor(d, ck, n2))) return 0;
        snprintf(base, sizeof base, "%.*s", (int)(strlen(w->name) - 8), w->name); /* (under a name_alt prefix) */
        rc = int_role(ck, base, rows, cols, dir, qd, w, q);
    }
    if (rc == 1) *main = w;
    return rc;
}

void rl_stage_qweight(const rl_stage_qrole *q, const uint8_t *data, const uint8_t *base, rl_qweight *out) {
    *out = q->p;
    const void *a[RL_QAUX];
    for (int k = 0; k < RL_QAUX; k++) a[k] = q->aux[k] ? base + q->aux_off[k] : NULL;
    out->data = data;
    switch (q->dt) {
    case RL_DT_FP8_BLK: out->scales = a[0]; break;
    case RL_DT_GPTQ: out->scales = a[0]; out->zeros = a[1]; out->g_idx = a[2]; break;
    case RL_DT_AWQ: out->scales = a[0]; out->zeros = a[1]; break;
    case RL_DT_BNB4: out->scales = a[0]; out->g_idx = a[1]; out->zeros = a[2]; out->map2 = a[3]; break;
    case RL_DT_MXFP4: out->scales = a[0]; break;
    default: break;
    }
}
