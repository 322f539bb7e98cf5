/* Builds the per-sweep stage list (layers, head chunks) with coalesced byte ranges (see stage.h). */
#include "io/stage.h"
#include "model/weights.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const rl_tensor_info *rl_find_tensor(const rl_model_desc *d, const rl_checkpoint *ck, const char *name) {
    const rl_tensor_info *t = rl_ckpt_find(ck, name);
    for (int i = 0; !t && i + 1 < (int)(sizeof d->name_alt / sizeof d->name_alt[0]) && d->name_alt[i]; i += 2) {
        size_t k = strlen(d->name_alt[i]);
        char alt[320];
        if (strncmp(name, d->name_alt[i], k) || snprintf(alt, sizeof alt, "%s%s", d->name_alt[i + 1], name + k) >= (int)sizeof alt)
            continue;
        t = rl_ckpt_find(ck, alt);
    }
    return t;
}

const rl_tensor_info *rl_global_tensor(const rl_model_desc *d, const rl_checkpoint *ck, rl_global_role r) {
    if (r == G_LM_HEAD && d->tied) r = G_EMBED;
    const char *n = d->gname[r];
    return (n && *n) ? rl_find_tensor(d, ck, n) : NULL;
}

static int check_shape(const rl_tensor_info *t, int64_t rows, int64_t cols, const char *dir) {
    if (!rows) return 0;
    /* a vector may come reshaped (GGUF ssm_a / ssm_d {1, n}, a grouped norm's {n / g, g}): its items in order */
    int ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                  : (t->ndim == 1 && t->shape[0] == rows) ||
                        (t->ndim > 1 && !rl_dtype_is_block(t->dtype) && (int64_t)(t->nbytes / RL_DTYPES[t->dtype].size) == rows);
    if (!rl_dtype_is_weight(t->dtype) || (!cols && rl_dtype_is_block(t->dtype)))
        return rl_err("%s: tensor %s has dtype %s; weights must be F32, F16 or BF16%s", dir, t->name, RL_DTYPES[t->dtype].st_name,
                      cols ? " (or Q8_0 / Q4_1)" : "");
    if (ok) return 0;
    if (cols) return rl_err("%s: tensor %s has shape [%lld, %lld], expected [%lld, %lld] from config.json", dir, t->name,
                            (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0), (long long)rows, (long long)cols);
    return rl_err("%s: tensor %s has shape [%lld%s], expected [%lld] from config.json", dir, t->name,
                  (long long)t->shape[0], t->ndim > 1 ? ", ..." : "", (long long)rows);
}

/* Lays a stage's tensors out in its buffer (io/coalesce.h) and fills ranges and off[]. */
static void layout_stage(rl_stage *s, int n_roles) {
    rl_span sp[RL_COALESCE_MAX] = {{0}};
    size_t so[RL_COALESCE_MAX];
    int role_of[RL_COALESCE_MAX], n = 0;
    for (int r = 0; r < n_roles; r++)
        if (s->t[r]) {
            sp[n] = (rl_span){s->t[r]->file, s->t[r]->offset, s->t[r]->nbytes};
            if (s->kind == RL_STAGE_HEAD) { /* rows [row0, row1) of the head */
                uint64_t rb = s->t[r]->nbytes / (uint64_t)s->t[r]->shape[0];
                sp[n].off += rb * (uint64_t)s->row0;
                sp[n].len = rb * (uint64_t)(s->row1 - s->row0);
            }
            role_of[n++] = r;
            for (int k = 0; s->q && k < RL_QAUX && n < RL_COALESCE_MAX; k++) /* composite: its extra tensors */
                if (s->q[r].aux[k]) {
                    sp[n] = (rl_span){s->q[r].aux[k]->file, s->q[r].aux[k]->offset, s->q[r].aux[k]->nbytes};
                    role_of[n++] = -1 - (r * RL_QAUX + k);
                }
        }
    s->n_ranges = rl_coalesce(sp, n, 0, s->ranges, so, &s->bytes, 1); /* O_DIRECT-ready layout */
    for (int i = 0; i < n; i++)
        if (role_of[i] >= 0) s->off[role_of[i]] = so[i];
        else s->q[(-1 - role_of[i]) / RL_QAUX].aux_off[(-1 - role_of[i]) % RL_QAUX] = so[i];
}

int rl_stages_build(const rl_model_desc *d, const rl_checkpoint *ck, size_t head_chunk_max, rl_stage **out, int *n_out) {
    const char *dir = rl_ckpt_path(ck, 0);
    const rl_tensor_info *head = rl_global_tensor(d, ck, G_LM_HEAD);
    if (!head) return rl_err("%s: missing tensor %s%s", dir, d->tied ? d->gname[G_EMBED] : d->gname[G_LM_HEAD],
                             d->tied ? "" : " (config.json says tie_word_embeddings false)");
    if (check_shape(head, d->vocab, d->hidden, dir)) return -1;
    size_t n_alloc = (size_t)d->n_layers + 1024, nq = d->quant.method ? (size_t)d->n_layers * W_COUNT : 0;
    rl_stage *st = calloc(1, n_alloc * sizeof *st + nq * sizeof(rl_stage_qrole)); /* stages, then composite roles */
    if (!st) return rl_err("out of memory");
    size_t largest = 0;
    for (int l = 0; l < d->n_layers; l++) {
        rl_stage *s = &st[l];
        s->kind = RL_STAGE_LAYER;
        s->layer = l;
        for (int r = 0; r < W_COUNT; r++) {
            if (!rl_role_needed_layer(d, l, r)) continue;
            char name[256];
            if (!d->wname[r]) { free(st); return rl_err("%s: family %s has no tensor name for a needed weight (role %d)", dir, d->family, r); }
            snprintf(name, sizeof name, d->wname[r], l);
            int64_t rows, cols;
            rl_role_shape(d, r, &rows, &cols);
            const rl_tensor_info *t = NULL;
            if (nq && !s->q) s->q = (rl_stage_qrole *)(st + n_alloc) + (size_t)l * W_COUNT;
            int qr = nq && cols ? rl_stage_quant_role(d, ck, name, rows, cols, dir, &t, &s->q[r]) : 0;
            if (qr > 0 && (r == W_QKV || r == W_GATE_UP || (r == W_SHX_GATE && d->moe_shared_fused))) qr = rl_err("%s: tensor %s: fused quantized projections are not supported yet", dir, t->name);
            if (qr < 0) { free(st); return -1; }
            if (!qr) t = rl_find_tensor(d, ck, name);
            if (!t) {
                if (d->w_optional & (1ull << r)) continue;
                free(st);
                return rl_err("%s: missing tensor %s", dir, name);
            }
            if (!qr && check_shape(t, rows, cols, dir)) { free(st); return -1; }
            s->t[r] = t;
        }
        layout_stage(s, W_COUNT);
        if (s->bytes > largest) largest = s->bytes;
    }
    /* head chunks: rows of the (possibly tied) head, each chunk <= the largest layer */
    size_t cap = head_chunk_max ? head_chunk_max : largest;
    uint64_t row_bytes = head->nbytes / (uint64_t)d->vocab;
    int rows_per = (int)(cap / row_bytes);
    if (rows_per < 16) rows_per = 16;
    if ((d->vocab + rows_per - 1) / rows_per > 1024) rows_per = (d->vocab + 1023) / 1024;
    int n = d->n_layers;
    for (int r0 = 0; r0 < d->vocab; r0 += rows_per) {
        rl_stage *s = &st[n++];
        memset(s, 0, sizeof *s);
        s->kind = RL_STAGE_HEAD;
        s->row0 = r0;
        s->row1 = r0 + rows_per < d->vocab ? r0 + rows_per : d->vocab;
        s->t[0] = head;
        layout_stage(s, 1);
    }
    *out = st;
    *n_out = n;
    return 0;
}
