/* The KV cache (see kvcache.h). */
#include "engine/kvcache.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t kb_row(const rl_kvcache *kv) { return rl_dtype_row_bytes(kv->dt, kv->k_width); }
static size_t vb_row(const rl_kvcache *kv) { return kv->v_shared ? 0 : rl_dtype_row_bytes(kv->dt, kv->v_width); }
static int rows_of(const rl_kvcache *kv, int l) { return kv->ring[l] ? kv->ring[l] : kv->ctx; }

int rl_kv_type_parse(const char *s) {
    if (!s || !*s || !strcmp(s, "auto")) return -1;
    if (!strcmp(s, "f32")) return RL_DT_F32;
    if (!strcmp(s, "f16")) return RL_DT_F16;
    if (!strcmp(s, "bf16")) return RL_DT_BF16;
    if (!strcmp(s, "q8_0")) return RL_DT_Q8_0;
    return -2;
}

int rl_kv_plan(rl_kvcache *kv, rl_plan *p, int n_layers, const int *window, int n_seq, int ctx, int max_T,
               int k_width, int v_width, rl_dtype dt, int ring_ok) {
    kv->n_layers = n_layers; kv->n_seq = n_seq; kv->ctx = ctx; kv->max_T = max_T;
    kv->k_width = k_width; kv->v_width = v_width; kv->dt = dt;
    if (dt == RL_DT_Q8_0 && (k_width % 32 || v_width % 32))
        return rl_err("KV type q8_0 needs head dims that are multiples of 32");
    free(kv->ring); free(kv->off);
    kv->ring = calloc((size_t)n_layers + 1, sizeof(int));
    kv->off = calloc((size_t)n_layers + 1, sizeof(size_t));
    if (!kv->ring || !kv->off) return rl_err("out of memory");
    size_t full = 0, slid = 0, fullv = 0, slidv = 0;
    int n_full = 0, n_slid = 0, ring_max = 0;
    for (int l = 0; l < n_layers; l++) {
        int r = window[l] > 0 && ring_ok ? window[l] + max_T - 1 : 0;
        if (r >= ctx) r = 0; /* a ring as long as the context is just a linear cache */
        kv->ring[l] = r;
        size_t k = (size_t)n_seq * rows_of(kv, l) * kb_row(kv), v = (size_t)n_seq * rows_of(kv, l) * vb_row(kv);
        if (r) { kv->off[l] = slid; slid += k; slidv += v; n_slid++; if (r > ring_max) ring_max = r; }
        else { kv->off[l] = full; full += k; fullv += v; n_full++; }
    }
    /* value offsets are the key offsets scaled by the width ratio: same row counts */
    snprintf(kv->name_full, sizeof kv->name_full, "kv cache %s: %d full layers x %d rows%s", RL_DTYPES[dt].st_name, n_full, ctx,
             kv->v_shared ? " (latent)" : "");
    snprintf(kv->name_slid, sizeof kv->name_slid, "kv cache %s: %d ring layers (sliding / chunked) x %d rows", RL_DTYPES[dt].st_name, n_slid, ring_max);
    rl_plan_add(p, kv->name_full, RL_MEM_DEVICE, full + fullv, (void **)&kv->kf);
    rl_plan_add(p, kv->name_slid, RL_MEM_DEVICE, slid + slidv, (void **)&kv->ks);
    rl_plan_add(p, "kv cache: token history", RL_MEM_HOST, (size_t)n_seq * ctx * sizeof(int32_t) + (size_t)n_seq * sizeof(int), NULL);
    return 0;
}

int rl_kv_plan_shared(rl_kvcache *kv, rl_plan *p, int n_layers, int n_seq, int ctx, int max_T, int width, rl_dtype dt) {
    int *win = calloc((size_t)n_layers + 1, sizeof(int));
    if (!win) return rl_err("out of memory");
    kv->v_shared = 1;
    int rc = rl_kv_plan(kv, p, n_layers, win, n_seq, ctx, max_T, width, width, dt, 0);
    free(win);
    return rc;
}

int rl_kv_init_host(rl_kvcache *kv) {
    /* each kind's block holds its keys first, then its values */
    size_t fk = 0, sk = 0;
    for (int l = 0; l < kv->n_layers; l++) {
        size_t k = (size_t)kv->n_seq * rows_of(kv, l) * kb_row(kv);
        if (kv->ring[l]) sk += k; else fk += k;
    }
    kv->vf = kv->kf ? kv->kf + fk : NULL;
    kv->vs = kv->ks ? kv->ks + sk : NULL;
    kv->pos = calloc((size_t)kv->n_seq, sizeof(int));
    kv->hist = malloc((size_t)kv->n_seq * kv->ctx * sizeof(int32_t) + 1);
    if (!kv->pos || !kv->hist) return rl_err("out of memory for the token history");
    return 0;
}

void rl_kv_free(rl_kvcache *kv) {
    free(kv->pos); free(kv->hist); free(kv->ring); free(kv->off);
    kv->pos = NULL; kv->hist = NULL; kv->ring = NULL; kv->off = NULL;
}

uint64_t rl_kv_bytes(const rl_kvcache *kv) {
    uint64_t b = 0;
    for (int l = 0; l < kv->n_layers; l++) b += (uint64_t)kv->n_seq * rows_of(kv, l) * (kb_row(kv) + vb_row(kv));
    return b;
}

rl_kv_view rl_kv_layer(const rl_kvcache *kv, int l, int seq) {
    size_t rows = (size_t)rows_of(kv, l), kb = kb_row(kv), vb = vb_row(kv);
    size_t ko = kv->off[l] + (size_t)seq * rows * kb;
    size_t vo = kv->off[l] / kb * vb + (size_t)seq * rows * vb; /* off counts key rows of earlier layers */
    uint8_t *K = kv->ring[l] ? kv->ks : kv->kf, *V = kv->ring[l] ? kv->vs : kv->vf;
    if (kv->v_shared) return (rl_kv_view){K + ko, K + ko, kv->dt, kv->ring[l], kv->k_width, kv->k_width, NULL};
    return (rl_kv_view){K + ko, V + vo, kv->dt, kv->ring[l], kv->k_width, kv->v_width, NULL};
}

float *rl_kv_k(const rl_kvcache *kv, int l, int seq) { return (float *)rl_kv_layer(kv, l, seq).k; }
float *rl_kv_v(const rl_kvcache *kv, int l, int seq) { return (float *)rl_kv_layer(kv, l, seq).v; }

void rl_kv_record(rl_kvcache *kv, int seq, const int32_t *tok, int n) {
    int32_t *h = kv->hist + (size_t)seq * kv->ctx + kv->pos[seq];
    if (tok != h) memmove(h, tok, (size_t)n * sizeof(int32_t));
}

int rl_kv_truncate(rl_kvcache *kv, int seq, int pos) {
    if (seq < 0 || seq >= kv->n_seq) return rl_err("rewind: sequence %d out of range (0..%d)", seq, kv->n_seq - 1);
    if (pos < 0 || pos > kv->pos[seq]) return rl_err("rewind: position %d outside 0..%d", pos, kv->pos[seq]);
    int lost = 0;
    for (int l = 0; l < kv->n_layers && !lost; l++) lost = kv->ring[l] && pos > 0 && kv->pos[seq] - pos > kv->max_T;
    kv->pos[seq] = pos;
    return lost;
}

int rl_kv_common_prefix(const rl_kvcache *kv, int seq, const int32_t *tok, int n) {
    const int32_t *h = kv->hist + (size_t)seq * kv->ctx;
    int i = 0;
    while (i < n && i < kv->pos[seq] && h[i] == tok[i]) i++;
    return i;
}
