/* The engine: opens a model (config, checkpoint index, stages, loader, arenas) and runs sweeps:
 * embedding -> every layer streamed from disk -> final norm -> lm_head in chunks. */
#include "engine/model.h"
#include "engine/dense_ext.h"
#include "engine/deltanet.h"
#include "engine/mla.h"
#include "engine/moe.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "model/config.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *rl_last_error(void) { return rl_errmsg(); }

static float *falloc(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    return p; /* not touched here: pages of the KV cache are only committed as it fills */
}

/* Reads a small whole-model vector tensor into a new f32 buffer of n floats. */
static float *load_vec(rl_model *m, rl_global_role r, int n, int required) {
    const rl_tensor_info *t = rl_global_tensor(&m->d, m->ck, r);
    if (!t) {
        if (required) rl_err("%s: missing tensor %s", m->dir, m->d.gname[r]);
        return NULL;
    }
    if (t->ndim != 1 || t->shape[0] != n) { rl_err("%s: tensor %s: expected shape [%d]", m->dir, t->name, n); return NULL; }
    void *raw = malloc(t->nbytes);
    float *f = falloc((size_t)n);
    if (!raw || !f || rl_ckpt_read(m->ck, t, raw)) { free(raw); free(f); return NULL; }
    rl_convert_to_f32(f, raw, t->dtype, n);
    free(raw);
    return f;
}

void rl_model_close(rl_model *m) {
    if (!m) return;
    rl_loader_free(m->ld);
    rl_pool_free(m->pool);
    rl_ckpt_close(m->ck);
    free(m->stages);
    free(m->final_norm); free(m->final_norm_b);
    free(m->kc); free(m->vc);
    free(m->x); free(m->xb); free(m->q); free(m->k); free(m->v); free(m->att); free(m->o);
    free(m->hb); free(m->hb2); free(m->wv); free(m->rope_cos); free(m->rope_sin);
    free(m->attn_scratch); free(m->head_tmp); free(m->emb_row); free(m->posv);
    free(m->compute_s);
    free(m->seq_pos); free(m->seg); free(m->out_rows); free(m->out_item); free(m->batch_tok); free(m->batch_logits);
    free(m->qkv_tmp); free(m->lm_head_b);
    rl_hybrid_close(m);
    rl_moe_close(m); rl_mla_close(m);
    free(m);
}

static int has_linear_layers(const rl_model_desc *d) {
    for (int l = 0; l < d->n_layers; l++) if (d->layers[l].kind == RL_LAYER_LINEAR) return 1;
    return 0;
}

rl_model *rl_model_open(const char *dir, const rl_model_opts *opts) {
    rl_model_opts o = opts ? *opts : (rl_model_opts){0};
    rl_model *m = calloc(1, sizeof *m);
    if (!m) { rl_err("out of memory"); return NULL; }
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    if (rl_config_load(dir, &m->d)) goto fail;
    rl_model_desc *d = &m->d;
    if (!(m->ck = rl_ckpt_open(dir))) goto fail;
    if (rl_stages_build(d, m->ck, 0, &m->stages, &m->n_stages)) goto fail;
    m->embed = rl_global_tensor(d, m->ck, G_EMBED);
    if (!m->embed) { rl_err("%s: missing tensor %s", dir, d->gname[G_EMBED]); goto fail; }
    if (m->embed->ndim != 2 || m->embed->shape[0] != d->vocab || m->embed->shape[1] != d->hidden) {
        rl_err("%s: tensor %s: expected shape [%d, %d] from config.json", dir, m->embed->name, d->vocab, d->hidden);
        goto fail;
    }
    if (!(m->final_norm = load_vec(m, G_FINAL_NORM, d->hidden, 1))) goto fail;
    if (d->norm == RL_NORM_LAYER) m->final_norm_b = load_vec(m, G_FINAL_NORM_B, d->hidden, 0);
    if (d->head_bias && !(m->lm_head_b = load_vec(m, G_LM_HEAD_B, d->vocab, 1))) goto fail;

    m->ctx = o.ctx > 0 ? o.ctx : (d->max_pos < 4096 ? d->max_pos : 4096);
    m->max_T = o.max_batch > 0 ? o.max_batch : 256;
    if (m->max_T > m->ctx) m->max_T = m->ctx;
    if (d->ctx_exact_max > 0 && m->ctx > d->ctx_exact_max) {
        rl_err("%s: a context of %d tokens exceeds %d, beyond which %s (not implemented); use --ctx %d or less",
               dir, m->ctx, d->ctx_exact_max, d->ctx_exact_why, d->ctx_exact_max);
        goto fail;
    }
    m->kv_dim = d->n_kv_heads * d->head_dim;
    m->n_seq = o.n_seq > 0 ? o.n_seq : 1;
    if (m->n_seq > 1 && (d->mla || has_linear_layers(d))) {
        rl_err("%s: several sequences at once (batching) are not supported for %s yet", dir, d->family);
        goto fail;
    }
    if (!(m->pool = rl_pool_new(o.n_threads))) goto fail;
    /* the memory budget (io/budget.h): what may stay resident under the real limit, decided
     * before the KV cache and activations are allocated and any layer is read */
    rl_budget_in bi = {.request = o.mem_budget};
    rl_budget_sizes(d, m->stages, m->n_stages, m->ctx, m->n_seq, m->max_T, rl_pool_size(m->pool), &bi);
    if (rl_budget_decide(&bi, NULL, &m->budget)) { rl_err_prefix("%s: ", dir); goto fail; }

    size_t T = (size_t)m->max_T, H = (size_t)d->hidden, qd = (size_t)d->n_heads * d->head_dim, kvd = (size_t)m->kv_dim;
    size_t I = (size_t)d->intermediate;
    size_t wstride = H > I ? H : I;
    if (qd + 2 * kvd > wstride) wstride = qd + 2 * kvd;
    int head_rows = 0;
    for (int i = d->n_layers; i < m->n_stages; i++)
        if (m->stages[i].row1 - m->stages[i].row0 > head_rows) head_rows = m->stages[i].row1 - m->stages[i].row0;
    /* hybrid models: linear-attention layers keep a fixed-size state instead of a KV cache */
    int n_kvl;
    if (rl_hybrid_open(m, &n_kvl)) goto fail;
    m->kc = falloc((size_t)n_kvl * m->n_seq * m->ctx * kvd);
    m->vc = falloc((size_t)n_kvl * m->n_seq * m->ctx * kvd);
    m->seq_pos = calloc((size_t)m->n_seq, sizeof(int));
    m->seg = malloc(T * sizeof *m->seg);
    m->out_rows = malloc(T * sizeof(int));
    m->out_item = malloc(T * sizeof(int));
    m->batch_tok = malloc(T * sizeof(int32_t));
    m->batch_logits = falloc((size_t)(m->n_seq < m->max_T ? m->n_seq : m->max_T) * d->vocab);
    m->x = falloc(T * H); m->xb = falloc(T * H); m->o = falloc(T * H);
    m->q = falloc(T * qd); m->att = falloc(T * qd);
    m->k = falloc(T * kvd); m->v = falloc(T * kvd);
    m->hb = falloc(T * I); m->hb2 = falloc(T * I);
    m->wv = falloc(3 * wstride);
    m->rope_cos = falloc(2 * T * (RL_MAX_ROPE_FACTORS / 2));
    m->rope_sin = falloc(2 * T * (RL_MAX_ROPE_FACTORS / 2));
    m->attn_scratch = falloc(rl_attention_scratch_floats(rl_pool_size(m->pool), m->ctx));
    m->head_tmp = falloc(T * (size_t)head_rows);
    m->emb_row = malloc(m->embed->nbytes / (size_t)d->vocab);
    m->posv = malloc(T * sizeof(int));
    m->compute_s = calloc((size_t)m->n_stages, sizeof(double));
    if (d->qkv_grouped && !(m->qkv_tmp = falloc(T * (qd + 2 * kvd)))) { rl_err("%s: out of memory", dir); goto fail; }
    if (!m->seq_pos || !m->seg || !m->out_rows || !m->out_item || !m->batch_tok || !m->batch_logits ||
        !m->kc || !m->vc || !m->x || !m->xb || !m->o || !m->q || !m->att || !m->k || !m->v || !m->hb || !m->hb2 ||
        !m->wv || !m->rope_cos || !m->rope_sin || !m->attn_scratch || !m->head_tmp || !m->emb_row || !m->posv || !m->compute_s) {
        rl_err("%s: out of memory for the KV cache (%d tokens) and activations", dir, m->ctx);
        goto fail;
    }
    if (rl_moe_open(m) || rl_mla_open(m)) goto fail; /* MoE experts / MLA scratch (moe.c, mla.c) */
    rl_loader_opts lo = {(size_t)m->budget.resident, !m->budget.cache_streamed};
    if (!(m->ld = rl_loader_new_opts(m->ck, m->stages, m->n_stages, &lo))) goto fail;
    return m;
fail:
    rl_model_close(m);
    return NULL;
}

int rl_model_vocab(const rl_model *m) { return m->d.vocab; }
int rl_model_ctx(const rl_model *m) { return m->ctx; }
int rl_model_pos(const rl_model *m) { return m->seq_pos[0]; }
int rl_model_n_seq(const rl_model *m) { return m->n_seq; }
int rl_model_seq_pos(const rl_model *m, int seq) { return seq >= 0 && seq < m->n_seq ? m->seq_pos[seq] : -1; }
void rl_model_seq_rewind(rl_model *m, int seq, int pos) {
    if (seq == 0) rl_model_rewind(m, pos);
    else if (seq > 0 && seq < m->n_seq && pos >= 0 && pos < m->seq_pos[seq]) m->seq_pos[seq] = pos;
}
/* Hybrid models (recurrent state, not rewindable) rebuild the kept prefix on the next eval. */
void rl_model_rewind(rl_model *m, int pos) {
    if (m->n_lin) rl_hybrid_rewind(m, pos);
    else if (pos >= 0 && pos < m->seq_pos[0]) m->seq_pos[0] = pos;
}
int rl_model_rewind_is_cheap(const rl_model *m) { return m->n_lin == 0; }
int rl_model_is_eos(const rl_model *m, int32_t id) {
    for (int i = 0; i < m->d.n_eos; i++) if (m->d.eos_ids[i] == id) return 1;
    return 0;
}

/* Embedding rows for T tokens into m->x (rows gathered from disk). */
static int embed(rl_model *m, const int32_t *tok, int T) {
    const rl_tensor_info *e = m->embed;
    size_t rb = e->nbytes / (size_t)m->d.vocab;
    int fd = rl_ckpt_fd(m->ck, e->file);
    for (int t = 0; t < T; t++) {
        if (rl_pread_full(fd, m->emb_row, rb, e->offset + (uint64_t)tok[t] * rb, rl_ckpt_path(m->ck, e->file)))
            return rl_err_prefix("embedding row %d: ", tok[t]);
        float *x = m->x + (size_t)t * m->d.hidden;
        rl_convert_to_f32(x, m->emb_row, e->dtype, m->d.hidden);
        if (m->d.emb_scale != 1.0f) rl_scale(x, m->d.emb_scale, m->d.hidden);
    }
    return 0;
}

/* One sweep over T <= max_T rows (grouped by sequence in m->seg, set by the caller). Logits
 * for the rows out_rows[0..n_out) go to logits (n_out rows of vocab). */
static int sweep(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits) {
    const rl_model_desc *d = &m->d;
    if (embed(m, tok, T)) return -1;
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        for (int t = 0; t < sg->n; t++) m->posv[sg->row0 + t] = sg->pos0 + t;
        for (int r = 0; r < d->n_ropes; r++) {
            size_t off = (size_t)m->max_T * (RL_MAX_ROPE_FACTORS / 2) * r + (size_t)sg->row0 * (d->ropes[r].rot_dims / 2);
            rl_rope_table(&d->ropes[r], m->posv + sg->row0, sg->n, sg->pos0 + sg->n, m->rope_cos + off, m->rope_sin + off);
        }
    }
    for (int l = 0; l < d->n_layers; l++) {
        const uint8_t *buf = rl_loader_acquire(m->ld, l);
        if (!buf) return -1;
        double t0 = rl_now_s();
        int rc = rl_block_forward(m, l, buf, T, m->seg[0].pos0);
        m->compute_s[l] += rl_now_s() - t0;
        rl_loader_release(m->ld, l);
        if (rc) return -1;
    }
    for (int g = 0; g < m->n_seg; g++) m->seq_pos[m->seg[g].seq] += m->seg[g].n;
    if (!logits || !n_out) return 0;
    /* final norm on the rows that need logits, gathered into xb rows 0..n_out-1 */
    int nr = n_out;
    float *xn = m->xb;
    for (int i = 0; i < nr; i++) {
        const float *xs = m->x + (size_t)out_rows[i] * d->hidden;
        if (d->norm == RL_NORM_LAYER) rl_layernorm(xn + (size_t)i * d->hidden, xs, m->final_norm, m->final_norm_b, 1, d->hidden, d->norm_eps);
        else rl_rmsnorm(xn + (size_t)i * d->hidden, xs, m->final_norm, 1, d->hidden, d->norm_eps, d->norm_one_plus);
    }
    for (int s = d->n_layers; s < m->n_stages; s++) {
        const rl_stage *st = &m->stages[s];
        const uint8_t *buf = rl_loader_acquire(m->ld, s);
        if (!buf) return -1;
        double t0 = rl_now_s();
        int rows = st->row1 - st->row0;
        if (d->head_norm_rows) { /* NormHead: unit-norm rows; the bias (if any) after it */
            rl_matmul(m->pool, m->head_tmp, xn, buf + st->off[0], st->t[0]->dtype, NULL, nr, d->hidden, rows);
            rl_head_normalize(m->head_tmp, nr, rows, buf + st->off[0], st->t[0]->dtype, d->hidden, m->wv);
            if (m->lm_head_b)
                for (int t = 0; t < nr; t++) rl_add(m->head_tmp + (size_t)t * rows, m->lm_head_b + st->row0, rows);
        } else
            rl_matmul(m->pool, m->head_tmp, xn, buf + st->off[0], st->t[0]->dtype,
                      m->lm_head_b ? m->lm_head_b + st->row0 : NULL, nr, d->hidden, rows);
        for (int t = 0; t < nr; t++)
            memcpy(logits + (size_t)t * d->vocab + st->row0, m->head_tmp + (size_t)t * rows, (size_t)rows * sizeof(float));
        m->compute_s[s] += rl_now_s() - t0;
        rl_loader_release(m->ld, s);
    }
    if (d->final_softcap > 0) {
        float c = d->final_softcap;
        for (size_t i = 0; i < (size_t)nr * d->vocab; i++) logits[i] = c * tanhf(logits[i] / c);
    }
    return 0;
}

/* Checks that n tokens fit sequence seq's context and are in the vocabulary. */
static int check_tokens(const rl_model *m, int seq, const int32_t *tok, int n) {
    if (n <= 0) return rl_err("eval: no tokens");
    if (m->seq_pos[seq] + n > m->ctx)
        return rl_err("%s: %d tokens at position %d exceed the context of %d tokens (use --ctx to raise it, up to %d)",
                      m->dir, n, m->seq_pos[seq], m->ctx, m->d.max_pos);
    for (int i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= m->d.vocab)
            return rl_err("%s: token id %d is outside the model's vocabulary (0..%d)", m->dir, tok[i], m->d.vocab - 1);
    return 0;
}

int rl_model_eval(rl_model *m, const int32_t *tok, int n, float *logits, int all_rows) {
    if (check_tokens(m, 0, tok, n)) return -1;
    if (m->n_lin && rl_hybrid_prepare(m, tok, n)) return -1; /* pending rewind; token history */
    for (int i = 0; i < n; i += m->max_T) {
        int T = n - i < m->max_T ? n - i : m->max_T;
        int last = i + T == n, n_out = 0;
        float *lg = NULL;
        if (logits && all_rows) { lg = logits + (size_t)i * m->d.vocab; n_out = T; }
        else if (logits && last) { lg = logits; n_out = 1; }
        for (int r = 0; r < n_out; r++) m->out_rows[r] = all_rows ? r : T - 1;
        m->n_seg = 1;
        m->seg[0] = (rl_segment){0, 0, T, m->seq_pos[0]};
        if (sweep(m, tok + i, T, m->out_rows, n_out, lg)) return -1;
    }
    return 0;
}

int rl_model_eval_batch(rl_model *m, const rl_batch_item *items, int n_items, float *logits) {
    if (n_items <= 0) return rl_err("eval: empty batch");
    for (int i = 0; i < n_items; i++) {
        if (items[i].seq < 0 || items[i].seq >= m->n_seq)
            return rl_err("%s: sequence %d out of range (the model was opened for %d)", m->dir, items[i].seq, m->n_seq);
        for (int j = 0; j < i; j++)
            if (items[j].seq == items[i].seq) return rl_err("eval: sequence %d appears twice in one batch", items[i].seq);
        if (check_tokens(m, items[i].seq, items[i].tokens, items[i].n)) return -1;
    }
    if (m->n_lin && !(n_items == 1 && items[0].seq == 0)) return rl_err("%s: batches of sequences are not supported for this model (recurrent layers)", m->dir);
    /* fill sweeps of up to max_T rows; an item's tokens may continue into the next sweep */
    int it = 0, done = 0; /* current item and tokens of it already run */
    while (it < n_items) {
        int T = 0, n_out = 0;
        m->n_seg = 0;
        while (it < n_items && T < m->max_T) {
            const rl_batch_item *b = &items[it];
            int take = b->n - done < m->max_T - T ? b->n - done : m->max_T - T;
            memcpy(m->batch_tok + T, b->tokens + done, (size_t)take * sizeof(int32_t));
            m->seg[m->n_seg++] = (rl_segment){b->seq, T, take, m->seq_pos[b->seq]};
            T += take;
            done += take;
            if (done == b->n) {
                m->out_rows[n_out] = T - 1;
                m->out_item[n_out++] = it;
                it++;
                done = 0;
            }
        }
        if (sweep(m, m->batch_tok, T, m->out_rows, logits ? n_out : 0, m->batch_logits)) return -1;
        for (int r = 0; logits && r < n_out; r++)
            memcpy(logits + (size_t)m->out_item[r] * m->d.vocab, m->batch_logits + (size_t)r * m->d.vocab, (size_t)m->d.vocab * sizeof(float));
    }
    return 0;
}
