/* The engine's hooks for one sweep through the pipeline: rank 0 sends the sweep's command and
 * its residual rows on and collects the status and logits the last rank answers with; every
 * other rank takes the rows from the rank before and sends its own on (worker.c runs those
 * sweeps). Rank 0 does not wait for a sweep's answer before starting the next: prefill chunks
 * and micro-batches overlap across the ranks, rl_dist_flush waits at the end of an eval. */
#include "dist/mpi/proto.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    void *q = realloc(*p, n);
    if (!q) return rl_err("out of memory for the pipeline's rows (%zu bytes)", n);
    *p = q; *cap = n;
    return 0;
}

/* The host copy of m->x's first T rows (m->x itself on host-memory backends). */
static float *x_host(rl_model *m, int T, int download) {
    struct rl_dist_model *dm = m->dist;
    size_t n = (size_t)T * m->d.hidden * sizeof(float);
    if (m->be->ops->host_shared) return m->x;
    if (grow((void **)&dm->xh, &dm->xh_cap, n)) return NULL;
    if (download && m->be->ops->download(m->be, dm->xh, m->x, n)) return NULL;
    return dm->xh;
}

/* Rank 0: waits for the oldest sweep in flight. */
static int wait_oldest(rl_model *m) {
    struct rl_dist_model *dm = m->dist;
    int i = dm->p_head;
    double t0 = rl_now_s();
    MPI_Request rq[2] = {dm->pend[i].st, dm->pend[i].lg};
    int rc = MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
    dm->wait_s += rl_now_s() - t0;
    dm->p_head = (i + 1) % DIST_PEND;
    dm->p_n--;
    if (rc != MPI_SUCCESS) { dm->broken = 1; return dist_mpi_err(rc, "waiting for the last rank"); }
    if (dm->pend[i].s.rc) {
        dm->pend[i].s.msg[DIST_MSG - 1] = 0;
        if (!dm->broken) snprintf(dm->why, sizeof dm->why, "%s", dm->pend[i].s.msg);
        dm->broken = 1;
        return rl_err("%s", dm->pend[i].s.msg);
    }
    return 0;
}

int rl_dist_flush(rl_model *m) {
    struct rl_dist_model *dm = m->dist;
    int rc = 0;
    while (dm && dm->rank == 0 && dm->p_n)
        if (wait_oldest(m) && !rc) rc = -1;
    return rc;
}

int rl_dist_sweep_begin(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits) {
    struct rl_dist_model *dm = m->dist;
    if (dm->rank != 0) return 0; /* the worker loop got (and forwarded) the command */
    if (dm->open_sweep) dist_pass_failure(m, dm->open_want); /* the last sweep failed on rank 0 */
    if (dm->broken) return rl_err("%s: the pipeline is out of step after an error (%s); close and reopen the model", m->dir, dm->why);
    int tree = m->tree_parent != NULL;
    size_t n = (size_t)m->n_seg * 4 + (size_t)n_out + (size_t)T * (tree ? 2 : 1);
    int32_t *p = malloc(n * sizeof(int32_t) + 1);
    if (!p) return rl_err("out of memory");
    size_t k = 0;
    for (int g = 0; g < m->n_seg; g++) {
        p[k++] = m->seg[g].seq; p[k++] = m->seg[g].row0; p[k++] = m->seg[g].n; p[k++] = m->seg[g].pos0;
    }
    for (int i = 0; i < n_out; i++) p[k++] = out_rows[i];
    memcpy(p + k, tok, (size_t)T * sizeof(int32_t));
    if (tree) memcpy(p + k + T, m->tree_parent, (size_t)T * sizeof(int32_t));
    int want = logits && n_out;
    dist_cmd h = {.kind = CMD_SWEEP, .id = dm->id, .a = T, .b = m->n_seg, .c = n_out, .d = want, .e = tree};
    int rc = dist_send_cmd(dm, &h, p, n * sizeof(int32_t));
    free(p);
    if (rc) { dm->broken = 1; snprintf(dm->why, sizeof dm->why, "%s", rl_last_error()); return -1; }
    dm->open_sweep = 1;
    dm->open_want = want;
    dm->sweeps++;
    return 0;
}

int rl_dist_recv_x(rl_model *m, int T) {
    struct rl_dist_model *dm = m->dist;
    if (!dm) return rl_err("pipeline: no rows to receive");
    MPI_Status st;
    double t0 = rl_now_s();
    int rc = MPI_Probe(dm->rank - 1, MPI_ANY_TAG, MPI_COMM_WORLD, &st), cnt = 0;
    if (rc != MPI_SUCCESS) return dist_mpi_err(rc, "waiting for rows");
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    dm->got_rows = 1;
    if (st.MPI_TAG == TAG_XERR) { /* a rank before failed: its message */
        char msg[DIST_MSG] = "";
        MPI_Recv(msg, cnt < DIST_MSG ? cnt : DIST_MSG, MPI_BYTE, dm->rank - 1, TAG_XERR, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        msg[DIST_MSG - 1] = 0;
        return rl_err("%s", msg);
    }
    size_t bytes = (size_t)T * m->d.hidden * sizeof(float);
    if (st.MPI_TAG != TAG_X || (size_t)cnt != bytes)
        return rl_err("pipeline rank %d: expected %zu bytes of rows from rank %d, got %d (tag %d)", dm->rank, bytes, dm->rank - 1, cnt, st.MPI_TAG);
    float *xh = x_host(m, T, 0);
    if (!xh) return -1;
    rc = MPI_Recv(xh, cnt, MPI_BYTE, dm->rank - 1, TAG_X, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    dm->recv_s += rl_now_s() - t0;
    if (rc != MPI_SUCCESS) return dist_mpi_err(rc, "receiving rows");
    if (xh != m->x && (m->be->ops->upload(m->be, m->x, xh, bytes) || m->be->ops->wait(m->be, m->be->ops->fence(m->be)))) return -1;
    return 0;
}

int rl_dist_send_x(rl_model *m, int T, int n_out, float *logits) {
    struct rl_dist_model *dm = m->dist;
    if (!dm) return rl_err("pipeline: no rank to send the rows to");
    if (dm->rank == 0) { /* the answer of this sweep: posted before the rows leave */
        if (dm->p_n == DIST_PEND && wait_oldest(m)) return -1;
        int i = (dm->p_head + dm->p_n) % DIST_PEND, want = logits && n_out;
        MPI_Irecv(&dm->pend[i].s, (int)sizeof dm->pend[i].s, MPI_BYTE, dm->size - 1, TAG_STATUS, MPI_COMM_WORLD, &dm->pend[i].st);
        dm->pend[i].lg = MPI_REQUEST_NULL;
        if (want) MPI_Irecv(logits, (int)((size_t)n_out * m->d.vocab * sizeof(float)), MPI_BYTE, dm->size - 1, TAG_LOGITS,
                            MPI_COMM_WORLD, &dm->pend[i].lg);
        dm->p_n++;
        dm->open_sweep = 0;
    }
    float *xh = x_host(m, T, 1);
    if (!xh) return -1;
    size_t bytes = (size_t)T * m->d.hidden * sizeof(float);
    double t0 = rl_now_s();
    int rc = MPI_Send(xh, (int)bytes, MPI_BYTE, dm->rank + 1, TAG_X, MPI_COMM_WORLD);
    dm->send_s += rl_now_s() - t0;
    dm->bytes += (double)bytes;
    dm->passed = 1;
    return dist_mpi_err(rc, "sending rows");
}

int rl_dist_result(rl_model *m, int rc, int n_out, const float *logits) {
    struct rl_dist_model *dm = m->dist;
    dist_status s = {.rc = rc ? -1 : 0};
    dm->passed = 1;
    if (rc) snprintf(s.msg, sizeof s.msg, "rank %d: %s", dm->rank, rl_last_error());
    MPI_Send(&s, (int)sizeof s, MPI_BYTE, 0, TAG_STATUS, MPI_COMM_WORLD);
    if (logits) { /* wanted: sent even on failure (empty), so the answers stay matched */
        size_t bytes = rc ? 0 : (size_t)n_out * m->d.vocab * sizeof(float);
        double t0 = rl_now_s();
        MPI_Send(logits, (int)bytes, MPI_BYTE, 0, TAG_LOGITS, MPI_COMM_WORLD);
        dm->send_s += rl_now_s() - t0;
        dm->bytes += (double)bytes;
    }
    return rc;
}

void dist_fail_down(int rank, int size, int want, const char *msg) {
    if (rank < size - 1) {
        MPI_Send(msg, (int)strlen(msg) + 1, MPI_BYTE, rank + 1, TAG_XERR, MPI_COMM_WORLD);
        return;
    }
    dist_status s = {.rc = -1}; /* the last rank answers rank 0 directly */
    snprintf(s.msg, sizeof s.msg, "%s", msg);
    MPI_Send(&s, (int)sizeof s, MPI_BYTE, 0, TAG_STATUS, MPI_COMM_WORLD);
    if (want) MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_LOGITS, MPI_COMM_WORLD);
}

/* Takes the next message from src with tag (MPI_ANY_TAG: the rows or their error only) and
 * drops it. */
static void discard(int src, int tag) {
    MPI_Status st;
    int cnt = 0;
    if (MPI_Probe(src, tag, MPI_COMM_WORLD, &st) != MPI_SUCCESS) return;
    if (tag == MPI_ANY_TAG && st.MPI_TAG != TAG_X && st.MPI_TAG != TAG_XERR) return; /* (the rows always come before the next command) */
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    void *tmp = malloc((size_t)cnt + 1);
    if (!tmp) return;
    MPI_Recv(tmp, cnt, MPI_BYTE, src, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    free(tmp);
}

void dist_drain_rows(int rank) { discard(rank - 1, MPI_ANY_TAG); }

void dist_pass_failure(rl_model *m, int want) {
    struct rl_dist_model *dm = m->dist;
    if (dm->rank != 0) {
        char msg[DIST_MSG];
        snprintf(msg, sizeof msg, "%s", rl_last_error());
        dist_fail_down(dm->rank, dm->size, want, msg);
        return;
    }
    /* rank 0 failed a sweep it had announced: the others drop it, and rank 0 takes its answer */
    dm->open_sweep = 0;
    dm->broken = 1;
    if (!dm->why[0]) snprintf(dm->why, sizeof dm->why, "rank 0 failed a sweep");
    dist_fail_down(0, dm->size, want, "rank 0 failed a sweep");
    dist_status s;
    MPI_Recv(&s, (int)sizeof s, MPI_BYTE, dm->size - 1, TAG_STATUS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (want) discard(dm->size - 1, TAG_LOGITS);
}

int rl_dist_rewind(rl_model *m, int seq, int pos) {
    struct rl_dist_model *dm = m->dist;
    if (dm->rank != 0) return 0;
    dist_cmd h = {.kind = CMD_REWIND, .id = dm->id, .a = seq, .b = pos};
    return dist_send_cmd(dm, &h, NULL, 0);
}

int rl_dist_checkpoint(rl_model *m, int seq, int slot) {
    struct rl_dist_model *dm = m->dist;
    if (dm->rank != 0) return 0;
    dist_cmd h = {.kind = CMD_CKPT, .id = dm->id, .a = seq, .b = slot};
    return dist_send_cmd(dm, &h, NULL, 0);
}

int rl_dist_tree_commit(rl_model *m, int seq, const int32_t *nodes, int k) {
    struct rl_dist_model *dm = m->dist;
    if (dm->rank != 0) return 0;
    dist_cmd h = {.kind = CMD_COMMIT, .id = dm->id, .a = k, .b = seq};
    return dist_send_cmd(dm, &h, nodes, (size_t)k * sizeof(int32_t));
}

int rl_dist_microbatch(const rl_model *m, int n_items) {
    int n = m->dist ? m->dist->size : 1;
    return n_items > 1 && n > 1 ? (n_items + n - 1) / n : n_items;
}

void dist_ping(rl_model *m) {
    struct rl_dist_model *dm = m->dist;
    int rows[2] = {1, m->max_T}, reps = 20;
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)rows[k] * m->d.hidden * sizeof(float);
        void *b = calloc(1, n);
        if (!b) return;
        dist_cmd h = {.kind = CMD_PING, .id = dm->id, .a = (int32_t)n, .b = reps};
        if (dist_send_cmd(dm, &h, NULL, 0)) { free(b); return; }
        double t0 = rl_now_s();
        for (int i = 0; i < reps; i++) {
            MPI_Send(b, (int)n, MPI_BYTE, 1, TAG_PING, MPI_COMM_WORLD);
            MPI_Recv(b, (int)n, MPI_BYTE, 1, TAG_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        double one = (rl_now_s() - t0) / (2.0 * reps);
        fprintf(stderr, "pipeline hop rank 0 -> 1: %d rows x %d (%.1f KB): %.1f us one way (%.2f GB/s)\n", rows[k], m->d.hidden,
                n / 1e3, one * 1e6, n / one / 1e9);
        free(b);
    }
}
