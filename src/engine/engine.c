/* The engine: opens a model (config, checkpoint index, stages, backend, memory plan, loader)
 * and runs sweeps: embedding -> every layer streamed from disk -> final norm -> lm_head in
 * chunks, all compute through the backend interface (backend/backend.h). */
#include <cjson/cJSON.h>
#include "engine/model.h"
#include "engine/devres.h"
#include "engine/deltanet.h"
#include "engine/mla.h"
#include "engine/moe.h"
#include "model/config.h"
#include "dist/dist.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/timer.h"
#include "io/residency.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rl_last_error(void) { return rl_errmsg(); }

#define ROPE_ROW (RL_MAX_ROPE_FACTORS / 2)

/* --- host memory for the loader, from the backend --- */
static void *hm_alloc(void *ctx, size_t n) { rl_backend *be = ctx; return be->ops->host_alloc(be, n); }
static void hm_free(void *ctx, void *p) { rl_backend *be = ctx; be->ops->host_free(be, p); }
static void hm_invalidate(void *ctx, const void *p) { rl_backend *be = ctx; be->ops->host_invalidate(be, p); }

const float *rl_vec_f32(rl_model *m, float *dst, const void *w, rl_dtype dt, int64_t n) {
    if (!w) return NULL;
    m->be->ops->convert(m->be, dst, w, dt, n);
    return dst;
}

const uint8_t *rl_weights_on_device(rl_model *m, const uint8_t *host, size_t bytes, int slot) {
    if (m->be->ops->host_shared) return host;
    uint8_t *dst = m->wslot[slot & 1];
    if (m->be->ops->upload(m->be, dst, host, bytes)) return NULL;
    return dst;
}

rl_wref rl_stage_weight(rl_model *m, const rl_stage *s, const uint8_t *buf, int role) {
    if (!s->t[role]) return (rl_wref){NULL, RL_DT_F32};
    if (s->q && s->q[role].dt) { /* composite: a host descriptor of device pointers into the image */
        rl_stage_qweight(&s->q[role], buf + s->off[role], buf, &m->qw[role]);
        return (rl_wref){&m->qw[role], s->q[role].dt};
    }
    return (rl_wref){buf + s->off[role], s->t[role]->dtype};
}

void rl_trace(rl_model *m, int layer, const char *name, const float *dev, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    if (n > m->trace_cap || m->be->ops->download(m->be, m->trace_buf, dev, n * sizeof(float))) return;
    m->trace_fn(m->trace_ud, layer, name, m->trace_buf, rows, cols);
}

int rl_model_set_trace(rl_model *m, rl_trace_fn fn, void *ud) {
    if (fn && !m->trace_buf) {
        const rl_model_desc *d = &m->d;
        size_t w = (size_t)d->hidden;
        size_t cand[] = {(size_t)d->n_heads * d->head_dim * 2, (size_t)d->intermediate, (size_t)d->moe_inter,
                         (size_t)d->n_experts, (size_t)d->lin_v_heads * d->lin_v_dim};
        for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) if (cand[i] > w) w = cand[i];
        m->trace_cap = w * (size_t)m->max_T;
        if (!(m->trace_buf = malloc(m->trace_cap * sizeof(float)))) { m->trace_cap = 0; return rl_err("out of memory for the trace buffer"); }
    }
    m->trace_fn = fn;
    m->trace_ud = ud;
    return 0;
}

/* Reads a small whole-model vector tensor (n values) into device memory as f32. */
static int load_vec(rl_model *m, rl_global_role r, int n, int required, float *dst) {
    const rl_tensor_info *t = rl_global_tensor(&m->d, m->ck, r);
    if (!t) return required ? rl_err("%s: missing tensor %s", m->dir, m->d.gname[r]) : 1;
    if (t->ndim != 1 || t->shape[0] != n) return rl_err("%s: tensor %s: expected shape [%d]", m->dir, t->name, n);
    void *raw = malloc(t->nbytes);
    float *f = malloc((size_t)n * sizeof(float));
    int rc = !raw || !f ? rl_err("out of memory") : rl_ckpt_read(m->ck, t, raw);
    if (!rc) {
        rl_backend *be = m->be;
        if (be->ops->host_shared) be->ops->convert(be, dst, raw, t->dtype, n);
        else { /* convert on the device from an uploaded copy */
            rl_cpu_ops.convert(be, f, raw, t->dtype, n);
            rc = be->ops->upload(be, dst, f, (size_t)n * sizeof(float));
            if (!rc) rc = be->ops->wait(be, be->ops->fence(be));
        }
    }
    free(raw); free(f);
    return rc ? -1 : 0;
}

void rl_model_close(rl_model *m) {
    if (!m) return;
    rl_dist_model_close(m);
    rl_loader_free(m->ld);
    rl_moe_close(m); rl_mla_close(m); rl_dn_close(m);
    if (m->be) rl_devres_free(m);
    if (m->be && m->arena) m->be->ops->arena_free(m->be, m->arena, m->arena_bytes);
    if (m->be && m->emb_raw) m->be->ops->host_free(m->be, m->emb_raw);
    rl_backend_close(m->be);
    rl_ckpt_close(m->ck);
    rl_kv_free(&m->kv);
    free(m->stages);
    free(m->seg); free(m->out_rows); free(m->batch_tok);
    free(m->dev_off);
    free(m->posv); free(m->rope_host); free(m->temp_host); free(m->compute_s); free(m->trace_buf); free(m->tree_tok); free(m->tree_par); free(m->tree_seq); free(m->replay_seq); free(m->replay_ckpt); free(m->ckpt_pos); free(m->ckpt_pend);
    free(m);
}

/* Bytes the budgets leave for the MoE expert cache (engine/moe.h): on a GPU backend the device
 * budget less the device plan (activations, slots, resident layers); on the cpu, with everything
 * resident, what the memory budget leaves beside the weights and the rest of the plan (auto: the
 * usable memory less the margin; an explicit --mem-budget: its bytes beyond the weights).
 * *room: the most any cache may take (an explicit --expert-cache is checked against it; SIZE_MAX
 * where nothing is known: no --gpu-mem, no memory limit found). */
static size_t ram_avail(const rl_model *m, size_t weights, size_t request, size_t *room_out);
static size_t expert_cache_avail(const rl_model *m, const rl_plan *p, size_t weights, size_t request, size_t *room_out) {
    if (!m->be->ops->host_shared) {
        size_t left = m->gpu_budget > p->device_bytes ? m->gpu_budget - p->device_bytes : 0;
        *room_out = m->gpu_budget ? left : SIZE_MAX;
        return left;
    }
    return ram_avail(m, weights, request, room_out);
}

/* The host side of expert_cache_avail (also a GPU backend's RAM tier; room_out may be NULL). */
static size_t ram_avail(const rl_model *m, size_t weights, size_t request, size_t *room_out) {
    const rl_budget *b = &m->budget;
    uint64_t used = b->margin + b->need + b->resident;
    if (room_out) *room_out = !b->lim.avail ? SIZE_MAX : b->lim.avail > used ? (size_t)(b->lim.avail - used) : 0;
    if (!request || !b->all_resident || !b->lim.avail) return 0;
    uint64_t room = b->lim.avail > b->margin + b->need + weights ? b->lim.avail - b->margin - b->need - weights : 0;
    if (!b->is_auto) {
        uint64_t ask = request > weights ? request - weights : 0;
        if (ask < room) room = ask;
    }
    return (size_t)room;
}

/* The widest matmul input row of a GGUF model (values; 0 for any other, whose matmuls convert no
 * activations): every stage tensor's row length (its innermost dimension) and the widths the
 * description names (routed experts are not in the stages). A backend sizes the scratch of its
 * activation quantisation by it. */
static int max_matmul_in(const rl_model *m) {
    const rl_model_desc *d = &m->d;
    if (d->numerics != RL_NUMERICS_GGML) return 0;
    int64_t w[] = {d->hidden, d->intermediate, d->moe_inter, d->moe_shared_inter, (int64_t)d->n_heads * d->head_dim,
                   (int64_t)d->n_heads * (d->mla ? d->v_head_dim : d->head_dim), d->q_lora_rank, d->kv_lora_rank,
                   (int64_t)d->lin_v_heads * d->lin_v_dim}, mx = 1;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) if (w[i] > mx) mx = w[i];
    for (int s = 0; s < m->n_stages; s++)
        for (int r = 0; r < W_COUNT; r++) {
            const rl_tensor_info *t = m->stages[s].t[r];
            if (t && t->ndim >= 2 && t->shape[t->ndim - 1] > mx) mx = t->shape[t->ndim - 1];
        }
    return mx > INT32_MAX ? INT32_MAX : (int)mx;
}

/* Adds the engine's own buffers to the plan (the KV cache, MoE, MLA and DeltaNet parts add
 * theirs), with the host staging the loader will allocate for `budget`. */
static int plan_model(rl_model *m, size_t budget) {
    const rl_model_desc *d = &m->d;
    rl_plan *p = &m->plan;
    m->max_in = max_matmul_in(m);
    size_t T = (size_t)m->max_T, H = (size_t)d->hidden, hd = (size_t)d->head_dim;
    size_t qd = (size_t)d->n_heads * hd, kvd = (size_t)d->n_kv_heads * hd, I = (size_t)d->intermediate;
    size_t vd = d->mla ? (size_t)d->v_head_dim : hd, attw = (size_t)d->n_heads * (vd > hd ? vd : hd);
    size_t wstride = H > I ? H : I, F = sizeof(float);
    if (qd + 2 * kvd > wstride) wstride = qd + 2 * kvd;
    int head_rows = 0;
    for (int i = d->n_layers; i < m->n_stages; i++)
        if (m->stages[i].row1 - m->stages[i].row0 > head_rows) head_rows = m->stages[i].row1 - m->stages[i].row0;
    size_t emb_rb = m->embed->nbytes / (size_t)d->vocab;
    int shared = m->be->ops->host_shared;

    rl_plan_add(p, "residual x", RL_MEM_DEVICE, T * H * F, (void **)&m->x);
    rl_plan_add(p, "normed input xb", RL_MEM_DEVICE, T * H * F, (void **)&m->xb);
    rl_plan_add(p, "mixer/mlp output o", RL_MEM_DEVICE, T * H * F, (void **)&m->o);
    rl_plan_add(p, "queries q", RL_MEM_DEVICE, T * qd * F, (void **)&m->q);
    rl_plan_add(p, "keys k", RL_MEM_DEVICE, T * kvd * F, (void **)&m->k);
    rl_plan_add(p, "values v", RL_MEM_DEVICE, T * kvd * F, (void **)&m->v);
    rl_plan_add(p, "attention output", RL_MEM_DEVICE, T * attw * F, (void **)&m->att);
    rl_plan_add(p, "mlp hidden x2", RL_MEM_DEVICE, T * I * F, (void **)&m->hb);
    rl_plan_add(p, "mlp hidden (up)", RL_MEM_DEVICE, T * I * F, (void **)&m->hb2);
    rl_plan_add(p, "small weights f32", RL_MEM_DEVICE, 3 * wstride * F, (void **)&m->wv);
    rl_plan_add(p, "rope cos", RL_MEM_DEVICE, (size_t)d->n_ropes * T * ROPE_ROW * F, (void **)&m->rope_cos);
    rl_plan_add(p, "rope sin", RL_MEM_DEVICE, (size_t)d->n_ropes * T * ROPE_ROW * F, (void **)&m->rope_sin);
    if (d->attn_temp_scale > 0) rl_plan_add(p, "attention temperatures", RL_MEM_DEVICE, T * F, (void **)&m->attn_temp);
    rl_plan_add(p, "head chunk logits", RL_MEM_DEVICE, T * (size_t)head_rows * F, (void **)&m->head_tmp);
    rl_plan_add(p, "final norm", RL_MEM_DEVICE, 2 * H * F, (void **)&m->final_norm);
    rl_plan_add(p, "lm_head bias", RL_MEM_DEVICE, d->head_bias ? (size_t)d->vocab * F : 0, (void **)&m->lm_head_b);
    if (!shared) rl_plan_add(p, "embedding rows", RL_MEM_DEVICE, T * emb_rb, (void **)&m->emb_dev);
    if (d->qkv_grouped) rl_plan_add(p, "grouped qkv", RL_MEM_DEVICE, T * (qd + 2 * kvd) * F, (void **)&m->qkv_tmp);
    if (d->attn_out_gate) {
        rl_plan_add(p, "gated q_proj output", RL_MEM_DEVICE, T * 2 * qd * F, (void **)&m->qgate);
        rl_plan_add(p, "attention gates", RL_MEM_DEVICE, T * qd * F, (void **)&m->gate);
    }
    int n_kvl = 0, win[RL_MAX_LAYERS];
    for (int l = m->l0; l < m->l1; l++) { /* this stage's layers (deltanet.c numbers kv_slot alike) */
        const rl_layer_desc *ld = &d->layers[l];
        if (ld->kind == RL_LAYER_LINEAR || ld->no_mixer) continue;
        int w = ld->kind == RL_LAYER_SLIDING ? ld->window : 0;
        if (ld->chunked && d->attn_chunk > 0 && m->ctx > d->attn_chunk) {
            /* Llama 4's chunked layers: a ring of whole chunks (window + max_T - 1 rows, a multiple of the
             * chunk) holds the current chunk and a sweep's rows; block.c reads a chunk as a linear view */
            long long C = d->attn_chunk, rows = C * ((C + m->max_T - 1 + C - 1) / C);
            w = rows - m->max_T + 1 < (long long)m->ctx ? (int)(rows - m->max_T + 1) : 0;
        }
        win[n_kvl++] = w;
    }
    int compact = m->be->ops->attention_kv && m->be->ops->kv_store;
    /* MLA: the latent cache (normed c | rotated k_pe per token, absorbed attention) where the
     * backend can; the expanded per-head f32 cache otherwise and with the DSA indexer */
    m->mla_latent = d->mla && compact && (m->be->ops->matmul_t || d->mla_kv_b_split);
    if (d->mla_kv_b_split && !m->mla_latent)
        return rl_err("%s: this MLA checkpoint (split kv_b) needs a backend with compact KV caches", m->dir);
    for (int l = 0; l < d->n_layers && m->mla_latent; l++) /* absorbed attention takes row views of kv_b: plain dtypes only */
        if (m->stages[l].q && m->stages[l].q[W_MLA_KV_B].dt) m->mla_latent = 0;
    if (d->mla && (!m->mla_latent || d->idx_heads > 0)) compact = 0; /* DSA attention reads f32 rows */
    if (!compact && m->kv_dt != RL_DT_F32) return rl_err("%s: --kv-type %s needs a backend with compact KV caches%s", m->dir,
                                                         RL_DTYPES[m->kv_dt].st_name, d->mla ? " (and no DSA indexer for MLA)" : "");
    int rc = m->mla_latent ? rl_kv_plan_shared(&m->kv, p, n_kvl, m->n_seq, m->ctx, m->max_T, d->kv_lora_rank + d->qk_rope_dim,
                                               compact ? m->kv_dt : RL_DT_F32)
           : d->mla ? rl_kv_plan(&m->kv, p, n_kvl, win, m->n_seq, m->ctx, m->max_T, d->n_heads * d->head_dim, d->n_heads * d->v_head_dim, RL_DT_F32, 0)
           : rl_kv_plan(&m->kv, p, n_kvl, win, m->n_seq, m->ctx, m->max_T, (int)kvd, (int)kvd, m->kv_dt, compact);
    if (rc) return rl_err_prefix("%s: ", m->dir);
    if (m->be->ops->attention_tree) rl_plan_add(p, "tree parents", RL_MEM_DEVICE, T * sizeof(int32_t), (void **)&m->tree_parent_dev);
    rl_plan_add(p, "backend scratch", RL_MEM_DEVICE, m->be->ops->scratch_bytes(m->be, m->ctx, m->max_T, m->max_in), (void **)&m->scratch);
    if (rl_moe_plan(m) || rl_mla_plan(m) || rl_dn_plan(m)) return -1;

    /* host staging besides the weights: embedding rows, logits */
    rl_plan_add(p, "embedding rows (staging)", RL_MEM_HOST, T * emb_rb, NULL);
    rl_plan_add(p, "logits rows", RL_MEM_HOST, (size_t)(m->n_seq < m->max_T ? m->n_seq : m->max_T) * d->vocab * F, NULL);

    /* the budget (io/budget.h): what may stay resident beside everything above, under the real
     * limit; then the loader's host buffers (two slots unless everything is resident) */
    size_t slot = 0, weights = 0, res = 0;
    for (int i = m->s0; i < m->s1; i++) { weights += m->stages[i].bytes; if (m->stages[i].bytes > slot) slot = m->stages[i].bytes; }
    uint64_t kvb = rl_kv_bytes(&m->kv);
    rl_budget_in bi = {.request = budget, .weights = weights, .largest = slot, .kv = shared ? kvb : 0};
    bi.act = (shared ? p->device_bytes - kvb : 0) + p->host_bytes; /* device memory of a GPU is not the host's */
    m->plan_fits = rl_budget_decide(&bi, NULL, &m->budget) == 0;
    int n_res = rl_stages_resident(m->stages + m->s0, m->s1 - m->s0, m->budget.resident, NULL, &res);
    if (!shared && rl_devres_plan(m, p)) return -1; /* --gpu-mem: resident stages, then the two slots */
    rl_plan_add(p, "layer slots (2)", RL_MEM_HOST, n_res == m->s1 - m->s0 ? 0 : 2 * slot, NULL);
    rl_plan_add(p, "resident stages", RL_MEM_HOST, res, NULL);
    if (m->moe) {
        size_t room, avail = expert_cache_avail(m, p, weights, budget, &room);
        size_t ram = shared ? 0 : ram_avail(m, weights, budget, NULL);
        if (rl_moe_plan_cache(m, p, avail, room, ram)) return -1;
    }
    if (p->overflow) return rl_err("memory plan: too many entries");
    return m->plan_fits ? 0 : rl_err_prefix("%s: ", m->dir);
}

/* The part of open shared with rl_model_print_plan: description, checkpoint, stages, sizes,
 * backend and the plan. */
static rl_model *open_plan(const char *dir, const rl_model_opts *opts, rl_dtype kv_dt, int l0, int l1, int pp) {
    rl_model_opts o = opts ? *opts : (rl_model_opts){0};
    rl_model *m = calloc(1, sizeof *m);
    if (!m) { rl_err("out of memory"); return NULL; }
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    if (rl_config_load(dir, &m->d)) goto fail;
    rl_model_desc *d = &m->d;
    if (!(m->ck = rl_ckpt_open(dir))) goto fail;
    if (rl_stages_build(d, m->ck, 0, &m->stages, &m->n_stages)) goto fail;
    if (l0 < 0) { l0 = 0; l1 = d->n_layers; }
    if (l0 > l1 || l1 > d->n_layers) { rl_err("%s: layer range %d..%d outside the model's %d layers", dir, l0, l1, d->n_layers); goto fail; }
    m->l0 = l0; m->l1 = l1; m->s0 = l0; m->s1 = pp & RL_PP_SEND ? l1 : m->n_stages;
    m->pp_recv = !!(pp & RL_PP_RECV); m->pp_send = !!(pp & RL_PP_SEND);
    m->embed = rl_global_tensor(d, m->ck, G_EMBED);
    if (!m->embed) { rl_err("%s: missing tensor %s", dir, d->gname[G_EMBED]); goto fail; }
    if (m->embed->ndim != 2 || m->embed->shape[0] != d->vocab || m->embed->shape[1] != d->hidden) {
        rl_err("%s: tensor %s: expected shape [%d, %d] from config.json", dir, m->embed->name, d->vocab, d->hidden);
        goto fail;
    }
    m->ctx = o.ctx > 0 ? o.ctx : (d->max_pos < 4096 ? d->max_pos : 4096);
    m->max_T = o.max_batch > 0 ? o.max_batch : 256;
    if (m->max_T > m->ctx) m->max_T = m->ctx;
    if (d->ctx_exact_max > 0 && m->ctx > d->ctx_exact_max) {
        rl_err("%s: a context of %d tokens exceeds %d, beyond which %s (not implemented); use --ctx %d or less",
               dir, m->ctx, d->ctx_exact_max, d->ctx_exact_why, d->ctx_exact_max);
        goto fail;
    }
    m->n_seq = o.n_seq > 0 ? o.n_seq : 1;
    for (int r = 0; r < m->d.n_ropes; r++) /* GGUF longrope: llama.cpp's long factors for a context above the original */
        m->d.ropes[r].ggml_long = m->d.ropes[r].scaling == RL_RS_LONGROPE && m->ctx > m->d.ropes[r].orig_max_pos;
    if (!(m->be = rl_backend_open(o.backend, o.n_threads))) goto fail;
    m->be->numerics = m->d.numerics;
    m->kv_dt = kv_dt;
    m->gpu_mem = o.gpu_mem;
    m->n_threads = o.n_threads;
    m->expert_cache = o.expert_cache;
    m->moe_cpu_rows = o.moe_cpu_rows;
    for (int s = m->s0; s < m->s1; s++)
        for (int r = 0; r < W_COUNT; r++) {
            const rl_tensor_info *t = m->stages[s].t[r];
            rl_dtype dt = t && m->stages[s].q && m->stages[s].q[r].dt ? m->stages[s].q[r].dt : t ? t->dtype : RL_DT_F32;
            if (t && (t->ndim == 2 || rl_dtype_is_composite(dt)) && !m->be->ops->supports(m->be, dt) && rl_dtype_is_weight(dt)) {
                rl_err("%s: tensor %s: %s weights are not supported by backend %s", dir, t->name,
                       RL_DTYPES[dt].st_name, m->be->ops->name);
                goto fail;
            }
        }
    m->plan_fits = 1; /* plan_model clears it when only the budget fails */
    if (plan_model(m, o.mem_budget) && m->plan_fits) goto fail; /* a plan that does not fit is the caller's call */
    return m;
fail:
    rl_model_close(m);
    return NULL;
}

/* Opens the plan with the KV type asked for, or (auto) the most exact one whose plan fits:
 * f32, else bf16, else q8_0. Returns the model with plan_fits set (0: none fits, message in
 * rl_errmsg), or NULL + rl_err. */
static rl_model *open_plan_kv(const char *dir, const rl_model_opts *opts, int l0, int l1, int pp) {
    const char *req = opts ? opts->kv_type : NULL;
    int t = rl_kv_type_parse(req);
    if (t == -2) { rl_err("unknown KV type '%s' (use f32, f16, bf16, q8_0 or auto)", req); return NULL; }
    if (t >= 0) return open_plan(dir, opts, (rl_dtype)t, l0, l1, pp);
    static const rl_dtype order[] = {RL_DT_F32, RL_DT_BF16, RL_DT_Q8_0};
    rl_model *m = NULL;
    for (int i = 0; i < 3; i++) {
        rl_model_close(m);
        if (!(m = open_plan(dir, opts, order[i], l0, l1, pp)) || m->plan_fits) return m;
        if (!m->be->ops->attention_kv || (m->d.mla && (!m->mla_latent || m->d.idx_heads > 0))) return m; /* nothing smaller */
    }
    return m;
}

int rl_model_print_plan(const char *dir, const rl_model_opts *opts, FILE *f) {
    rl_model *m = open_plan_kv(dir, opts, -1, -1, 0);
    if (!m) return -1;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rl_errmsg());
    rl_errclass cls = rl_errclass_get();
    rl_plan_print(&m->plan, m->be->ops->describe(m->be), f);
    char line[1400];
    rl_budget_describe(&m->budget, m->budget.resident, line, sizeof line);
    fprintf(f, "  memory budget   %s\n", line);
    if (m->gpu_line[0]) fprintf(f, "  device budget   %s\n", m->gpu_line);
    if (m->moe) fprintf(f, "  routed experts  %s\n", rl_moe_placement(m));
    fprintf(f, "  plan fits       %s\n", m->plan_fits ? "yes" : "no");
    int fits = m->plan_fits;
    rl_model_close(m);
    if (!fits) return rl_err_c(cls, "%s", msg);
    return 0;
}

cJSON *rl_model_plan_json(const char *dir, const rl_model_opts *opts) {
    rl_model *m = open_plan_kv(dir, opts, -1, -1, 0);
    if (!m) return NULL;
    cJSON *o = rl_plan_json(&m->plan, m->be->ops->describe(m->be));
    char line[1400];
    rl_budget_describe(&m->budget, m->budget.resident, line, sizeof line);
    if (o) {
        cJSON_AddStringToObject(o, "budget", line);
        if (m->gpu_line[0]) cJSON_AddStringToObject(o, "device_budget", m->gpu_line);
        if (m->moe) cJSON_AddStringToObject(o, "experts", rl_moe_placement(m));
        cJSON_AddBoolToObject(o, "fits", m->plan_fits);
    }
    else rl_err("out of memory");
    rl_model_close(m);
    return o;
}

rl_model *rl_model_open(const char *dir, const rl_model_opts *opts) {
    if (rl_dist_size() > 1) return rl_dist_model_open(dir, opts); /* a pipeline over MPI ranks */
    return rl_model_open_range(dir, opts, -1, -1, 0);
}

rl_model *rl_model_open_range(const char *dir, const rl_model_opts *opts, int l0, int l1, int pp) {
    rl_model *m = open_plan_kv(dir, opts, l0, l1, pp);
    if (!m) return NULL;
    if (!m->plan_fits) goto fail;
    rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    size_t T = (size_t)m->max_T;
    m->arena_bytes = m->plan.device_bytes - rl_devres_outside(m) - rl_moe_cache_outside(m);
    if (!(m->arena = be->ops->arena_new(be, m->arena_bytes))) goto fail;
    rl_plan_place(&m->plan, m->arena);
    be->ops->set_scratch(be, m->scratch, m->ctx, m->max_T, m->max_in);
    if (!be->ops->host_shared) { /* device copies of the streamed stages after the arena's last entry */
        for (int i = 0; i < m->plan.n; i++)
            if (!strcmp(m->plan.e[i].name, "layer slots on device (2)")) {
                m->wslot[0] = (uint8_t *)m->arena + m->plan.e[i].off;
                m->wslot[1] = m->wslot[0] + m->plan.e[i].bytes / 2;
            }
    }
    size_t emb_rb = m->embed->nbytes / (size_t)d->vocab;
    m->seg = malloc(T * sizeof *m->seg);
    m->out_rows = malloc(T * sizeof(int));
    m->batch_tok = malloc(T * sizeof(int32_t));
    m->posv = malloc(T * sizeof(int));
    m->tree_tok = malloc(T * sizeof(int32_t));
    m->tree_par = malloc(T * sizeof(int32_t));
    m->tree_seq = calloc((size_t)m->n_seq, sizeof *m->tree_seq);
    m->replay_seq = calloc((size_t)m->n_seq, 1);
    m->replay_ckpt = calloc((size_t)m->n_seq, 1);
    m->ckpt_pos = malloc((size_t)m->n_seq * RL_CKPT_SLOTS * sizeof(int));
    m->ckpt_pend = malloc((size_t)m->n_seq * RL_CKPT_SLOTS * sizeof(int));
    for (int s = 0; m->ckpt_pos && m->ckpt_pend && s < m->n_seq * RL_CKPT_SLOTS; s++) m->ckpt_pos[s] = m->ckpt_pend[s] = -1;
    m->rope_host = malloc(2 * (size_t)d->n_ropes * T * ROPE_ROW * sizeof(float) + 1);
    m->temp_host = malloc(T * sizeof(float));
    m->emb_raw = be->ops->host_alloc(be, T * emb_rb);
    m->compute_s = calloc((size_t)m->n_stages, sizeof(double));
    if (!m->seg || !m->out_rows || !m->batch_tok || !m->posv || !m->rope_host || !m->temp_host || !m->tree_tok || !m->tree_par || !m->tree_seq || !m->replay_seq || !m->replay_ckpt || !m->ckpt_pos || !m->ckpt_pend ||
        !m->emb_raw || !m->compute_s || rl_kv_init_host(&m->kv)) {
        rl_err("%s: out of memory for the sweep buffers", dir);
        goto fail;
    }
    if (be->ops->host_shared) m->emb_dev = m->emb_raw;
    if (!d->norm_no_weight && load_vec(m, G_FINAL_NORM, d->hidden, 1, m->final_norm) < 0) goto fail;
    if (d->norm == RL_NORM_LAYER) {
        int rc = load_vec(m, G_FINAL_NORM_B, d->hidden, 0, m->final_norm + d->hidden);
        if (rc < 0) goto fail;
        if (rc > 0) m->final_norm_b = NULL; else m->final_norm_b = m->final_norm + d->hidden;
    }
    if (d->head_bias && load_vec(m, G_LM_HEAD_B, d->vocab, 1, m->lm_head_b)) goto fail;
    m->hm = (rl_host_mem){hm_alloc, hm_free, hm_invalidate, be};
    if (rl_dn_open(m) || rl_moe_open(m) || rl_mla_open(m)) goto fail;
    rl_loader_opts lo = {(size_t)m->budget.resident, !m->budget.cache_streamed, &m->hm};
    if (m->s1 > m->s0 && !(m->ld = rl_loader_new_opts(m->ck, m->stages + m->s0, m->s1 - m->s0, &lo))) goto fail;
    if (!be->ops->host_shared && rl_devres_open(m)) goto fail;
    return m;
fail:
    rl_model_close(m);
    return NULL;
}

int rl_model_vocab(const rl_model *m) { return m->d.vocab; }
int rl_model_ctx(const rl_model *m) { return m->ctx; }
int rl_model_n_seq(const rl_model *m) { return m->n_seq; }

/* A chain verified on a model without token trees (rl_model_eval_tree_batch) stays in the
 * sequence's cache until its commit: 1 if one is pending for seq. */
static int chain_pending(const rl_model *m, int seq) { return m->tree_seq[seq].chain && m->tree_seq[seq].n > 0; }
/* The sequence's position as callers see it (a pending chain is not kept). */
static int seq_pos(const rl_model *m, int seq) { return chain_pending(m, seq) ? m->tree_seq[seq].pos : m->kv.pos[seq]; }
int rl_model_pos(const rl_model *m) { return seq_pos(m, 0); }
int rl_model_seq_pos(const rl_model *m, int seq) { return seq >= 0 && seq < m->n_seq ? seq_pos(m, seq) : -1; }

/* Models with recurrent layers cannot rewind their state: the rewind is recorded and the next
 * eval rebuilds the state by replaying the kept prefix from the token history (from the
 * sequence's checkpoint, when the rewind is not below it). */
static int rewind_seq(rl_model *m, int seq, int pos) {
    int cur = seq >= 0 && seq < m->n_seq ? m->kv.pos[seq] : 0;
    int rc = rl_kv_truncate(&m->kv, seq, pos);
    if (rc < 0) return -1;
    /* a token tree wrote ring rows up to its top: rewinding more than max_T below that lost rows */
    int top = m->tree_seq[seq].top;
    if (top > cur && pos > 0 && top - pos > m->max_T)
        for (int l = 0; l < m->kv.n_layers && rc != 1; l++) rc = m->kv.ring[l] ? 1 : rc;
    if (pos == 0) m->tree_seq[seq].top = 0;
    int *cp = m->ckpt_pos + (size_t)seq * RL_CKPT_SLOTS, *pend = m->ckpt_pend + (size_t)seq * RL_CKPT_SLOTS;
    for (int k = 0; pos < cur && k < RL_CKPT_SLOTS; k++) {
        pend[k] = -1;                  /* a deferred checkpoint (see below) of a position dropped */
        if (cp[k] > pos) cp[k] = -1;   /* a checkpoint past the rewind: of no use any more */
    }
    if (m->dist && rl_dist_rewind(m, seq, pos)) return -1; /* the other stages' caches too */
    if ((m->n_lin && pos < cur) || rc == 1) { /* recurrent state, or ring rows the prefix still needs */
        int best = -1; /* the latest checkpoint at or before pos */
        for (int k = 0; rc != 1 && k < RL_CKPT_SLOTS; k++)
            if (cp[k] >= 0 && (best < 0 || cp[k] > cp[best])) best = k;
        if (rc == 1) for (int k = 0; k < RL_CKPT_SLOTS; k++) cp[k] = -1;
        m->replay_seq[seq] = best >= 0 ? 2 : 1;
        m->replay_ckpt[seq] = (uint8_t)(best >= 0 ? best : 0);
        m->replay = 1;
    }
    return 0;
}

/* Drops sequence s's pending chain, if any (back to the chain's start). */
static int drop_chain(rl_model *m, int s) {
    if (!chain_pending(m, s)) return 0;
    m->tree_seq[s].n = 0;
    return rewind_seq(m, s, m->tree_seq[s].pos);
}

/* Drops every pending chain, before anything else touches the caches. */
static int drop_chains(rl_model *m) {
    for (int s = 0; s < m->n_seq; s++)
        if (drop_chain(m, s)) return -1;
    return 0;
}

int rl_model_seq_rewind(rl_model *m, int seq, int pos) {
    if (seq < 0 || seq >= m->n_seq) return rl_err("rewind: sequence %d out of range (0..%d)", seq, m->n_seq - 1);
    return drop_chain(m, seq) || rewind_seq(m, seq, pos) ? -1 : 0;
}
int rl_model_rewind(rl_model *m, int pos) { return rl_model_seq_rewind(m, 0, pos); }

static int replay(rl_model *m);

/* A hybrid sequence whose rewind is still pending has not got the state of its position yet:
 * the checkpoint is deferred to the sweep that reaches the position again (rl_deltanet_forward takes
 * it there, rl_model_sweep records it), so the kept tokens are fed once, in front of the next
 * eval, instead of in a replay sweep of their own. An MPI pipeline checkpoints at once (every
 * rank's layers, after the replay). */
int rl_model_seq_checkpoint_slot(rl_model *m, int seq, int slot) {
    if (seq < 0 || seq >= m->n_seq) return rl_err("checkpoint: sequence %d out of range (0..%d)", seq, m->n_seq - 1);
    if (slot < 0 || slot >= RL_CKPT_SLOTS) return rl_err("checkpoint: slot %d out of range", slot);
    if (!m->n_lin) return 0;
    if (drop_chains(m)) return -1;
    int i = seq * RL_CKPT_SLOTS + slot;
    if (!m->dist && !m->pp_recv) {
        if (m->replay_seq[seq]) { /* (other sequences' pending rewinds do not touch this one's state) */
            if (!(m->replay_seq[seq] == 2 && m->replay_ckpt[seq] == slot && m->ckpt_pos[i] == m->kv.pos[seq]))
                m->ckpt_pend[i] = m->kv.pos[seq];
            return 0;
        }
    } else if (m->replay && replay(m))
        return -1; /* the state must be the one at the position, on every rank */
    rl_dn_checkpoint(m, seq, slot);
    m->ckpt_pos[i] = m->kv.pos[seq];
    m->ckpt_pend[i] = -1;
    if (m->dist && rl_dist_checkpoint(m, seq, slot)) return -1; /* rank 0: the other stages' layers too */
    return m->be->ops->status(m->be);
}
int rl_model_seq_checkpoint(rl_model *m, int seq) { return rl_model_seq_checkpoint_slot(m, seq, RL_CKPT_TURN); }
int rl_model_rewind_is_cheap(const rl_model *m) { return m->n_lin == 0; }
int rl_model_tokens(const rl_model *m, const int32_t **ids) {
    *ids = m->kv.hist;
    return seq_pos(m, 0);
}
int rl_model_common_prefix(const rl_model *m, const int32_t *tok, int n) {
    int c = rl_kv_common_prefix(&m->kv, 0, tok, n), p = seq_pos(m, 0);
    return c < p ? c : p;
}
int rl_model_is_eos(const rl_model *m, int32_t id) {
    for (int i = 0; i < m->d.n_eos; i++) if (m->d.eos_ids[i] == id) return 1;
    return 0;
}

/* Embedding rows for T tokens into m->x (rows read from disk, converted on the backend). */
static int embed(rl_model *m, const int32_t *tok, int T) {
    const rl_tensor_info *e = m->embed;
    rl_backend *be = m->be;
    size_t rb = e->nbytes / (size_t)m->d.vocab;
    int fd = rl_ckpt_fd(m->ck, e->file);
    for (int t = 0; t < T; t++)
        if (rl_pread_full(fd, m->emb_raw + (size_t)t * rb, rb, e->offset + (uint64_t)tok[t] * rb, rl_ckpt_path(m->ck, e->file)))
            return rl_err_prefix("embedding row %d: ", tok[t]);
    if (m->emb_dev != m->emb_raw && be->ops->upload(be, m->emb_dev, m->emb_raw, (size_t)T * rb)) return -1;
    for (int t = 0; t < T; t++) be->ops->convert(be, m->x + (size_t)t * m->d.hidden, m->emb_dev + (size_t)t * rb, e->dtype, m->d.hidden);
    if (m->d.emb_scale != 1.0f) be->ops->scale(be, m->x, m->d.emb_scale, (int64_t)T * m->d.hidden);
    /* the staging rows are reused by the next sweep: the upload must have been consumed */
    if (m->emb_dev != m->emb_raw && be->ops->wait(be, be->ops->fence(be))) return -1;
    RL_TRACE(m, -1, "embed", m->x, T, m->d.hidden);
    return 0;
}

/* Rope tables of the sweep's rows for every rope of the model, uploaded to rope_cos/sin. */
static int rope_tables(rl_model *m) {
    const rl_model_desc *d = &m->d;
    size_t per = (size_t)m->max_T * ROPE_ROW, nf = (size_t)d->n_ropes * per;
    float *hc = m->rope_host, *hs = m->rope_host + nf;
    for (int g = 0; g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        int end = sg->pos0 + sg->n;
        for (int t = 0; t < sg->n; t++) m->posv[sg->row0 + t] = sg->pos0 + t;
        if (m->tree_parent) { /* tree nodes: position = prefix length + depth */
            end = sg->pos0;
            for (int t = 0; t < sg->n; t++) {
                int p = m->tree_parent[sg->row0 + t], *pv = m->posv + sg->row0; /* parents relative to the segment */
                pv[t] = p < 0 ? sg->pos0 : pv[p] + 1;
                if (pv[t] + 1 > end) end = pv[t] + 1;
            }
        }
        for (int r = 0; r < d->n_ropes; r++) {
            size_t off = per * r + (size_t)sg->row0 * (d->ropes[r].rot_dims / 2);
            rl_rope_table(&d->ropes[r], m->posv + sg->row0, sg->n, end, hc + off, hs + off);
        }
    }
    rl_backend *be = m->be;
    if (be->ops->upload(be, m->rope_cos, hc, nf * sizeof(float)) || be->ops->upload(be, m->rope_sin, hs, nf * sizeof(float)))
        return -1;
    if (m->attn_temp) { /* Llama 4: 1 + s ln(1 + floor((p + 1) / floor_scale)) per row */
        int T = 0;
        for (int g = 0; g < m->n_seg; g++)
            if (m->seg[g].row0 + m->seg[g].n > T) T = m->seg[g].row0 + m->seg[g].n;
        for (int r = 0; r < T; r++)
            m->temp_host[r] = (float)(1.0 + d->attn_temp_scale * log(1.0 + floor((m->posv[r] + 1.0) / d->attn_temp_floor)));
        if (T && be->ops->upload(be, m->attn_temp, m->temp_host, (size_t)T * sizeof(float))) return -1;
    }
    return be->ops->wait(be, be->ops->fence(be));
}

/* lm_head chunks for the rows out_rows[0..nr) into logits (nr rows of vocab, host). */
static int head(rl_model *m, const int *out_rows, int nr, float *logits) {
    const rl_model_desc *d = &m->d;
    rl_backend *be = m->be;
    float *xn = m->xb;
    for (int i = 0; i < nr; i++) {
        const float *xs = m->x + (size_t)out_rows[i] * d->hidden;
        if (d->norm == RL_NORM_LAYER) /* (OLMo 1: without weight or bias) */
            be->ops->layernorm(be, xn + (size_t)i * d->hidden, xs, d->norm_no_weight ? NULL : m->final_norm, m->final_norm_b, 1, d->hidden, d->norm_eps);
        else be->ops->rmsnorm(be, xn + (size_t)i * d->hidden, xs, m->final_norm, 1, d->hidden, d->norm_eps, d->norm_one_plus);
    }
    RL_TRACE(m, d->n_layers, "final_norm", xn, nr, d->hidden);
    for (int s = d->n_layers; s < m->n_stages; s++) {
        const rl_stage *st = &m->stages[s];
        int held;
        const uint8_t *buf = rl_devres_weights(m, s, NULL, &held);
        if (!buf) return -1;
        double t0 = rl_now_s();
        int rows = st->row1 - st->row0;
        rl_wref hw = rl_stage_weight(m, st, buf, 0);
        const void *w = hw.p;
        rl_dtype dt = hw.dt;
        if (d->head_norm_rows) { /* NormHead: unit-norm rows; the bias (if any) after it */
            be->ops->matmul(be, m->head_tmp, xn, w, dt, NULL, nr, d->hidden, rows);
            be->ops->row_norm_div(be, m->head_tmp, nr, rows, w, dt, d->hidden);
            if (m->lm_head_b)
                for (int t = 0; t < nr; t++) be->ops->add(be, m->head_tmp + (size_t)t * rows, m->lm_head_b + st->row0, rows);
        } else
            be->ops->matmul(be, m->head_tmp, xn, w, dt, m->lm_head_b ? m->lm_head_b + st->row0 : NULL, nr, d->hidden, rows);
        if (d->logit_div && d->logit_div != 1.0f) be->ops->scale(be, m->head_tmp, 1.0f / d->logit_div, (int64_t)nr * rows);
        if (d->final_softcap > 0) be->ops->softcap(be, m->head_tmp, d->final_softcap, (int64_t)nr * rows);
        int rc = 0;
        for (int t = 0; t < nr && !rc; t++)
            rc = be->ops->download(be, logits + (size_t)t * d->vocab + st->row0, m->head_tmp + (size_t)t * rows, (size_t)rows * sizeof(float));
        m->compute_s[s] += rl_now_s() - t0;
        if (held) rl_loader_release(m->ld, s - m->s0);
        if (rc) return -1;
    }
    return 0;
}

/* One sweep over T <= max_T rows (grouped by sequence in m->seg, set by the caller). Logits
 * for the rows out_rows[0..n_out) go to logits (n_out rows of vocab, host). */
/* Deferred checkpoints (rl_model_seq_checkpoint) within the sweep's segments: every linear layer
 * saved its state there (ok), or some may not have (a failed sweep: the checkpoint is dropped). */
static void ckpt_taken(rl_model *m, int ok) {
    for (int g = 0; m->n_lin && g < m->n_seg; g++) {
        const rl_segment *sg = &m->seg[g];
        for (int i = sg->seq * RL_CKPT_SLOTS; i < (sg->seq + 1) * RL_CKPT_SLOTS; i++) {
            int cp = m->ckpt_pend[i];
            if (cp < 0 || cp < sg->pos0 || cp > sg->pos0 + sg->n) continue;
            m->ckpt_pos[i] = ok ? cp : -1;
            m->ckpt_pend[i] = -1;
        }
    }
}

int rl_model_sweep(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits) {
    const rl_model_desc *d = &m->d;
    /* a pipeline stage (src/dist): the first sends the sweep's rows on, the others take their
     * input rows from the stage before and send theirs to the next; the last returns the logits */
    if (m->dist && rl_dist_sweep_begin(m, tok, T, out_rows, n_out, logits)) return -1;
    m->n_sweeps++;
    if (!m->tree_parent)
        for (int g = 0; g < m->n_seg; g++) rl_kv_record(&m->kv, m->seg[g].seq, tok + m->seg[g].row0, m->seg[g].n);
    if ((m->pp_recv ? rl_dist_recv_x(m, T) : embed(m, tok, T)) || rope_tables(m)) return -1;
    rl_prefetch pf = {-1, 0};
    for (int l = m->l0; l < m->l1; l++) {
        int held;
        const uint8_t *buf = rl_devres_weights(m, l, &pf, &held);
        if (!buf) { rl_devres_cancel(m, &pf); return -1; }
        double t0 = rl_now_s();
        int rc = rl_block_forward(m, l, buf, T);
        if (!rc && !m->be->ops->host_shared) {
            uint64_t f = held ? m->be->ops->fence(m->be) : 0;
            /* the next streamed layer is read and uploaded while this one computes (upload_async) */
            double ta = rl_now_s();
            if (l + 1 < d->n_layers) rc = rl_devres_prefetch(m, l + 1, &pf);
            t0 += rl_now_s() - ta; /* its read is not this layer's compute */
            /* a device copy of the host slot must have been consumed before the slot goes back */
            int rw = held ? m->be->ops->wait(m->be, f) : 0;
            if (!rc) rc = rw;
        }
        if (!rc) rc = m->be->ops->status(m->be);
        m->compute_s[l] += rl_now_s() - t0;
        if (held) rl_loader_release(m->ld, l - m->s0);
        if (rc) { rl_devres_cancel(m, &pf); ckpt_taken(m, 0); return -1; }
    }
    for (int g = 0; g < m->n_seg; g++) rl_kv_advance(&m->kv, m->seg[g].seq, m->seg[g].n);
    ckpt_taken(m, 1);
    if (m->pp_send) return rl_dist_send_x(m, T, n_out, logits);
    int rc = logits && n_out ? head(m, out_rows, n_out, logits) : 0;
    return m->dist ? rl_dist_result(m, rc, n_out, logits) : rc;
}

/* Checks that n tokens fit sequence seq's context and are in the vocabulary. */
static int check_tokens(const rl_model *m, int seq, const int32_t *tok, int n) {
    if (n <= 0) return rl_err("eval: no tokens");
    if (m->kv.pos[seq] + n > m->ctx)
        return rl_err("%s: %d tokens at position %d exceed the context of %d tokens (use --ctx to raise it, up to %d)",
                      m->dir, n, m->kv.pos[seq], m->ctx, m->d.max_pos);
    for (int i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= m->d.vocab)
            return rl_err("%s: token id %d is outside the model's vocabulary (0..%d)", m->dir, tok[i], m->d.vocab - 1);
    return 0;
}

/* Runs the items' tokens through sweeps of up to max_T rows (an item may continue into the next
 * sweep; an MPI pipeline takes micro-batches of items). Rows j >= from[i] of item i get logits
 * (from NULL: the last row of each item; j >= n: none), stored in item order, each item's after
 * the rows of the items before it. */
static int sweep_items(rl_model *m, const rl_batch_item *items, int n_items, const int *from, float *logits) {
    int it = 0, done = 0, row = 0; /* current item, its tokens already run, logits rows so far */
    int per = m->dist ? rl_dist_microbatch(m, n_items) : n_items; /* items per sweep (pipeline micro-batches) */
    size_t V = (size_t)m->d.vocab;
    while (it < n_items) {
        int T = 0, n_out = 0, it0 = it;
        m->n_seg = 0;
        while (it < n_items && T < m->max_T && it - it0 < per) {
            const rl_batch_item *b = &items[it];
            int take = b->n - done < m->max_T - T ? b->n - done : m->max_T - T;
            int f = from ? from[it] : b->n - 1;
            memcpy(m->batch_tok + T, b->tokens + done, (size_t)take * sizeof(int32_t));
            m->seg[m->n_seg++] = (rl_segment){b->seq, T, take, m->kv.pos[b->seq]};
            for (int j = done > f ? done : f; logits && j < done + take; j++) m->out_rows[n_out++] = T + j - done;
            T += take;
            done += take;
            if (done == b->n) { it++; done = 0; }
        }
        /* the rows land in item order (an MPI pipeline's last stage sends them in place) */
        if (rl_model_sweep(m, m->batch_tok, T, m->out_rows, n_out, n_out ? logits + (size_t)row * V : NULL)) return -1;
        row += n_out;
    }
    return m->dist ? rl_dist_flush(m) : 0;
}

/* Where a pending rewind replays sequence s from: its checkpoint, or 0. */
static int replay_from(const rl_model *m, int s) {
    int cp = m->ckpt_pos[s * RL_CKPT_SLOTS + m->replay_ckpt[s]];
    return m->replay_seq[s] == 2 && cp >= 0 ? cp : 0;
}

/* A sequence's state and checkpoints after a failed sweep: nothing to trust. */
static void drop_seq_state(rl_model *m, int s) {
    rl_dn_reset_seq(m, s);
    m->kv.pos[s] = 0;
    for (int i = s * RL_CKPT_SLOTS; i < (s + 1) * RL_CKPT_SLOTS; i++) m->ckpt_pos[i] = m->ckpt_pend[i] = -1;
}

/* Pending rewinds (recurrent state, or ring rows the prefix still needs): each such sequence's
 * state is zeroed and its kept prefix re-prefilled from its token history (its KV rows are
 * rewritten with the same values). A later pipeline stage does not replay by itself: rank 0's
 * replay arrives as sweeps (dist/mpi/worker.c resets the sequence's state then). */
static int replay(rl_model *m) {
    m->replay = 0;
    if (m->pp_recv) return 0;
    for (int s = 0; s < m->n_seq; s++) {
        if (!m->replay_seq[s]) continue;
        int keep = m->kv.pos[s], from = replay_from(m, s);
        m->replay_seq[s] = 0;
        m->kv.pos[s] = from;
        if (from) rl_dn_restore(m, s, m->replay_ckpt[s]);
        else rl_dn_reset_seq(m, s);
        rl_batch_item it = {s, m->kv.hist + (size_t)s * m->ctx + from, keep - from};
        if (keep > from && sweep_items(m, &it, 1, &it.n, NULL)) {
            drop_seq_state(m, s);
            return -1;
        }
    }
    return 0;
}

/* Runs items as sweep_items, after the pending rewinds: a sequence that items feed gets its state
 * restored from its checkpoint (or zeroed) and its kept tokens from there put in front of its
 * item, in the same sweeps (no replay sweep of its own: speculative decoding's rejected drafts
 * and a server slot's reused prefix cost no extra read of the weights); the other pending
 * rewinds replay first. */
static int eval_items(rl_model *m, const rl_batch_item *items, int n_items, const int *from, float *logits) {
    int merge = 0;
    for (int i = 0; m->replay && !m->pp_recv && i < n_items; i++) merge += m->replay_seq[items[i].seq] != 0;
    if (!merge) {
        if (m->replay && replay(m)) return -1;
        return sweep_items(m, items, n_items, from, logits);
    }
    size_t ntok = 0;
    for (int i = 0; i < n_items; i++) ntok += (size_t)items[i].n + (size_t)m->kv.pos[items[i].seq];
    rl_batch_item *mi = malloc((size_t)n_items * sizeof *mi);
    int *mf = malloc((size_t)n_items * sizeof *mf);
    int32_t *buf = malloc(ntok * sizeof *buf);
    if (!mi || !mf || !buf) { free(mi); free(mf); free(buf); return rl_err("out of memory"); }
    int32_t *p = buf;
    for (int i = 0; i < n_items; i++) {
        const rl_batch_item *b = &items[i];
        int s = b->seq, r = 0, f = from ? from[i] : b->n - 1;
        if (m->replay_seq[s]) { /* restored (or zeroed), its kept tokens go first */
            int at = replay_from(m, s);
            r = m->kv.pos[s] - at;
            memcpy(p, m->kv.hist + (size_t)s * m->ctx + at, (size_t)r * sizeof(int32_t));
            if (at) rl_dn_restore(m, s, m->replay_ckpt[s]);
            else rl_dn_reset_seq(m, s);
            m->replay_seq[s] = 0;
            m->kv.pos[s] = at;
        }
        memcpy(p + r, b->tokens, (size_t)b->n * sizeof(int32_t));
        mi[i] = (rl_batch_item){s, p, r + b->n};
        mf[i] = r + f;
        p += r + b->n;
    }
    int rc = (m->replay && replay(m)) || sweep_items(m, mi, n_items, mf, logits) ? -1 : 0;
    for (int i = 0; rc && i < n_items; i++) drop_seq_state(m, mi[i].seq); /* a failed sweep leaves no state to trust */
    free(mi); free(mf); free(buf);
    return rc;
}

int rl_model_eval(rl_model *m, const int32_t *tok, int n, float *logits, int all_rows) {
    if (drop_chains(m) || check_tokens(m, 0, tok, n)) return -1;
    rl_batch_item it = {0, tok, n};
    int f = all_rows ? 0 : n - 1;
    return eval_items(m, &it, 1, &f, logits);
}

/* Checks a batch: sequences in range, each at most once, tokens that fit. */
static int check_items(rl_model *m, const rl_batch_item *items, int n_items) {
    if (n_items <= 0) return rl_err("eval: empty batch");
    for (int i = 0; i < n_items; i++) {
        if (items[i].seq < 0 || items[i].seq >= m->n_seq)
            return rl_err("%s: sequence %d out of range (the model was opened for %d)", m->dir, items[i].seq, m->n_seq);
        for (int j = 0; j < i; j++)
            if (items[j].seq == items[i].seq) return rl_err("eval: sequence %d appears twice in one batch", items[i].seq);
        if (check_tokens(m, items[i].seq, items[i].tokens, items[i].n)) return -1;
    }
    return 0;
}

int rl_model_eval_batch(rl_model *m, const rl_batch_item *items, int n_items, float *logits) {
    if (drop_chains(m) || check_items(m, items, n_items)) return -1;
    return eval_items(m, items, n_items, NULL, logits);
}

/* --- token trees (speculative decoding) --- */

int rl_model_tree_ok(const rl_model *m) {
    /* sliding-window layers (linear or ring caches) are fine: attention_tree takes the window */
    /* MLA too (latent or expanded cache), GLM-5's DSA indexer too (its top-k over the prefix and
     * the node's ancestors); through an MPI pipeline too (every rank's layers) */
    /* chunked attention (Llama 4) where the context spans several chunks: chains */
    int chunked = 0;
    for (int l = 0; m->d.attn_chunk > 0 && m->ctx > m->d.attn_chunk && l < m->d.n_layers; l++) chunked |= m->d.layers[l].chunked;
    return m->be->ops->attention_tree && !m->n_lin && !chunked;
}

/* A model without token trees (recurrent layers: Qwen3.5) verifies chains: each
 * item's nodes run as plain rows after its position (a hybrid sequence checkpoints its state
 * there, in the same sweep) and stay in the cache until the commit, which keeps the accepted
 * prefix: nothing to redo when all of it is, else a rewind to it (from the checkpoint: its rows
 * go in front of the next sweep). Anything else that touches the caches first drops a chain
 * that was not committed (drop_chains). */
static int eval_chains(rl_model *m, const rl_tree_item *items, int n_items, float *logits) {
    rl_batch_item bi[RL_TREE_MAX];
    int from[RL_TREE_MAX];
    for (int i = 0; i < n_items; i++) {
        int s = items[i].seq;
        if (m->n_lin && rl_model_seq_checkpoint_slot(m, s, RL_CKPT_SPEC)) return -1;
        bi[i] = (rl_batch_item){s, items[i].tokens, items[i].n};
        from[i] = 0;
    }
    for (int s = 0; s < m->n_seq; s++) m->tree_seq[s].n = 0;
    if (eval_items(m, bi, n_items, from, logits)) return -1;
    for (int i = 0; i < n_items; i++) { /* the chain ends the sequence's rows */
        struct rl_tree_seq *ts = &m->tree_seq[items[i].seq];
        int end = m->kv.pos[items[i].seq];
        *ts = (struct rl_tree_seq){items[i].n, end - items[i].n, 0, end > ts->top ? end : ts->top, 1};
    }
    return 0;
}

int rl_model_eval_tree_batch(rl_model *m, const rl_tree_item *items, int n_items, float *logits) {
    int chain = !rl_model_tree_ok(m);
    if (n_items <= 0) return rl_err("eval_tree: no trees");
    if (drop_chains(m)) return -1;
    int cap = m->max_T < RL_TREE_MAX ? m->max_T : RL_TREE_MAX, T = 0;
    for (int i = 0; i < n_items; i++) {
        const rl_tree_item *it = &items[i];
        if (it->seq < 0 || it->seq >= m->n_seq)
            return rl_err("%s: sequence %d out of range (the model was opened for %d)", m->dir, it->seq, m->n_seq);
        for (int j = 0; j < i; j++)
            if (items[j].seq == it->seq) return rl_err("eval_tree: sequence %d appears twice in one sweep", it->seq);
        if (it->n <= 0 || it->n > cap - T) return rl_err("eval_tree: %d nodes in all exceed the %d a sweep can hold", T + it->n, cap);
        if (check_tokens(m, it->seq, it->tokens, it->n)) return -1;
        for (int t = 0; t < it->n; t++) {
            if (it->parent[t] < -1 || it->parent[t] >= t)
                return rl_err("eval_tree: node %d has parent %d (must be -1 or an earlier node)", t, it->parent[t]);
            if (chain && it->parent[t] != t - 1)
                return rl_err("%s: this model verifies chains only (recurrent layers: node %d's parent must "
                              "be node %d)", m->dir, t, t - 1);
        }
        T += it->n;
    }
    if (chain) return eval_chains(m, items, n_items, logits);
    if (m->replay && replay(m)) return -1;
    for (int s = 0; s < m->n_seq; s++) m->tree_seq[s].n = 0; /* a new tree sweep drops pending trees */
    m->n_seg = 0;
    for (int i = 0, r0 = 0; i < n_items; r0 += items[i].n, i++) {
        const rl_tree_item *it = &items[i];
        memcpy(m->tree_tok + r0, it->tokens, (size_t)it->n * sizeof(int32_t));
        memcpy(m->tree_par + r0, it->parent, (size_t)it->n * sizeof(int32_t));
        m->seg[m->n_seg++] = (rl_segment){it->seq, r0, it->n, m->kv.pos[it->seq]};
    }
    rl_backend *be = m->be;
    if (be->ops->upload(be, m->tree_parent_dev, m->tree_par, (size_t)T * sizeof(int32_t)) || be->ops->wait(be, be->ops->fence(be)))
        return -1;
    m->tree_parent = m->tree_par; /* read by rope_tables (positions) during this sweep only */
    for (int r = 0; r < T; r++) m->out_rows[r] = r;
    int rc = rl_model_sweep(m, m->tree_tok, T, m->out_rows, logits ? T : 0, logits);
    if (!rc && m->dist) rc = rl_dist_flush(m); /* rank 0: the last rank's logits of the tree */
    m->tree_parent = NULL;
    for (int g = 0; g < m->n_seg; g++) { /* nothing is kept until rl_model_seq_tree_commit */
        const rl_segment *sg = &m->seg[g];
        struct rl_tree_seq *ts = &m->tree_seq[sg->seq];
        m->kv.pos[sg->seq] = sg->pos0;
        *ts = (struct rl_tree_seq){rc ? 0 : sg->n, sg->pos0, sg->row0, ts->top, 0};
        if (sg->pos0 + sg->n > ts->top) ts->top = sg->pos0 + sg->n; /* ring rows written up to here */
    }
    return rc;
}

int rl_model_eval_tree(rl_model *m, const int32_t *tok, const int32_t *parent, int n, float *logits) {
    rl_tree_item it = {0, tok, parent, n};
    return rl_model_eval_tree_batch(m, &it, 1, logits);
}

int rl_model_seq_tree_commit(rl_model *m, int seq, const int32_t *nodes, int k) {
    if (seq < 0 || seq >= m->n_seq) return rl_err("tree_commit: sequence %d out of range (0..%d)", seq, m->n_seq - 1);
    struct rl_tree_seq *ts = &m->tree_seq[seq];
    if (ts->chain && ts->n) { /* a chain (eval_chains): keep its first k nodes */
        for (int i = 0; i < k; i++)
            if (nodes[i] != i) return rl_err("tree_commit: node %d is not the child of the path's previous node in the last chain", nodes[i]);
        if (k < 0 || k > ts->n) return rl_err("tree_commit: %d nodes of a chain of %d", k, ts->n);
        int n = ts->n;
        ts->n = 0;
        return k < n ? rewind_seq(m, seq, ts->pos + k) : 0;
    }
    if (!ts->n || m->kv.pos[seq] != ts->pos) return rl_err("tree_commit: no tree evaluated at this position");
    const int32_t *par = m->tree_par + ts->row0, *tok = m->tree_tok + ts->row0;
    for (int i = 0; i < k; i++)
        if (nodes[i] < 0 || nodes[i] >= ts->n || par[nodes[i]] != (i ? nodes[i - 1] : -1))
            return rl_err("tree_commit: node %d is not the child of the path's previous node in the last tree", nodes[i]);
    if (ts->pos + k > m->ctx) return rl_err("tree_commit: past the context");
    rl_backend *be = m->be;
    int P = ts->pos;
    /* rows P + nodes[i] -> P + i, ascending (a source is never an earlier destination); ring
     * caches modulo their rows (a tree spans fewer rows than a ring holds) */
    for (int l = 0; l < m->kv.n_layers; l++) {
        rl_kv_view kv = rl_kv_layer(&m->kv, l, seq);
        size_t kb = rl_dtype_row_bytes(kv.dt, kv.k_width), vb = rl_dtype_row_bytes(kv.dt, kv.v_width);
        for (int i = 0; i < k; i++) {
            if (nodes[i] == i) continue;
            size_t dst = (size_t)(kv.ring ? (P + i) % kv.ring : P + i), src = (size_t)(kv.ring ? (P + nodes[i]) % kv.ring : P + nodes[i]);
            be->ops->copy2d(be, (uint8_t *)kv.k + dst * kb, kb, (uint8_t *)kv.k + src * kb, kb, kb, 1);
            if (kv.v != kv.k) be->ops->copy2d(be, (uint8_t *)kv.v + dst * vb, vb, (uint8_t *)kv.v + src * vb, vb, vb, 1);
        }
    }
    rl_mla_tree_commit(m, seq, P, nodes, k); /* GLM-5's indexer keys the same way */
    int32_t *hist = m->kv.hist + (size_t)seq * m->ctx;
    for (int i = 0; i < k; i++) hist[P + i] = tok[nodes[i]];
    m->kv.pos[seq] = P + k;
    ts->n = 0;
    if (m->dist && rl_dist_tree_commit(m, seq, nodes, k)) return -1; /* rank 0: the other stages' caches too */
    return be->ops->status(be);
}

int rl_model_tree_commit(rl_model *m, const int32_t *nodes, int k) { return rl_model_seq_tree_commit(m, 0, nodes, k); }
