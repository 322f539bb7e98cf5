/* Ranks > 0: the command loop. Each command from the rank before is forwarded to the next
 * first, then acted on: open / close a model's layer range, run a sweep over it, rewind a
 * sequence, answer a ping; exit ends the loop. While a rank waits for its next sweep its loader
 * already prefetches its first stage (the loader reads its stages cyclically). */
#include "dist/mpi/proto.h"
#include "engine/deltanet.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 64

rl_model *dist_worker_open(const dist_cmd *h, const uint8_t *payload, size_t bytes);

int dist_worker_sweep(rl_model *m, const dist_cmd *h, const uint8_t *payload, size_t bytes) {
    int T = h->a, n_seg = h->b, n_out = h->c, want = h->d, tree = h->e != 0;
    if (T < 1 || T > m->max_T || n_seg < 1 || n_seg > T || n_out < 0 || n_out > T ||
        bytes != ((size_t)n_seg * 4 + (size_t)n_out + (size_t)T * (tree ? 2 : 1)) * sizeof(int32_t))
        return rl_err("pipeline rank %d: malformed sweep (%d rows, %d segments)", m->dist->rank, T, n_seg);
    const int32_t *p = (const int32_t *)payload;
    for (int g = 0; g < n_seg; g++, p += 4) {
        if (p[0] >= 0 && p[0] < m->n_seq && (m->replay_seq[p[0]] || (p[3] == 0 && m->kv.pos[p[0]] > 0))) {
            /* rank 0 replays this sequence's kept prefix (a rewind of a recurrent model, or one
             * that dropped ring rows on some rank: maybe not this one): from its checkpoint, or
             * from zero, here too */
            int s = p[0];
            int ck = m->replay_ckpt[s], cp = m->ckpt_pos[s * RL_CKPT_SLOTS + ck];
            if (m->replay_seq[s] == 2 && cp >= 0 && p[3] == cp) {
                rl_dn_restore(m, s, ck);
                m->kv.pos[s] = p[3];
                m->replay_seq[s] = 0;
            } else if (p[3] == 0) {
                rl_kv_truncate(&m->kv, s, 0);
                m->tree_seq[s].top = 0;
                rl_dn_reset_seq(m, s);
                m->replay_seq[s] = 0;
                for (int k = 0; k < RL_CKPT_SLOTS; k++) m->ckpt_pos[s * RL_CKPT_SLOTS + k] = -1;
            }
        }
        m->seg[g] = (rl_segment){p[0], p[1], p[2], p[3]};
        if (p[0] < 0 || p[0] >= m->n_seq || p[1] < 0 || p[2] < 1 || p[1] + p[2] > T || m->kv.pos[p[0]] != p[3] || p[3] + p[2] > m->ctx)
            return rl_err("pipeline rank %d: sweep segment %d (sequence %d at %d) does not match this rank's cache", m->dist->rank, g, p[0], p[3]);
    }
    m->n_seg = n_seg;
    for (int i = 0; i < n_out; i++) {
        if (p[i] < 0 || p[i] >= T) return rl_err("pipeline rank %d: output row %d out of range", m->dist->rank, p[i]);
        m->out_rows[i] = p[i];
    }
    const int32_t *tok = p + n_out;
    float *lg = NULL;
    if (want && !m->pp_send) {
        struct rl_dist_model *dm = m->dist;
        size_t n = (size_t)n_out * m->d.vocab * sizeof(float);
        if (n > dm->lg_cap) {
            float *q = realloc(dm->lg, n);
            if (!q) return rl_err("out of memory for %d logits rows", n_out);
            dm->lg = q; dm->lg_cap = n;
        }
        lg = dm->lg;
    }
    m->dist->sweeps++;
    if (tree) { /* one tree per segment, parents relative to it: eval_tree_batch's checks, positions and cache rules */
        rl_tree_item items[RL_TREE_MAX];
        if (n_seg > RL_TREE_MAX) return rl_err("pipeline rank %d: %d trees in one sweep", m->dist->rank, n_seg);
        for (int g = 0; g < n_seg; g++) {
            const rl_segment *sg = &m->seg[g];
            items[g] = (rl_tree_item){sg->seq, tok + sg->row0, tok + T + sg->row0, sg->n};
        }
        return rl_model_eval_tree_batch(m, items, n_seg, lg);
    }
    return rl_model_sweep(m, tok, T, m->out_rows, n_out, lg);
}

static void ping(const dist_cmd *h) {
    size_t n = (size_t)h->a;
    void *b = malloc(n + 1);
    for (int i = 0; i < h->b; i++) {
        MPI_Recv(b, (int)n, MPI_BYTE, 0, TAG_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(b, (int)n, MPI_BYTE, 0, TAG_PING, MPI_COMM_WORLD);
    }
    free(b);
}

int rl_dist_worker(void) {
    int rank = rl_dist_rank(), size = rl_dist_size(), ret = 0;
    rl_model *models[MAX_MODELS] = {0};
    int ids[MAX_MODELS] = {0};
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        MPI_Status st;
        int cnt = 0;
        if (MPI_Probe(rank - 1, TAG_CMD, MPI_COMM_WORLD, &st) != MPI_SUCCESS) { ret = 1; break; }
        MPI_Get_count(&st, MPI_BYTE, &cnt);
        if ((size_t)cnt > cap) {
            uint8_t *q = realloc(buf, (size_t)cnt);
            if (!q) { fprintf(stderr, "rabbitllm rank %d: out of memory\n", rank); ret = 1; break; }
            buf = q; cap = (size_t)cnt;
        }
        MPI_Recv(buf, cnt, MPI_BYTE, rank - 1, TAG_CMD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if ((size_t)cnt < sizeof(dist_cmd)) { fprintf(stderr, "rabbitllm rank %d: short command\n", rank); ret = 1; break; }
        dist_cmd h;
        memcpy(&h, buf, sizeof h);
        if (rank < size - 1 && h.kind != CMD_PING) MPI_Send(buf, cnt, MPI_BYTE, rank + 1, TAG_CMD, MPI_COMM_WORLD);
        const uint8_t *pay = buf + sizeof h;
        size_t pn = (size_t)cnt - sizeof h;
        if (h.kind == CMD_EXIT) break;
        if (h.kind == CMD_PING) { ping(&h); continue; }
        int slot = -1, free_slot = -1;
        for (int i = 0; i < MAX_MODELS; i++) {
            if (models[i] && ids[i] == h.id) slot = i;
            if (!models[i] && free_slot < 0) free_slot = i;
        }
        if (h.kind == CMD_PROFILE) {
            dist_worker_profile(slot >= 0 ? models[slot] : NULL, h.a, rank);
        } else if (h.kind == CMD_TRACE) {
            dist_worker_trace(slot >= 0 ? models[slot] : NULL, h.a);
        } else if (h.kind == CMD_OPEN) {
            rl_model *m = dist_worker_open(&h, pay, pn);
            if (m && free_slot < 0) { rl_model_close(m); m = NULL; } /* (rank 0 opens far fewer at once) */
            if (m) { models[free_slot] = m; ids[free_slot] = h.id; }
        } else if (h.kind == CMD_CLOSE) {
            if (slot >= 0) { rl_model_close(models[slot]); models[slot] = NULL; }
        } else if (h.kind == CMD_REWIND) {
            if (slot >= 0 && rl_model_seq_rewind(models[slot], h.a, h.b))
                fprintf(stderr, "rabbitllm rank %d: rewind: %s\n", rank, rl_last_error());
        } else if (h.kind == CMD_CKPT) {
            if (slot >= 0 && rl_model_seq_checkpoint_slot(models[slot], h.a, h.b))
                fprintf(stderr, "rabbitllm rank %d: checkpoint: %s\n", rank, rl_last_error());
        } else if (h.kind == CMD_COMMIT) {
            if (slot >= 0 && (pn != (size_t)h.a * sizeof(int32_t) || rl_model_seq_tree_commit(models[slot], h.b, (const int32_t *)pay, h.a)))
                fprintf(stderr, "rabbitllm rank %d: tree commit: %s\n", rank, pn != (size_t)h.a * sizeof(int32_t) ? "malformed" : rl_last_error());
        } else if (h.kind == CMD_SWEEP) {
            if (slot < 0) { /* a model this rank failed to open: the sweep fails down the line */
                char msg[96];
                snprintf(msg, sizeof msg, "pipeline rank %d: no model %d (its open failed)", rank, h.id);
                dist_drain_rows(rank);
                dist_fail_down(rank, size, h.d, msg);
                continue;
            }
            struct rl_dist_model *dm = models[slot]->dist;
            dm->passed = dm->got_rows = 0;
            if (dist_worker_sweep(models[slot], &h, pay, pn) && !dm->passed) {
                if (!dm->got_rows) dist_drain_rows(rank); /* failed before taking its rows */
                dist_pass_failure(models[slot], h.d);
            }
        }
    }
    for (int i = 0; i < MAX_MODELS; i++) rl_model_close(models[i]);
    free(buf);
    rl_dist_finalize();
    return ret;
}
