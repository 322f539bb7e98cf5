/* The pipeline without MPI (the default build): one process, so no hook of dist.h runs except
 * the queries and rl_dist_set_split (which then only checks nothing). */
#include "dist/dist.h"
#include "util/err.h"

int rl_dist_built(void) { return 0; }
int rl_dist_init(int *argc, char ***argv) { (void)argc; (void)argv; return 0; }
int rl_dist_size(void) { return 1; }
int rl_dist_rank(void) { return 0; }
int rl_dist_worker(void) { return 0; }
void rl_dist_finalize(void) {}
int rl_dist_set_split(const char *spec) {
    (void)spec;
    return rl_err("--pp-split: this build has no MPI pipeline (make MPI=1, then mpirun -np N rabbitllm ...)");
}

rl_model *rl_dist_model_open(const char *dir, const rl_model_opts *opts) {
    (void)dir; (void)opts;
    rl_err("this build has no MPI pipeline (make MPI=1)");
    return NULL;
}
void rl_dist_model_close(rl_model *m) { (void)m; }
int rl_dist_sweep_begin(rl_model *m, const int32_t *tok, int T, const int *out_rows, int n_out, float *logits) {
    (void)m; (void)tok; (void)T; (void)out_rows; (void)n_out; (void)logits;
    return rl_err("this build has no MPI pipeline");
}
int rl_dist_recv_x(rl_model *m, int T) { (void)m; (void)T; return rl_err("this build has no MPI pipeline"); }
int rl_dist_send_x(rl_model *m, int T, int n_out, float *logits) {
    (void)m; (void)T; (void)n_out; (void)logits;
    return rl_err("this build has no MPI pipeline");
}
int rl_dist_result(rl_model *m, int rc, int n_out, const float *logits) { (void)m; (void)n_out; (void)logits; return rc; }
int rl_dist_flush(rl_model *m) { (void)m; return 0; }
int rl_dist_rewind(rl_model *m, int seq, int pos) { (void)m; (void)seq; (void)pos; return 0; }
int rl_dist_tree_commit(rl_model *m, int seq, const int32_t *nodes, int k) { (void)m; (void)seq; (void)nodes; (void)k; return 0; }
int rl_dist_microbatch(const rl_model *m, int n_items) { (void)m; return n_items; }
int rl_dist_checkpoint(rl_model *m, int seq, int slot) { (void)m; (void)seq; (void)slot; return 0; }
void rl_dist_set_profile_hooks(rl_dist_profile_print_fn print, rl_dist_profile_reset_fn reset) { (void)print; (void)reset; }
int rl_dist_profile(rl_model *m, int reset, FILE *f) { (void)m; (void)reset; (void)f; return 0; }
void rl_dist_set_trace_hook(rl_dist_trace_line_fn line) { (void)line; }
int rl_dist_trace(rl_model *m, int on, FILE *f) { (void)m; (void)on; (void)f; return 0; }
