/* `rabbitllm synth CONFIG_JSON OUT_DIR [--dtype bf16|f16|f32|fp8|gptq4] [--shard-size 2G] [--seed N]`. */
#include "cli/help.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "cli/progress.h"
#include "model/synth.h"
#include "model/desc.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cmd_synth(int argc, char **argv) {
    const char *cfg = NULL, *out = NULL;
    rl_synth_opts o = {.dtype = RL_DT_BF16, .shard_bytes = 2000000000ull};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dtype") && v) {
            i++;
            if (!strcasecmp(v, "bf16")) o.dtype = RL_DT_BF16;
            else if (!strcasecmp(v, "f16")) o.dtype = RL_DT_F16;
            else if (!strcasecmp(v, "f32")) o.dtype = RL_DT_F32;
            else if (!strcasecmp(v, "fp8")) o.quant = RL_QM_FP8;   /* FP8 block 128x128, F32 scales; the rest bf16 */
            else if (!strcasecmp(v, "gptq4")) o.quant = RL_QM_GPTQ; /* GPTQ v1 4-bit sym, group 128; the rest bf16 */
            else { fprintf(stderr, "error: --dtype must be bf16, f16, f32, fp8 or gptq4\n"); return RL_EXIT_USAGE; }
        } else if (!strcmp(a, "--shard-size") && v) {
            i++;
            if (rl_cli_parse_size(v, &o.shard_bytes) || !o.shard_bytes) { fprintf(stderr, "error: bad --shard-size '%s' (e.g. 2G, 500M)\n", v); return RL_EXIT_USAGE; }
        } else if (!strcmp(a, "--seed") && v) {
            i++;
            o.seed = strtoull(v, NULL, 10);
        } else if (a[0] == '-') { rl_cli_unknown_flag(a); return RL_EXIT_USAGE; }
        else if (!cfg) cfg = a;
        else if (!out) out = a;
        else { fprintf(stderr, "error: unexpected argument '%s'\n", a); return RL_EXIT_USAGE; }
    }
    if (!cfg || !out) { fprintf(stderr, "usage: rabbitllm synth CONFIG_JSON OUT_DIR [--dtype bf16|f16|f32|fp8|gptq4] [--shard-size 2G] [--seed N]\n"); return RL_EXIT_USAGE; }
    rl_progress pg;   /* bytes, rate, ETA on a TTY */
    rl_progress_begin(&pg, "writing", 0);
    o.progress = rl_progress_cb;
    o.progress_ud = &pg;
    int rc = rl_synth_write(cfg, out, &o);
    rl_progress_end(&pg);
    if (rc) return rl_cli_fail(NULL);
    fprintf(stderr, "wrote %s\n", out);
    return 0;
}
