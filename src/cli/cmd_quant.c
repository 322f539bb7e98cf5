/* `rabbitllm quantize MODEL_DIR [--bits 8|4] [--out DIR] [--force]`: writes the quantized layer
 * cache (src/quant/qcache.h) that `run/chat/serve/bench --quant 8|4` use; prints its path. */
#include "cli/progress.h"
#include "cli/exitcode.h"
#include "cli/help.h"
#include "cli/commands.h"
#include "hub/hub.h"
#include "quant/qcache.h"
#include "util/err.h"
#include "util/timer.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    int bits = 8, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bits") && v) {
            bits = atoi(v);
            i++;
            if (bits != 8 && bits != 4) { fprintf(stderr, "error: --bits must be 8 or 4\n"); return RL_EXIT_USAGE; }
        } else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else if (!strcmp(a, "--force")) force = 1;
        else if (a[0] == '-') { rl_cli_unknown_flag(a); return RL_EXIT_USAGE; }
        else if (!model) model = a;
        else { fprintf(stderr, "error: unexpected argument '%s'\n", a); return RL_EXIT_USAGE; }
    }
    if (!model) { fprintf(stderr, "usage: rabbitllm quantize MODEL_DIR [--bits 8|4] [--out DIR] [--force]\n"); return RL_EXIT_USAGE; }
    const char *dir_in = rl_hub_model_dir(model);
    if (!dir_in) return rl_cli_fail(NULL);
    char dir[PATH_MAX];
    if (out) snprintf(dir, sizeof dir, "%s", out);
    else if (rl_qcache_default_dir(dir_in, bits, dir, sizeof dir)) return rl_cli_fail(NULL);
    int fr = force ? 0 : rl_qcache_fresh(dir_in, bits, dir);
    if (fr < 0) return rl_cli_fail(NULL);
    if (fr) {
        fprintf(stderr, "%s is up to date\n", dir);
        printf("%s\n", dir);
        return 0;
    }
    double t0 = rl_now_s();
    rl_qcache_stats st;
    rl_progress pg;   /* bytes, rate, ETA on a TTY */
    rl_progress_begin(&pg, "quantizing", 0);
    rl_qcache_set_progress(rl_progress_cb, &pg);
    int qrc = rl_qcache_build(dir_in, bits, dir, &st);
    rl_qcache_set_progress(NULL, NULL);
    rl_progress_end(&pg);
    if (qrc) return rl_cli_fail(NULL);
    fprintf(stderr, "quantized %d tensors to %d bits (%d copied as they were): %.1f MB -> %.1f MB in %.1f s\n",
            st.n_quantized, bits, st.n_copied, st.src_bytes / 1e6, st.out_bytes / 1e6, rl_now_s() - t0);
    printf("%s\n", dir);
    return 0;
}
