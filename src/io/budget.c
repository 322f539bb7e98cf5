/* The budget decision (see budget.h). The rule, in bytes:
 *   usable   = min(MemAvailable, cgroup limit - (usage - inactive page cache)) - margin
 *   margin   = usable/16 clamped to [64 MiB, 1 GiB] (allocator slack, libraries, tokenizer)
 *   all fit  : weights + KV + activations + other <= usable -> everything resident
 *   else     : need = 2 slots + one stage of page cache in flight + KV + activations + other;
 *              resident = usable - need; streamed stages drop their pages after each read,
 *              since page cache is charged to the cgroup like anonymous memory. */
#include "io/budget.h"
#include "model/weights.h"
#include "util/err.h"
#include <stdio.h>
#include <string.h>

#define MIB (UINT64_C(1) << 20)

static void gb(char *out, size_t cap, uint64_t b) {
    if (b >= 1000000000) snprintf(out, cap, "%.2f GB", (double)b / 1e9);
    else snprintf(out, cap, "%.1f MB", (double)b / 1e6);
}

int rl_budget_decide(const rl_budget_in *in, const rl_memlimit *lim, rl_budget *out) {
    memset(out, 0, sizeof *out);
    if (lim) out->lim = *lim;
    else rl_memlimit_probe(&out->lim);
    uint64_t avail = out->lim.avail;
    out->is_auto = in->request == RL_BUDGET_AUTO;
    uint64_t m = avail / 16;
    out->margin = m < 64 * MIB ? 64 * MIB : m > 1024 * MIB ? 1024 * MIB : m;
    uint64_t usable = avail > out->margin ? avail - out->margin : 0;
    uint64_t base = in->kv + in->act + in->other;
    uint64_t stream_need = base + 3 * in->largest; /* two slots + the page cache of one read in flight */
    out->need = stream_need;
    if (!avail) { /* nothing known about memory: keep the request, stream everything under auto */
        out->resident = out->is_auto ? 0 : (in->request < in->weights ? in->request : in->weights);
        out->all_resident = out->resident >= in->weights;
        out->cache_streamed = 1;
        return 0;
    }
    char a[32], b[32], c[32], d[32];
    if (out->is_auto) {
        if (in->weights + base <= usable) {
            out->resident = in->weights;
            out->all_resident = 1;
            out->need = base;
            out->cache_streamed = 1;
            return 0;
        }
        if (stream_need > usable) {
            gb(a, sizeof a, stream_need); gb(b, sizeof b, in->kv); gb(c, sizeof c, usable); gb(d, sizeof d, out->margin);
            return rl_err_c(RL_EC_NOMEM, "the memory plan does not fit: streaming needs %s (2 layer slots + 1 in the page cache + KV cache %s"
                          " + activations) but the process may use %s (%s, margin %s kept free); use a smaller --ctx or --batch",
                          a, b, c, out->lim.source, d);
        }
        out->resident = usable - stream_need;
        if (out->resident > in->weights) out->resident = in->weights;
        return 0;
    }
    out->resident = in->request < in->weights ? in->request : in->weights;
    out->all_resident = out->resident >= in->weights;
    if (out->all_resident) out->need = base;
    if (out->resident + out->need > avail) {
        gb(a, sizeof a, out->resident); gb(b, sizeof b, out->need); gb(c, sizeof c, avail);
        return rl_err_c(RL_EC_NOMEM, "the memory plan does not fit: --mem-budget %s of resident weights + %s of slots, KV cache and"
                      " activations exceed the %s the process may use (%s); use a smaller --mem-budget, --ctx or --batch, or auto",
                      a, b, c, out->lim.source);
    }
    out->cache_streamed = in->weights + base + 2 * in->largest <= usable;
    return 0;
}

void rl_budget_describe(const rl_budget *b, uint64_t weights, char *out, size_t cap) {
    char lim[32], av[32], rss[32], res[32], w[32], need[32], mg[32];
    gb(av, sizeof av, b->lim.avail); gb(rss, sizeof rss, b->lim.rss); gb(res, sizeof res, b->resident);
    gb(w, sizeof w, weights); gb(need, sizeof need, b->need); gb(mg, sizeof mg, b->margin);
    char where[700] = "";
    if (b->lim.cg_version) {
        gb(lim, sizeof lim, b->lim.cg_limit);
        char u[32], r[32];
        gb(u, sizeof u, b->lim.cg_usage); gb(r, sizeof r, b->lim.cg_reclaim);
        snprintf(where, sizeof where, "; cgroup v%d %s = %s at %s (usage %s, %s of it inactive page cache)", b->lim.cg_version,
                 b->lim.cg_file ? b->lim.cg_file : "limit", lim, b->lim.cg_dir, u, r);
    } else snprintf(where, sizeof where, "; no cgroup memory limit");
    char ma[32];
    gb(ma, sizeof ma, b->lim.mem_available);
    snprintf(out, cap, "%s: may use %s (from %s; MemAvailable %s%s), margin %s, slots+KV+activations %s; resident %s of %s"
                       " weights%s; RSS %s at the decision",
             b->is_auto ? "auto" : "explicit", av, b->lim.source, ma, where, mg, need, res, w,
             b->all_resident ? " (all)" : b->cache_streamed ? ", streamed pages kept in the page cache" : ", streamed pages dropped after each read",
             rss);
}

void rl_budget_sizes(const rl_model_desc *d, const rl_stage *st, int n, int ctx, int n_seq, int max_T, int n_threads,
                     rl_budget_in *in) {
    in->weights = in->largest = 0;
    int head_rows = 0;
    for (int i = 0; i < n; i++) {
        in->weights += st[i].bytes;
        if (st[i].bytes > in->largest) in->largest = st[i].bytes;
        if (st[i].kind == RL_STAGE_HEAD && st[i].row1 - st[i].row0 > head_rows) head_rows = st[i].row1 - st[i].row0;
    }
    int nlin = 0, natt = 0; /* linear (fixed state) and attention (KV cache) layers */
    for (int l = 0; l < d->n_layers; l++) {
        nlin += d->layers[l].kind == RL_LAYER_LINEAR || d->layers[l].ssm_too;
        natt += d->layers[l].kind != RL_LAYER_LINEAR && !d->layers[l].no_mixer;
    }
    if (n_seq < 1) n_seq = 1;
    if (n_threads < 1) n_threads = 1;
    uint64_t T = (uint64_t)(max_T > 0 ? max_T : 256), H = (uint64_t)d->hidden, I = (uint64_t)d->intermediate;
    if (T > (uint64_t)ctx) T = (uint64_t)ctx;
    uint64_t qd = (uint64_t)d->n_heads * (uint64_t)d->head_dim, kvd = (uint64_t)d->n_kv_heads * (uint64_t)d->head_dim;
    in->kv = 2 * 4 * (uint64_t)natt * (uint64_t)n_seq * (uint64_t)ctx * kvd;
    in->kv += (uint64_t)(4.0 * nlin * ((double)d->lin_v_heads * d->lin_k_dim * d->lin_v_dim +
                                       (d->lin_conv_k - 1.0) * (double)rl_lin_conv_dim(d)));
    uint64_t rows = T * (4 * H + 3 * qd + 3 * kvd + 2 * I) + T * (uint64_t)head_rows;
    uint64_t logits = 2 * (uint64_t)d->vocab * (T < (uint64_t)n_seq ? T : (uint64_t)n_seq);
    uint64_t scratch = (uint64_t)n_threads * ((uint64_t)ctx + 64);
    in->act = 4 * (rows + logits + scratch);
}
