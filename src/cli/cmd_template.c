/* CLI subcommand `template`: renders a model's chat template.
 *   rabbitllm template MODEL_DIR --jsonl   lines {"messages", "add_generation_prompt", "extra"} on stdin ->
 *                                          lines {"rendered": str} or {"rendered": null, "error": msg}
 *   rabbitllm template MODEL_DIR           one such JSON object (or a bare messages array) on stdin ->
 *                                          the rendered text on stdout */
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/help.h"
#include "rabbitllm.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
    fprintf(stderr, "usage: rabbitllm template MODEL_DIR [--jsonl]\n"
                    "  reads {\"messages\": [...], \"add_generation_prompt\": bool, \"extra\": {...}} from stdin\n");
}

/* Renders one request object; returns 0 and *out, or -1 with rl_err. */
static int render_req(const rl_chat_template *t, const cJSON *req, char **out) {
    const cJSON *msgs = req, *extra = NULL;
    int agp = 0;
    if (cJSON_IsObject(req)) {
        msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
        agp = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "add_generation_prompt"));
        extra = cJSON_GetObjectItemCaseSensitive(req, "extra");
    }
    if (!cJSON_IsArray(msgs)) return rl_err("request needs a \"messages\" array");
    char *mj = cJSON_PrintUnformatted(msgs), *ej = cJSON_IsObject(extra) ? cJSON_PrintUnformatted(extra) : NULL;
    int rc = !mj || (cJSON_IsObject(extra) && !ej) ? rl_err("out of memory")
                                                   : rl_chat_template_apply(t, mj, agp, ej, out);
    free(mj); free(ej);
    return rc;
}

static int run_jsonl(const rl_chat_template *t) {
    char *line = NULL; size_t cap = 0; ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        cJSON *req = cJSON_Parse(line), *res = cJSON_CreateObject();
        char *out = NULL;
        if (!req) rl_err("invalid JSON input line");
        if (req && render_req(t, req, &out) == 0) cJSON_AddStringToObject(res, "rendered", out);
        else { cJSON_AddNullToObject(res, "rendered"); cJSON_AddStringToObject(res, "error", rl_errmsg()); }
        char *s = cJSON_PrintUnformatted(res);
        if (s) { fputs(s, stdout); fputc('\n', stdout); fflush(stdout); free(s); }
        rl_release(out);
        cJSON_Delete(req);
        cJSON_Delete(res);
    }
    free(line);
    return 0;
}

static int run_once(const rl_chat_template *t) {
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    if (!buf) { fprintf(stderr, "error: template: out of memory\n"); return RL_EXIT_NOMEM; }
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += r;
        if (cap - len < 2) { char *nb = realloc(buf, cap *= 2); if (!nb) { free(buf); fprintf(stderr, "error: template: out of memory\n"); return RL_EXIT_NOMEM; } buf = nb; }
    }
    buf[len] = 0;
    cJSON *req = cJSON_Parse(buf);
    free(buf);
    char *out = NULL;
    int rc = 0;
    if (!req) { fprintf(stderr, "error: template: stdin is not valid JSON\n"); rc = RL_EXIT_INPUT; }
    else if (render_req(t, req, &out)) rc = rl_cli_fail("template");
    else fputs(out, stdout);
    rl_release(out);
    cJSON_Delete(req);
    return rc;
}

int cmd_template(int argc, char **argv) {
    const char *dir = NULL;
    int jsonl = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(); return 0; }
        else if (argv[i][0] == '-') { rl_cli_unknown_flag(argv[i]); return RL_EXIT_USAGE; }
        else if (!dir) dir = argv[i];
        else { fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]); return RL_EXIT_USAGE; }
    }
    if (!dir) { usage(); return RL_EXIT_USAGE; }
    rl_chat_template *t = rl_chat_template_open(dir);   /* a directory or org/name[@rev] */
    if (!t) return rl_cli_fail("template");
    int rc = jsonl ? run_jsonl(t) : run_once(t);
    rl_chat_template_close(t);
    return rc;
}
