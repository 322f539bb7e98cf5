/* CLI subcommands tokenize, detokenize and bench-tokenizer (text <-> ids through the tokenizer
 * facade; JSON-lines mode for tools, one output line per input line, flushed). */
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/help.h"
#include "rabbitllm.h"
#include "tokenizer/tok_jsonl.h"
#include "util/err.h"
#include "util/fileio.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static rl_tokenizer *load_or_die(const char *cmd, const char *dir) {
    rl_tokenizer *t = rl_tokenizer_open(dir);   /* a directory or org/name[@rev] */
    if (!t) rl_cli_fail(cmd);   /* the caller exits with rl_cli_exit_code() */
    return t;
}

/* Writes {"error": msg} so that the output stays line-aligned with the input. */
static void put_error_line(const char *cmd, size_t lineno, const char *msg) {
    char *b = NULL; size_t n = 0, cap = 0;
    fprintf(stderr, "%s: line %zu: %s\n", cmd, lineno, msg);
    if (!rl_jsonl_put_string(&b, &n, &cap, msg, strlen(msg))) printf("{\"error\": %.*s}\n", (int)n, b);
    free(b);
    fflush(stdout);
}

static int jsonl_loop(const char *cmd, rl_tokenizer *t, int encode) {
    char *line = NULL, *out = NULL;
    size_t lcap = 0, ocap = 0, lineno = 0;
    ssize_t len;
    int bad = 0;
    while ((len = getline(&line, &lcap, stdin)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len) continue;
        rl_jsonl_req r;
        if (rl_jsonl_parse(line, (size_t)len, &r)) { put_error_line(cmd, lineno, rl_errmsg()); bad = 1; continue; }
        size_t on = 0;
        int st = 0;
        if (encode) {
            int32_t *ids = NULL; int n = 0;
            if (!r.has_text) st = rl_err("missing \"text\"");
            else st = rl_tokenize(t, r.text, r.text_len, r.add_special != 0, &ids, &n);
            if (!st) {
                /* ids as text: at most 12 bytes each */
                size_t need = 16 + (size_t)n * 12;
                if (need > ocap) { char *o = realloc(out, need); if (!o) { st = rl_err("out of memory"); } else { out = o; ocap = need; } }
                if (!st) {
                    on = (size_t)sprintf(out, "{\"ids\": [");
                    for (int i = 0; i < n; i++) on += (size_t)sprintf(out + on, i ? ", %d" : "%d", ids[i]);
                    on += (size_t)sprintf(out + on, "]}\n");
                }
            }
            rl_release(ids);
        } else {
            char *text = NULL; size_t tl = 0;
            if (!r.has_ids) st = rl_err("missing \"ids\"");
            else if (r.n_ids > (size_t)INT32_MAX) st = rl_err("too many ids");
            else st = rl_detokenize(t, r.ids, (int)r.n_ids, r.skip_special > 0, &text, &tl);
            if (!st) {
                static const char pre[] = "{\"text\": ";
                if (ocap < sizeof pre) { char *o = realloc(out, 64); if (!o) st = rl_err("out of memory"); else { out = o; ocap = 64; } }
                if (!st) { memcpy(out, pre, sizeof pre - 1); on = sizeof pre - 1; }
                if (!st && rl_jsonl_put_string(&out, &on, &ocap, text, tl)) st = -1;
                if (!st && on + 3 > ocap) { char *o = realloc(out, on + 3); if (!o) st = rl_err("out of memory"); else { out = o; ocap = on + 3; } }
                if (!st) { memcpy(out + on, "}\n", 2); on += 2; }
            }
            rl_release(text);
        }
        rl_jsonl_req_free(&r);
        if (st) { put_error_line(cmd, lineno, rl_errmsg()); bad = 1; continue; }
        fwrite(out, 1, on, stdout);
        fflush(stdout);
    }
    free(line); free(out);
    return bad ? RL_EXIT_INPUT : 0;   /* each bad line has its {"error": ...} line */
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL, *text = NULL;
    int jsonl = 0, special = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (!strcmp(argv[i], "--no-special")) special = 0;
        else if (!strncmp(argv[i], "--", 2)) { rl_cli_unknown_flag(argv[i]); return RL_EXIT_USAGE; }
        else if (!dir) dir = argv[i];
        else if (!text) text = argv[i];
        else { fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[i]); return RL_EXIT_USAGE; }
    }
    if (!dir || (!jsonl && !text)) {
        fprintf(stderr, "usage: %s MODEL_DIR (TEXT [--no-special] | --jsonl)\n", argv[0]);
        return RL_EXIT_USAGE;
    }
    rl_tokenizer *t = load_or_die(argv[0], dir);
    if (!t) return rl_cli_exit_code();
    int rc = 0;
    if (jsonl) rc = jsonl_loop(argv[0], t, 1);
    else {
        int32_t *ids; int n;
        if (rl_tokenize(t, text, strlen(text), special, &ids, &n)) rc = rl_cli_fail(argv[0]);
        else {
            for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
            printf("\n");
            rl_release(ids);
        }
    }
    rl_tokenizer_close(t);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *dir = NULL, *list = NULL;
    int jsonl = 0, skip = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (!strcmp(argv[i], "--skip-special")) skip = 1;
        else if (!strncmp(argv[i], "--", 2)) { rl_cli_unknown_flag(argv[i]); return RL_EXIT_USAGE; }
        else if (!dir) dir = argv[i];
        else if (!list) list = argv[i];
        else { fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[i]); return RL_EXIT_USAGE; }
    }
    if (!dir || (!jsonl && !list)) {
        fprintf(stderr, "usage: %s MODEL_DIR (IDS [--skip-special] | --jsonl)   IDS: comma-separated\n", argv[0]);
        return RL_EXIT_USAGE;
    }
    rl_tokenizer *t = load_or_die(argv[0], dir);
    if (!t) return rl_cli_exit_code();
    int rc = 0;
    if (jsonl) rc = jsonl_loop(argv[0], t, 0);
    else {
        size_t cap = strlen(list) / 2 + 2, n = 0;
        int32_t *ids = malloc(cap * sizeof *ids);
        const char *p = list;
        while (ids && *p) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < -2147483647L || v > 2147483647L) { fprintf(stderr, "%s: bad id list '%s'\n", argv[0], list); rc = RL_EXIT_USAGE; break; }
            ids[n++] = (int32_t)v;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') { fprintf(stderr, "%s: bad id list '%s'\n", argv[0], list); rc = RL_EXIT_USAGE; break; }
        }
        char *text; size_t tl;
        if (!rc && ids && rl_detokenize(t, ids, (int)n, skip, &text, &tl)) rc = rl_cli_fail(argv[0]);
        else if (!rc && ids) { fwrite(text, 1, tl, stdout); printf("\n"); rl_release(text); }
        if (!ids) { fprintf(stderr, "%s: out of memory\n", argv[0]); rc = RL_EXIT_NOMEM; }
        free(ids);
    }
    rl_tokenizer_close(t);
    return rc;
}

int cmd_bench_tokenizer(int argc, char **argv) {
    int reps = 3;
    const char *pos[2] = {0};
    for (int i = 1, k = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || r < 1 || r > 1000000) { fprintf(stderr, "error: --repeat needs a number in [1, 1000000], got '%s'\n", argv[i]); return RL_EXIT_USAGE; }
            reps = (int)r;
        } else if (!strncmp(argv[i], "--", 2)) { rl_cli_unknown_flag(argv[i]); return RL_EXIT_USAGE; }
        else if (k < 2) pos[k++] = argv[i];
        else { fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]); return RL_EXIT_USAGE; }
    }
    if (!pos[1]) { fprintf(stderr, "usage: %s MODEL_DIR FILE [--repeat N]\n", argv[0]); return RL_EXIT_USAGE; }
    size_t len;
    char *txt = rl_read_file(pos[1], &len);
    if (!txt) return rl_cli_fail(argv[0]);
    double t0 = now();
    rl_tokenizer *t = load_or_die(argv[0], pos[0]);
    if (!t) { free(txt); return rl_cli_exit_code(); }
    double t1 = now();
    printf("load: %.3f s\n", t1 - t0);
    int rc = 0;
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        int32_t *ids; int n;
        double a = now();
        if (rl_tokenize(t, txt, len, 0, &ids, &n)) { rc = rl_cli_fail(argv[0]); break; }
        double s = now() - a;
        double b0 = now();
        char *back; size_t bl;
        int dst = rl_detokenize(t, ids, n, 0, &back, &bl);
        double ds = now() - b0;
        if (!dst) rl_release(back);
        rl_release(ids);
        printf("%s: %zu bytes -> %d tokens in %.3f s: %.2f MB/s, %.0f tokens/s (decode %.3f s)\n",
               r == 0 ? "encode cold" : "encode warm", len, n, s, len / s / 1e6, n / s, ds);
        if (r > 0 && s < best) best = s;
    }
    rl_tokenizer_close(t);
    free(txt);
    return rc;
}
