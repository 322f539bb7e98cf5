/* Shared flag parsing for run / chat / bench (see opts.h). */
#include "dist/dist.h"
#include "cli/progress.h"
#include "cli/help.h"
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "hub/hub.h"
#include "quant/qcache.h"
#include "backend/cpu/matmul.h"
#include <limits.h>
#include "util/err.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int num(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "error: %s needs a number in [%g, %g], got '%s'\n", flag, lo, hi, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int rl_cli_parse_size(const char *s, uint64_t *out) {
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || v < 0) return -1;
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1e3, end++;
    else if (*end == 'M' || *end == 'm') mul = 1e6, end++;
    else if (*end == 'G' || *end == 'g') mul = 1e9, end++;
    else if (*end == 'T' || *end == 't') mul = 1e12, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end) return -1;
    *out = (uint64_t)(v * mul);
    return 0;
}

/* Parses "1,2,3" into a malloc'd array. -1 on a bad list. */
int rl_cli_parse_ids(const char *s, int32_t **out, int *n) {
    int cap = 16, k = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    const char *p = s;
    while (v && *p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 0x7fffffff) { free(v); return -1; }
        if (k == cap) { int32_t *nv = realloc(v, (size_t)(cap *= 2) * sizeof *v); if (!nv) { free(v); return -1; } v = nv; }
        v[k++] = (int32_t)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) { free(v); return -1; }
    }
    if (!v || !k) { free(v); return -1; }
    *out = v; *n = k;
    return 0;
}

/* --quant / --draft-quant: points *model_dir at the quantized cache of it at bits (dir: static
 * storage of the caller), building it first when absent or stale. */
static int use_quant_cache(const char **model_dir, int bits, char *dir, size_t cap, const char *flag) {
    int fr = -1;
    if (rl_qcache_default_dir(*model_dir, bits, dir, cap) == 0) fr = rl_qcache_fresh(*model_dir, bits, dir);
    if (fr < 0) return rl_cli_fail(flag);
    if (!fr) {
        fprintf(stderr, "quantizing %s to %d bits into %s (%s; one-time)...\n", *model_dir, bits, dir, rl_errmsg());
        rl_qcache_stats st;
        rl_progress pg;   /* bytes, rate, ETA on a TTY */
        rl_progress_begin(&pg, "quantizing", 0);
        rl_qcache_set_progress(rl_progress_cb, &pg);
        int qrc = rl_qcache_build(*model_dir, bits, dir, &st);
        rl_qcache_set_progress(NULL, NULL);
        rl_progress_end(&pg);
        if (qrc) return rl_cli_fail(flag);
        fprintf(stderr, "quantized %d tensors (%d copied): %.1f MB -> %.1f MB\n", st.n_quantized, st.n_copied,
                st.src_bytes / 1e6, st.out_bytes / 1e6);
    }
    *model_dir = dir;
    return 0;
}

int rl_cli_moe_flag(const char *a, const char *v, rl_model_opts *mo) {
    int ec = !strcmp(a, "--expert-cache"), cr = !strcmp(a, "--moe-cpu-rows");
    if (!ec && !cr) return 0;
    if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return -1; }
    if (ec) {
        uint64_t b;
        if (!strcmp(v, "auto")) mo->expert_cache = 0;
        else if (!strcmp(v, "off")) mo->expert_cache = RL_EXPERT_CACHE_OFF;
        else if (rl_cli_parse_size(v, &b)) { fprintf(stderr, "error: --expert-cache needs a size (e.g. 6G), auto or off, got '%s'\n", v); return -1; }
        else mo->expert_cache = b ? (size_t)b : RL_EXPERT_CACHE_OFF;
        return 1;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (!strcmp(v, "off")) mo->moe_cpu_rows = -1;
    else if (end == v || *end || n < 1 || n > 1 << 20) { fprintf(stderr, "error: --moe-cpu-rows needs a count of rows (1 or more) or off, got '%s'\n", v); return -1; }
    else mo->moe_cpu_rows = (int)n;
    return 1;
}

int rl_cli_parse(int argc, char **argv, rl_cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->sampling = rl_sampling_default();
    o->n_new = 64;
    o->model.mem_budget = RL_MEM_BUDGET_AUTO; /* decided at open (io/budget.h) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x;
        int rc;
#define NUM(lo, hi) do { if (num(a, v, lo, hi, &x)) return RL_EXIT_USAGE; i++; } while (0)
        if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { NUM(0, 1e9); o->n_new = (int)x; }
        else if (!strcmp(a, "--temp") || !strcmp(a, "--temperature")) { NUM(0, 100); o->sampling.temperature = (float)x; }
        else if (!strcmp(a, "--top-k")) { NUM(0, 1e9); o->sampling.top_k = (int)x; }
        else if (!strcmp(a, "--top-p")) { NUM(0, 1); o->sampling.top_p = (float)x; }
        else if (!strcmp(a, "--min-p")) { NUM(0, 1); o->sampling.min_p = (float)x; }
        else if (!strcmp(a, "--repeat-penalty") || !strcmp(a, "--repetition-penalty")) { NUM(0.01, 100); o->sampling.repetition_penalty = (float)x; }
        else if (!strcmp(a, "--seed")) { NUM(0, 1.8e19); o->sampling.seed = (uint64_t)x; }
        else if (!strcmp(a, "--ctx")) { NUM(1, 1 << 30); o->model.ctx = (int)x; }
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) { NUM(0, 4096); o->model.n_threads = (int)x; }
        else if (!strcmp(a, "--batch")) { NUM(1, 65536); o->model.max_batch = (int)x; }
        else if (!strcmp(a, "--draft")) { NUM(0, 32); o->draft = (int)x; }
        else if (!strcmp(a, "--draft-model") && v) { o->draft_model = v; i++; }
        else if (!strcmp(a, "--draft-tokens")) { NUM(1, 256); o->draft_tokens = (int)x; }
        else if (!strcmp(a, "--draft-fixed")) o->draft_fixed = 1;
        else if (!strcmp(a, "--draft-quant")) { NUM(4, 8); o->draft_quant = (int)x; if (x != 8 && x != 4) { fprintf(stderr, "error: --draft-quant must be 8 or 4\n"); return RL_EXIT_USAGE; } }
        else if (!strcmp(a, "--draft-backend") && v) { o->draft_backend = v; i++; }
        else if (!strcmp(a, "--parallel")) { NUM(1, 4096); o->parallel = (int)x; }
        else if (!strcmp(a, "--quant")) { NUM(4, 8); o->quant = (int)x; if (o->quant != 8 && o->quant != 4) { fprintf(stderr, "error: --quant must be 8 or 4\n"); return RL_EXIT_USAGE; } }
        else if (!strcmp(a, "--compute") && v) { /* matmul precision over BF16 weights (matmul.h) */
            if (strcmp(v, "bf16") && strcmp(v, "f32")) { fprintf(stderr, "error: --compute must be f32 or bf16, got '%s'\n", v); return RL_EXIT_USAGE; }
            rl_matmul_set_compute(!strcmp(v, "bf16") ? RL_COMPUTE_BF16 : RL_COMPUTE_F32);
            i++;
        }
        else if (!strcmp(a, "--ids-file") && v) { o->ids_file = v; i++; }
        else if (!strcmp(a, "--prompts") && v) { o->prompts = v; i++; }
        else if (!strcmp(a, "--mem-budget") && v) {
            uint64_t b;
            i++;
            if (!strcmp(v, "auto")) o->model.mem_budget = RL_MEM_BUDGET_AUTO;
            else if (rl_cli_parse_size(v, &b)) { fprintf(stderr, "error: --mem-budget needs a size (e.g. 4G, 500M, 0) or auto, got '%s'\n", v); return RL_EXIT_USAGE; }
            else o->model.mem_budget = (size_t)b;
        }
        else if (!strcmp(a, "--pp-split") && v) { /* layers per MPI rank (src/dist) */
            if (rl_dist_set_split(v)) { fprintf(stderr, "error: %s\n", rl_last_error()); return -1; }
            i++;
        }
        else if ((rc = rl_cli_moe_flag(a, v, &o->model)) != 0) {
            if (rc < 0) return RL_EXIT_USAGE;
            i++;
        }
        else if (!strcmp(a, "--gpu-mem") && v) {
            uint64_t b;
            i++;
            if (!strcmp(v, "auto")) o->model.gpu_mem = RL_GPU_MEM_AUTO;
            else if (rl_cli_parse_size(v, &b)) { fprintf(stderr, "error: --gpu-mem needs a size (e.g. 20G, 0) or auto, got '%s'\n", v); return -1; }
            else o->model.gpu_mem = (size_t)b;
        }
        else if (!strcmp(a, "--ignore-eos")) o->ignore_eos = 1;
        else if (!strcmp(a, "--profile")) o->profile = 1;
        else if (!strcmp(a, "--gpu")) o->model.backend = "cuda"; /* short for --backend cuda */
        else if (!strcmp(a, "--backend") && v) { o->model.backend = v; i++; }
        else if (!strcmp(a, "--kv-type") && v) { o->model.kv_type = v; i++; }
        else if (!strcmp(a, "--trace") && v) { o->trace = v; i++; }
        else if (!strcmp(a, "--raw")) o->raw = 1;
        else if (!strcmp(a, "--ids") && v) { o->ids = v; i++; }
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && v) { o->prompt = v; i++; }
        else if (!strcmp(a, "--system") && v) { o->system = v; i++; }
        else if (!strcmp(a, "--dump-logits") && v) { o->dump_logits = v; i++; }
        else if (a[0] == '-' && a[1]) { rl_cli_unknown_flag(a); return RL_EXIT_USAGE; }
        else if (!o->model_dir) o->model_dir = a;
        else { fprintf(stderr, "error: unexpected argument '%s'\n", a); return RL_EXIT_USAGE; }
#undef NUM
    }
    if (!o->model_dir) { fprintf(stderr, "error: missing MODEL_DIR\n"); return RL_EXIT_USAGE; }
    o->model_ref = o->model_dir;   /* a directory, or a hub id resolved in the HF cache (src/hub/) */
    if (!(o->model_dir = rl_hub_model_dir(o->model_ref))) return rl_cli_fail(NULL);
    static char qdir[PATH_MAX], dqdir[PATH_MAX];
    int rc = o->quant ? use_quant_cache(&o->model_dir, o->quant, qdir, sizeof qdir, "--quant") : 0;
    if (rc) return rc;
    if ((o->draft_quant || o->draft_backend) && !o->draft_model) {
        fprintf(stderr, "error: --draft-quant and --draft-backend need --draft-model\n");
        return RL_EXIT_USAGE;
    }
    if (o->draft_model) { /* a hub id resolves to its directory here, then to its quantized cache */
        if (!(o->draft_model = rl_hub_model_dir(o->draft_model))) return rl_cli_fail("--draft-model");
        if (o->draft_quant) return use_quant_cache(&o->draft_model, o->draft_quant, dqdir, sizeof dqdir, "--draft-quant");
    }
    return 0;
}
