/* `rabbitllm chat MODEL_DIR`: an interactive conversation. Each turn re-renders the chat
 * template over the whole conversation and sends only the tokens after the longest prefix
 * already in the KV cache. /reset clears, /exit (or EOF) quits, Ctrl-C stops an answer. */
#include "cli/commands.h"
#include "cli/clitext.h"
#include "cli/exitcode.h"
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

typedef struct { rl_chat_message *v; int n, cap; } msg_list;

static int add_msg(msg_list *L, const char *role, const char *content) {
    if (L->n == L->cap) {
        rl_chat_message *nv = realloc(L->v, (size_t)(L->cap = L->cap ? L->cap * 2 : 8) * sizeof *nv);
        if (!nv) return -1;
        L->v = nv;
    }
    char *c = strdup(content);
    if (!c) return -1;
    L->v[L->n++] = (rl_chat_message){role, c};
    return 0;
}

static void clear_msgs(msg_list *L, int keep) {
    while (L->n > keep) free((char *)L->v[--L->n].content);
}

/* the conversation text of a model without a template: the turns concatenated */
static char *raw_text(const msg_list *L, int from) {
    size_t len = 1;
    for (int i = from; i < L->n; i++) len += strlen(L->v[i].content);
    char *t = malloc(len), *p = t;
    for (int i = from; t && i < L->n; i++) { size_t l = strlen(L->v[i].content); memcpy(p, L->v[i].content, l); p += l; }
    if (t) *p = 0;
    return t;
}

int cmd_chat(int argc, char **argv) {
    rl_cli_opts o;
    int prc = rl_cli_parse(argc, argv, &o);
    if (prc) return prc;
    if (o.n_new == 64) o.n_new = 512;
    rl_session *s = rl_cli_session_open(&o);
    if (!s) return rl_cli_exit_code();
    int tty = isatty(0) && isatty(1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    int tmpl = rl_session_template(s) != NULL;
    msg_list msgs = {0};
    int code = RL_EXIT_OK;
    int n_sys = 0;                                   /* the system message stays on /reset */
    if (o.system && tmpl) { if (add_msg(&msgs, "system", o.system)) { fprintf(stderr, "error: out of memory\n"); rl_session_close(s); return RL_EXIT_NOMEM; } n_sys = 1; }
    rl_gen_params p = rl_cli_gen_params(&o);
    p.on_text = rl_cli_to_stdout;
    p.on_reasoning = rl_cli_reasoning_to_stderr;
    p.cancel = &g_interrupt;
    if (tty) fprintf(stderr, "chat with %s — /reset to start over, /exit to quit, Ctrl-C stops an answer\n", o.model_dir);
    for (;;) {
        g_interrupt = 0;
        char *line = read_line(tty);
        if (!line) break;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) { free(line); break; }
        if (!strcmp(line, "/reset")) {
            clear_msgs(&msgs, n_sys);
            rl_session_reset(s);
            fprintf(stderr, "[conversation reset]\n");
            free(line);
            continue;
        }
        if (!*line) { free(line); continue; }
        if (tty) add_history(line);
        int bad = add_msg(&msgs, "user", line);
        free(line);
        if (bad) { fprintf(stderr, "error: out of memory\n"); code = RL_EXIT_NOMEM; break; }
        char *answer = NULL, *raw = NULL;
        rl_gen_info in;
        int rc;
        if (tmpl) rc = rl_session_chat(s, msgs.v, msgs.n, &p, &answer, &in);
        else rc = (raw = raw_text(&msgs, 0)) ? rl_session_generate(s, raw, &p, &answer, &in) : -1;
        free(raw);
        if (rc) {
            fprintf(stderr, "error: %s%s\n", rl_last_error(), strstr(rl_last_error(), "context") ? "; /reset to start over" : "");
            clear_msgs(&msgs, msgs.n - 1);
            continue;
        }
        rl_cli_print_summary(stderr, &in);
        printf("\n");
        fflush(stdout);
        if (add_msg(&msgs, "assistant", answer ? answer : "")) { fprintf(stderr, "error: out of memory\n"); rl_release(answer); code = RL_EXIT_NOMEM; break; }
        rl_release(answer);
    }
    clear_msgs(&msgs, 0);
    free(msgs.v);
    rl_session_close(s);
    return code;
}
