/* rabbitllm CLI entry point: dispatches to the subcommands declared in commands.h. */
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/exitcode.h"
#include "cli/profile.h"
#include "cli/trace.h"
#include "cli/progress.h"
#include "io/loader.h"
#include "rabbitllm.h"
#include "dist/dist.h"
#include <stdio.h>
#include <string.h>

static const struct { const char *name; int (*fn)(int, char **); const char *help; } CMDS[] = {
    {"run", cmd_run, "run MODEL_DIR (--ids 1,2,3 | -p TEXT) [-n N] [--temp T] ...  generate"},
    {"chat", cmd_chat, "chat MODEL_DIR                     interactive chat"},
    {"serve", cmd_serve, "serve MODEL_DIR [--host H] [--port P]  OpenAI-compatible HTTP server"},
    {"info", cmd_info, "info MODEL_DIR [--ctx N]           model description and memory plan"},
    {"tokenize", cmd_tokenize, "tokenize MODEL_DIR (TEXT | --jsonl)  text to token ids"},
    {"detokenize", cmd_detokenize, "detokenize MODEL_DIR --jsonl        token ids to text"},
    {"template", cmd_template, "template MODEL_DIR --jsonl          render the chat template"},
    {"synth", cmd_synth, "synth CONFIG_JSON OUT_DIR [--dtype bf16] [--shard-size 2G] [--seed N]"},
    {"bench", cmd_bench, "bench MODEL_DIR [-n 8] [--resident] [--draft-model D]  streaming (or resident) speed vs disk and memory; speculative vs plain"},
    {"quantize", cmd_quantize, "quantize MODEL_DIR [--bits 8|4] [--out DIR]  write the 8/4-bit layer cache (run ... --quant 8|4)"},
    {"bench-tokenizer", cmd_bench_tokenizer, "bench-tokenizer MODEL_DIR FILE      tokenizer speed"},
    {"download", cmd_download, "download org/name [--revision R] [--include PAT...]  fetch into the HF cache (MODEL_DIR may then be org/name[@rev])"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: rabbitllm COMMAND ...   (rabbitllm --version; man rabbitllm)\n");
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++) fprintf(f, "  %s\n", CMDS[i].help);
}

static int run_main(int argc, char **argv);

/* Under mpirun (make MPI=1) rank 0 runs the command; the other ranks serve its pipeline. */
int main(int argc, char **argv) {
    if (rl_dist_init(&argc, &argv)) { fprintf(stderr, "rabbitllm: %s\n", rl_last_error()); return 1; }
    rl_profile_install_hooks();
    rl_cli_trace_install_hook();
    if (rl_dist_rank() > 0) return rl_dist_worker();
    int rc = run_main(argc, argv);
    rl_dist_finalize();
    return rc;
}

static int run_main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--version")) { printf("rabbitllm %s\n", rl_version()); return 0; }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? RL_EXIT_USAGE : 0;
    }
    static rl_progress load_line;   /* the resident read at model open: bytes, rate, ETA on a TTY */
    rl_loader_set_progress(rl_progress_load_cb, &load_line);
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        if (!strcmp(argv[1], CMDS[i].name)) {
            rl_cli_command = CMDS[i].name;
            for (int j = 2; j < argc; j++)   /* CMD --help: from the flag table of help.c */
                if ((!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) && rl_cli_help(CMDS[i].name, stdout) == 0) return 0;
            return CMDS[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "rabbitllm: unknown command '%s'", argv[1]);
    const char *near = rl_cli_suggest_command(argv[1]);
    if (near) fprintf(stderr, "; did you mean '%s'?", near);
    fprintf(stderr, "\n");
    usage(stderr);
    return RL_EXIT_USAGE;
}
