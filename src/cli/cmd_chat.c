/* `rabbitllm chat MODEL_DIR`: an interactive conversation. Each turn re-renders the chat
 * template over the whole conversation and sends only the tokens after the longest prefix
 * already in the KV cache. /reset clears, /exit (or EOF) quits, Ctrl-C stops an answer. */
#include "cli/commands.h"
#include "cli/textgen.h"
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_interrupt;
static void on_sigint(int sig) { (void)sig; g_interrupt = 1; }

/* Reads one line (readline on a terminal, plain stdin otherwise); NULL at EOF. Caller frees. */
static char *read_line(int tty) {
    if (tty) return readline("> ");
    size_t cap = 0;
    char *line = NULL;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) { free(line); return NULL; }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    return line;
}

static void add_msg(cJSON *msgs, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

int cmd_chat(int argc, char **argv) {
    rl_cli_opts o;
    if (rl_cli_parse(argc, argv, &o)) return 2;
    if (o.n_new == 64) o.n_new = 512;
    rl_textgen g;
    if (rl_textgen_open(&g, &o)) { fprintf(stderr, "error: %s\n", rl_last_error()); return 1; }
    int tty = isatty(0) && isatty(1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    cJSON *msgs = cJSON_CreateArray();
    if (o.system) add_msg(msgs, "system", o.system);
    int cap = rl_model_ctx(g.m) + 1;
    char *raw = strdup("");                                 /* conversation text without a template */
    int rc = 0;
    if (tty) fprintf(stderr, "chat with %s — /reset to start over, /exit to quit, Ctrl-C stops an answer\n", o.model_dir);
    for (;;) {
        g_interrupt = 0;
        char *line = read_line(tty);
        if (!line) break;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) { free(line); break; }
        if (!strcmp(line, "/reset")) {
            cJSON_Delete(msgs);
            msgs = cJSON_CreateArray();
            if (o.system) add_msg(msgs, "system", o.system);
            rl_textgen_reset(&g);
            raw[0] = 0;
            fprintf(stderr, "[conversation reset]\n");
            free(line);
            continue;
        }
        if (!*line) { free(line); continue; }
        if (tty) add_history(line);
        add_msg(msgs, "user", line);
        size_t rl = strlen(raw), ll = strlen(line);
        char *nraw = realloc(raw, rl + ll + 2);
        if (nraw) { raw = nraw; memcpy(raw + rl, line, ll); raw[rl + ll] = 0; }
        free(line);

        int32_t *ids = NULL, *gen = NULL;
        int n = 0, n_gen = 0;
        char *answer = NULL;
        if (rl_textgen_prompt(&g, g.tmpl ? msgs : NULL, raw, &ids, &n)) {
            fprintf(stderr, "error: %s\n", rl_last_error());
            cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
            continue;
        }
        /* reuse the longest prefix already in the cache (at least one token must be evaluated) */
        int common = rl_textgen_reuse_prefix(&g, ids, n);
        if (n >= cap) { fprintf(stderr, "error: the conversation (%d tokens) exceeds the context (%d); /reset to start over\n", n, cap - 1); free(ids); continue; }
        if (rl_textgen_generate(&g, ids, n, ids + common, n - common, &g_interrupt, &answer, &gen, &n_gen)) {
            fprintf(stderr, "error: %s\n", rl_last_error());
            rl_textgen_reset(&g);
            free(ids);
            continue;
        }
        printf("\n");
        fflush(stdout);
        rl_textgen_commit(&g, ids, n, gen, n_gen);
        add_msg(msgs, "assistant", answer ? answer : "");
        rl = strlen(raw);
        size_t al = answer ? strlen(answer) : 0;
        nraw = realloc(raw, rl + al + 1);
        if (nraw) { raw = nraw; memcpy(raw + rl, answer ? answer : "", al); raw[rl + al] = 0; }
        free(answer); free(gen); free(ids);
    }
    free(raw);
    cJSON_Delete(msgs);
    rl_textgen_close(&g);
    return rc;
}
