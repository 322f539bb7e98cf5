/* `rabbitllm serve MODEL_DIR [--host H] [--port P] [--model-name NAME] [flags]`: an
 * OpenAI-compatible HTTP server (src/server/) over one model. Generation flags set the defaults
 * of requests; -n caps requests that give no max_tokens (default: up to the context). */
#include "cli/commands.h"
#include "cli/clitext.h"
#include "cli/exitcode.h"
#include "cli/listen_check.h"
#include "server/server.h"
#include "server/slots.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (8u << 20)

int cmd_serve(int argc, char **argv) {
    rl_server_opts so = {.host = "127.0.0.1", .port = 8080, .max_body = MAX_BODY};
    int n_given = 0;
    char **rest = malloc(((size_t)argc + 1) * sizeof *rest);
    if (!rest) { fprintf(stderr, "error: out of memory\n"); return RL_EXIT_NOMEM; }
    int nr = 0;
    static const char *const STR_FLAGS[] = {"--host", "--model-name", "--chat-template", "--api-key", "--cors", NULL};
    static const char *const NUM_FLAGS[] = {"--port", "--queue", "--timeout", "--max-connections", "--sse-keepalive", "--batch-tokens", NULL};
    int batch_tokens = 0;
    for (int i = 0; i < argc; i++) {     /* take out the server's own flags, the rest are shared */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int is_str = 0, is_num = 0;
        for (int k = 0; i > 0 && STR_FLAGS[k]; k++) is_str |= !strcmp(a, STR_FLAGS[k]);
        for (int k = 0; i > 0 && NUM_FLAGS[k]; k++) is_num |= !strcmp(a, NUM_FLAGS[k]);
        if (is_str || is_num) {
            if (!v || !*v) { fprintf(stderr, "error: %s needs a value\n", a); free(rest); return RL_EXIT_USAGE; }
            if (!strcmp(a, "--host")) so.host = v;
            else if (!strcmp(a, "--model-name")) so.model_name = v;
            else if (!strcmp(a, "--chat-template")) so.chat_template = v;
            else if (!strcmp(a, "--api-key")) so.api_key = v;
            else if (!strcmp(a, "--cors")) so.cors = v;
            else {
                char *end;
                long p = strtol(v, &end, 10);
                long hi = !strcmp(a, "--port") ? 65535 : 1000000;
                long lo = !strcmp(a, "--port") ? 0 : 1;
                if (*end || p < lo || p > hi) { fprintf(stderr, "error: %s needs a number in [%ld, %ld], got '%s'\n", a, lo, hi, v); free(rest); return RL_EXIT_USAGE; }
                if (!strcmp(a, "--port")) so.port = (int)p;
                else if (!strcmp(a, "--queue")) so.queue = (int)p;
                else if (!strcmp(a, "--timeout")) so.timeout_s = (int)p;
                else if (!strcmp(a, "--max-connections")) so.max_connections = (int)p;
                else if (!strcmp(a, "--sse-keepalive")) so.keepalive_s = (int)p;
                else batch_tokens = (int)p;
            }
            i++;
            continue;
        }
        if (i > 0 && (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))) n_given = 1;
        if (i > 0 && !strcmp(a, "--seed")) so.seed_given = 1;
        rest[nr++] = argv[i];
    }
    rest[nr] = NULL;
    rl_cli_opts o;
    int prc = rl_cli_parse(nr, rest, &o);
    if (prc) { free(rest); return prc; }
    if (o.prompt || o.ids || o.raw || o.dump_logits) {
        fprintf(stderr, "error: serve takes no -p / --ids / --raw / --dump-logits (prompts come with the requests)\n");
        free(rest);
        return RL_EXIT_USAGE;
    }
    so.default_max_tokens = n_given ? o.n_new : 0;
    if (n_given && o.n_new < 1) { fprintf(stderr, "error: -n must be at least 1 for serve\n"); free(rest); return RL_EXIT_USAGE; }
    if (rl_cli_check_listen(so.host, so.port)) { free(rest); return rl_cli_fail(NULL); }   /* before the model loads */
    char name[512];
    if (!so.model_name) {                /* the basename of MODEL as given */
        size_t l = strlen(o.model_ref);
        while (l > 1 && o.model_ref[l - 1] == '/') l--;
        size_t b = l;
        while (b > 0 && o.model_ref[b - 1] != '/') b--;
        snprintf(name, sizeof name, "%.*s", (int)(l - b), o.model_ref + b);
        so.model_name = name;
    }

    /* SIGINT / SIGTERM are awaited by the server's main loop: block them before any thread starts */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!so.api_key) so.api_key = getenv("RABBITLLM_API_KEY");
    so.batch_tokens = batch_tokens;
    if (batch_tokens && (!o.model.max_batch || o.model.max_batch < batch_tokens)) o.model.max_batch = batch_tokens;
    char why[160] = "";
    so.parallel = o.parallel;
    if (so.parallel <= 0) {              /* what the memory plan allows, at most 16 */
        so.parallel = rl_serve_default_slots(o.model_dir, &o.model, 16, why, sizeof why);
        if (so.parallel <= 0) so.parallel = 1;   /* the plan fails: opening says why */
        so.parallel_why = why;
    }
    o.model.n_seq = so.parallel;
    so.model_dir = o.model_dir;
    so.sampling = o.sampling;
    so.ignore_eos = o.ignore_eos;
    so.draft = o.draft;
    so.draft_tokens = o.draft_tokens;    /* --draft-model: opened by the session, a sequence per slot */
    so.draft_fixed = o.draft_fixed;
    so.draft_model = o.draft_model;
    rl_session *g = rl_cli_session_open(&o);
    int rc = 0;
    if (!g) rc = rl_cli_exit_code();
    else {
        /* the server prints its own start failures: the address (resolve, listen) is network (5) */
        int sr = rl_server_run(g, &so, &stop);
        if (sr) rc = sr == -2 ? RL_EXIT_NET : rl_cli_exit_code();
        rl_session_close(g);
    }
    free(rest);
    return rc;
}
