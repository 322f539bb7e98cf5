/* `rabbitllm download org/name[@rev] [--revision R] [--include PATTERN...] [--quiet]`: fetches a
 * model's config, tokenizer, chat template and safetensors files from the Hugging Face hub
 * ($HF_ENDPOINT, token from $HF_TOKEN or $HF_HOME/token) into the huggingface_hub cache
 * (src/hub/), progress on stderr, the snapshot directory on stdout. */
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/exitcode.h"
#include "cli/help.h"
#include "hub/hub.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct { int tty, quiet; rl_progress line; } progress;

static void on_progress(void *ud, rl_hub_event ev, const char *file, uint64_t done, uint64_t total) {
    progress *p = ud;
    if (p->quiet) return;
    double mb = (double)done / 1e6, tmb = (double)total / 1e6;
    switch (ev) {
    case RL_HUB_EV_CACHED: fprintf(stderr, "  %s: already in the cache (%.1f MB)\n", file, mb); break;
    case RL_HUB_EV_START:
        if (!p->tty) fprintf(stderr, "  %s: downloading (%.1f MB)\n", file, tmb);
        char label[160];
        snprintf(label, sizeof label, "  %s", file);
        rl_progress_begin(&p->line, label, done);
        break;
    case RL_HUB_EV_BYTES: rl_progress_update(&p->line, done, total); break;   /* bytes, rate, ETA on a TTY */
    case RL_HUB_EV_RETRY:
        rl_progress_end(&p->line);
        fprintf(stderr, "  %s: transfer broken at %.1f MB, resuming\n", file, mb);
        break;
    case RL_HUB_EV_DONE:
        rl_progress_end(&p->line);
        fprintf(stderr, "  %s: done (%.1f MB)\n", file, mb);
        break;
    }
}

static void usage(FILE *f) {
    fprintf(f, "usage: rabbitllm download org/name[@revision] [--revision R] [--include PATTERN...] [--quiet]\n"
               "  fetches config, tokenizer, chat template and safetensors files into the Hugging Face cache\n"
               "  (HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub); other files only with --include.\n"
               "  env: HF_ENDPOINT, HF_TOKEN (or $HF_HOME/token), HF_HUB_OFFLINE=1 (cache only)\n");
}

int cmd_download(int argc, char **argv) {
    const char *repo_arg = NULL, *revision = NULL;
    int quiet = 0, n_inc = 0;
    const char **inc = calloc((size_t)argc + 1, sizeof *inc);
    if (!inc) { fprintf(stderr, "error: out of memory\n"); return RL_EXIT_NOMEM; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(inc); return 0; }
        else if (!strcmp(a, "--revision") && i + 1 < argc) revision = argv[++i];
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = 1;
        else if (!strcmp(a, "--include")) {
            int k = 0;
            while (i + 1 < argc && argv[i + 1][0] != '-') inc[n_inc++] = argv[++i], k++;
            if (!k) { fprintf(stderr, "error: --include needs at least one pattern\n"); free(inc); return RL_EXIT_USAGE; }
        }
        else if (a[0] == '-') { rl_cli_unknown_flag(a); free(inc); return RL_EXIT_USAGE; }
        else if (!repo_arg) repo_arg = a;
        else { fprintf(stderr, "error: unexpected argument '%s'\n", a); free(inc); return RL_EXIT_USAGE; }
    }
    char repo[256], rev[256];
    if (!repo_arg || !rl_hub_parse_id(repo_arg, repo, sizeof repo, rev, sizeof rev)) {
        if (repo_arg) fprintf(stderr, "error: '%s' is not a hub repo id (org/name[@revision])\n", repo_arg);
        usage(stderr);
        free(inc);
        return RL_EXIT_USAGE;
    }
    if (strchr(repo_arg, '@')) {
        if (revision && strcmp(revision, rev)) { fprintf(stderr, "error: two revisions given: @%s and --revision %s\n", rev, revision); free(inc); return RL_EXIT_USAGE; }
        revision = rev;
    }
    progress p = {.tty = isatty(2), .quiet = quiet};
    rl_hub_download_opts o = {.repo = repo, .revision = revision, .include = inc, .n_include = n_inc,
                              .progress = on_progress, .progress_ud = &p};
    char ep[1024];
    if (!quiet && !rl_hub_offline())
        fprintf(stderr, "downloading %s (revision %s) from %s\n", repo, revision ? revision : "main", rl_hub_endpoint(ep, sizeof ep));
    char *snap = NULL;
    int rc = rl_hub_download(&o, &snap);
    free(inc);
    if (rc) return rl_cli_fail(NULL);
    printf("%s\n", snap);
    free(snap);
    return 0;
}
