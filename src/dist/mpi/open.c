/* Opening and closing a model as a pipeline: rank 0 splits the layers (by bytes, or
 * --pp-split), asks every rank to open its range (worker_open here too) and gathers the results;
 * closing tells every rank to close its part. */
#include "dist/mpi/proto.h"
#include "model/config.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t n_threads, ctx, max_batch, n_seq, has_kv, has_backend, moe_cpu_rows, pad;
    uint64_t mem_budget, gpu_mem, expert_cache;
    char dir[4096], kv[64], backend[64];
    int32_t first[]; /* size + 1 layer boundaries */
} dist_open;

/* Layer boundaries for the ranks from the checkpoint's stage sizes (nothing is read). */
static int plan_split(const char *dir, int n, int *first) {
    rl_model_desc *d = calloc(1, sizeof *d);
    rl_checkpoint *ck = NULL;
    rl_stage *st = NULL;
    size_t *lb = NULL;
    int ns = 0, rc = -1;
    if (!d) return rl_err("out of memory");
    if (rl_config_load(dir, d) || !(ck = rl_ckpt_open(dir)) || rl_stages_build(d, ck, 0, &st, &ns)) goto done;
    if (!(lb = malloc(((size_t)d->n_layers + 1) * sizeof *lb))) { rl_err("out of memory"); goto done; }
    size_t head = 0;
    for (int i = 0; i < ns; i++) {
        if (i < d->n_layers) lb[i] = st[i].bytes;
        else head += st[i].bytes;
    }
    rc = rl_dist_split(lb, d->n_layers, head, n, dist_split_spec(), first);
    if (rc) rl_err_prefix("%s: ", dir);
done:
    free(lb); free(st); rl_ckpt_close(ck); free(d);
    return rc;
}

rl_model *rl_dist_model_open(const char *dir, const rl_model_opts *opts) {
    int n = rl_dist_size(), id = dist_next_id();
    rl_model_opts o = opts ? *opts : (rl_model_opts){0};
    size_t bytes = sizeof(dist_open) + (size_t)(n + 1) * sizeof(int32_t);
    dist_open *p = calloc(1, bytes);
    int *first = malloc((size_t)(n + 1) * sizeof(int));
    struct rl_dist_model *dm = dist_state_new(id);
    rl_model *m = NULL;
    if (!p || !first || !dm) { rl_err("out of memory"); goto fail; }
    if (strlen(dir) >= sizeof p->dir) { rl_err("%s: path too long", dir); goto fail; }
    if (plan_split(dir, n, first)) goto fail;
    p->n_threads = o.n_threads; p->ctx = o.ctx; p->max_batch = o.max_batch; p->n_seq = o.n_seq;
    p->has_kv = o.kv_type != NULL; p->has_backend = o.backend != NULL;
    p->mem_budget = o.mem_budget; p->gpu_mem = o.gpu_mem;
    p->expert_cache = o.expert_cache; p->moe_cpu_rows = o.moe_cpu_rows;
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->kv, sizeof p->kv, "%s", o.kv_type ? o.kv_type : "");
    snprintf(p->backend, sizeof p->backend, "%s", o.backend ? o.backend : "");
    for (int r = 0; r <= n; r++) p->first[r] = first[r];
    dist_cmd h = {.kind = CMD_OPEN, .id = id};
    if (dist_send_cmd(dm, &h, p, bytes)) goto fail;
    m = rl_model_open_range(dir, opts, first[0], first[1], RL_PP_SEND);
    char msg[DIST_MSG + 32] = "";
    if (!m) snprintf(msg, sizeof msg, "rank 0: %s", rl_last_error());
    for (int r = 1; r < n; r++) { /* every rank answers, failed or not */
        dist_status s;
        int rc = MPI_Recv(&s, (int)sizeof s, MPI_BYTE, r, TAG_OPENED, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) { dist_mpi_err(rc, "open"); snprintf(msg, sizeof msg, "%s", rl_last_error()); continue; }
        s.msg[DIST_MSG - 1] = 0;
        if (s.rc && !msg[0]) snprintf(msg, sizeof msg, "rank %d: %s", r, s.msg);
    }
    if (msg[0]) {
        dist_cmd c = {.kind = CMD_CLOSE, .id = id}; /* the ranks that opened close again */
        dist_send_cmd(dm, &c, NULL, 0);
        rl_model_close(m);
        m = NULL;
        rl_err("%s", msg);
        goto fail;
    }
    m->dist = dm;
    free(p); free(first);
    if (getenv("RL_PP_STATS")) dist_ping(m);
    return m;
fail:
    free(p); free(first); dist_state_free(dm);
    return NULL;
}

/* Rank 0: drains what the ranks still owe (a failed sweep's answer, sweeps in flight). */
static void drain(rl_model *m) {
    struct rl_dist_model *dm = m->dist;
    if (dm->open_sweep) dist_pass_failure(m, dm->open_want);
    rl_dist_flush(m);
}

void rl_dist_model_close(rl_model *m) {
    struct rl_dist_model *dm = m->dist;
    if (!dm) return;
    if (dm->rank == 0) {
        drain(m);
        dist_cmd h = {.kind = CMD_CLOSE, .id = dm->id};
        dist_send_cmd(dm, &h, NULL, 0);
    }
    dist_print_stats(m);
    dist_state_free(dm);
    m->dist = NULL;
}

/* Worker: opens its range of an OPEN command and answers rank 0. */
rl_model *dist_worker_open(const dist_cmd *h, const uint8_t *payload, size_t bytes);
rl_model *dist_worker_open(const dist_cmd *h, const uint8_t *payload, size_t bytes) {
    int n = rl_dist_size(), r = rl_dist_rank();
    rl_model *m = NULL;
    dist_status s = {0};
    if (bytes < sizeof(dist_open) + (size_t)(n + 1) * sizeof(int32_t)) rl_err("pipeline: short open command");
    else {
        dist_open *p = malloc(bytes); /* aligned copy */
        if (!p) rl_err("out of memory");
        else {
            memcpy(p, payload, bytes);
            p->dir[sizeof p->dir - 1] = p->kv[sizeof p->kv - 1] = p->backend[sizeof p->backend - 1] = 0;
            rl_model_opts o = {.n_threads = p->n_threads, .ctx = p->ctx, .max_batch = p->max_batch, .n_seq = p->n_seq,
                               .mem_budget = (size_t)p->mem_budget, .kv_type = p->has_kv ? p->kv : NULL,
                               .backend = p->has_backend ? p->backend : NULL, .gpu_mem = (size_t)p->gpu_mem,
                               .expert_cache = (size_t)p->expert_cache, .moe_cpu_rows = p->moe_cpu_rows};
            m = rl_model_open_range(p->dir, &o, p->first[r], p->first[r + 1], RL_PP_RECV | (r < n - 1 ? RL_PP_SEND : 0));
            if (m && !(m->dist = dist_state_new(h->id))) { rl_model_close(m); m = NULL; }
            free(p);
        }
    }
    if (!m) { s.rc = -1; snprintf(s.msg, sizeof s.msg, "%s", rl_last_error()); }
    MPI_Send(&s, (int)sizeof s, MPI_BYTE, 0, TAG_OPENED, MPI_COMM_WORLD);
    return m;
}
