/* MPI start and end, the process-wide pipeline settings, command sending and the per-model
 * state shared by open.c, pipe.c and worker.c. */
#include "dist/mpi/proto.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_init, g_done, g_rank, g_size = 1, g_next_id;
static const char *g_split;

int rl_dist_built(void) { return 1; }
int rl_dist_size(void) { return g_size; }
int rl_dist_rank(void) { return g_rank; }
int dist_next_id(void) { return ++g_next_id; }
const char *dist_split_spec(void) { return g_split; }
int rl_dist_set_split(const char *spec) { g_split = spec; return 0; }

int dist_mpi_err(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return 0;
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS) snprintf(s, sizeof s, "error %d", rc);
    return rl_err("MPI rank %d: %s: %s", g_rank, what, s);
}

int rl_dist_init(int *argc, char ***argv) {
    if (g_init) return 0;
    int have = 0, prov;
    MPI_Initialized(&have);
    if (!have && MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &prov) != MPI_SUCCESS) return rl_err("MPI_Init failed");
    g_init = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (!g_rank) atexit(rl_dist_finalize); /* a CLI path that calls exit() still releases the workers */
    return 0;
}

void rl_dist_finalize(void) {
    if (!g_init || g_done) return;
    g_done = 1;
    if (g_rank == 0 && g_size > 1) {
        dist_cmd h = {.kind = CMD_EXIT};
        MPI_Send(&h, (int)sizeof h, MPI_BYTE, 1, TAG_CMD, MPI_COMM_WORLD);
    }
    MPI_Finalize();
}

int dist_send_cmd(struct rl_dist_model *dm, const dist_cmd *h, const void *payload, size_t bytes) {
    size_t n = sizeof *h + bytes;
    if (n > (size_t)1 << 30) return rl_err("pipeline: command of %zu bytes", n);
    if (n > dm->cmd_cap) {
        uint8_t *p = realloc(dm->cmd, n);
        if (!p) return rl_err("out of memory");
        dm->cmd = p; dm->cmd_cap = n;
    }
    memcpy(dm->cmd, h, sizeof *h);
    if (bytes) memcpy(dm->cmd + sizeof *h, payload, bytes);
    return dist_mpi_err(MPI_Send(dm->cmd, (int)n, MPI_BYTE, dm->rank + 1, TAG_CMD, MPI_COMM_WORLD), "sending a command");
}

struct rl_dist_model *dist_state_new(int id) {
    struct rl_dist_model *dm = calloc(1, sizeof *dm);
    if (!dm) { rl_err("out of memory"); return NULL; }
    dm->id = id; dm->rank = g_rank; dm->size = g_size;
    return dm;
}

void dist_state_free(struct rl_dist_model *dm) {
    if (!dm) return;
    free(dm->cmd); free(dm->xh); free(dm->lg);
    if (dm->trace) fclose(dm->trace);
    free(dm->trace_txt);
    free(dm);
}

void dist_print_stats(const rl_model *m) {
    const struct rl_dist_model *dm = m->dist;
    const char *e = getenv("RL_PP_STATS");
    if (!dm || !e || !*e || !strcmp(e, "0")) return;
    fprintf(stderr, "pipeline rank %d/%d: layers %d..%d%s, %ld sweeps, rows sent %.1f MB in %.3f s, waited %.3f s for rows, %.3f s for results\n",
            dm->rank, dm->size, m->l0, m->l1 - 1, !m->pp_send ? " + head" : "", dm->sweeps, dm->bytes / 1e6,
            dm->send_s, dm->recv_s, dm->wait_s);
}
