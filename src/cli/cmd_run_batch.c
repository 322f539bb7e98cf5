/* `run --ids-file FILE` / `run --prompts FILE [--parallel N]`: many prompts generated together,
 * N sequences per sweep (one read of the weights serves them all). Output in input order: a
 * line of ids per prompt, or a JSON line {"prompt", "text"} per text prompt. */
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "cli/profile.h"
#include "cli/draft.h"
#include "gen/spec_tree.h"
#include "gen/textgen.h"
#include "gen/batch.h"
#include "gen/detok_stream.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **lines;            /* text prompts (NULL for ids) */
    int32_t **ids;
    int *n_ids;
    int n, cap;
} prompt_list;

static void list_free(prompt_list *L) {
    for (int i = 0; i < L->n; i++) { if (L->lines) free(L->lines[i]); free(L->ids[i]); }
    free(L->lines); free(L->ids); free(L->n_ids);
}

/* Reads the non-empty lines of a file. */
static int read_lines(const char *path, char ***out, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "error: %s: cannot open: %s\n", path, strerror(errno)); return -1; }
    char *line = NULL, **v = NULL;
    size_t cap = 0;
    ssize_t len;
    int k = 0, vc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (k == vc) {
            char **nv = realloc(v, (size_t)(vc = vc ? vc * 2 : 16) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[k++] = strdup(line);
    }
    free(line);
    fclose(f);
    *out = v; *n = k;
    return 0;
}

static int run_group(rl_textgen *g, rl_model *dm, const rl_cli_opts *o, prompt_list *L, int first, int n, int32_t **outs,
                     int *n_outs, rl_gen_stats *tot) {
    rl_batch_opts bo = {.max_new = o->n_new, .sampling = o->sampling, .ignore_eos = o->ignore_eos,
                        .stop_ids = g ? g->stop : NULL, .n_stop = g ? g->n_stop : 0,
                        .draft_model = dm, .draft_tokens = o->draft_tokens, .draft_fixed = o->draft_fixed};
    rl_gen_stats st;
    if (rl_generate_batch(g->m, (const int32_t *const *)L->ids + first, L->n_ids + first, n, &bo, outs, n_outs, &st)) return -1;
    tot->n_prompt += st.n_prompt; tot->n_gen += st.n_gen; tot->sweeps += st.sweeps;
    tot->prefill_s += st.prefill_s; tot->decode_s += st.decode_s;
    tot->drafted += st.drafted; tot->accepted += st.accepted;
    tot->draft_s += st.draft_s; tot->target_s += st.target_s; tot->target_compute_s += st.target_compute_s;
    for (int i = 0; i < n; i++) {
        if (!L->lines) {
            for (int j = 0; j < n_outs[i]; j++) printf("%s%d", j ? "," : "", outs[i][j]);
            printf("\n");
            continue;
        }
        /* decode(prompt + generated) minus decode(prompt), as `run -p` streams it */
        rl_detok_stream *ds = rl_detok_stream_new(g->tok, L->ids[first + i], L->n_ids[first + i]);
        const char *piece;
        size_t pl;
        for (int k = 0; ds && k < n_outs[i]; k++) if (rl_detok_stream_push(ds, outs[i][k], &piece, &pl)) { rl_detok_stream_free(ds); ds = NULL; }
        if (!ds) return -1;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "prompt", L->lines[first + i]);
        cJSON_AddStringToObject(j, "text", rl_detok_stream_text(ds, NULL));
        char *js = cJSON_PrintUnformatted(j);
        printf("%s\n", js ? js : "{}");
        free(js);
        cJSON_Delete(j);
        rl_detok_stream_free(ds);
    }
    fflush(stdout);
    return 0;
}

int rl_run_batch(const rl_cli_opts *oin) {
    rl_cli_opts o = *oin;
    prompt_list L = {0};
    char **lines = NULL;
    int n = 0, rc = RL_EXIT_NOMEM;
    if (read_lines(o.ids_file ? o.ids_file : o.prompts, &lines, &n)) return RL_EXIT_IO;
    if (!n) { fprintf(stderr, "error: %s: no prompts\n", o.ids_file ? o.ids_file : o.prompts); free(lines); return RL_EXIT_INPUT; }
    int par = o.parallel > 0 ? o.parallel : 8;
    if (par > n) par = n;
    o.model.n_seq = par;
    L.ids = calloc((size_t)n, sizeof *L.ids);
    L.n_ids = calloc((size_t)n, sizeof *L.n_ids);
    L.n = n;
    if (o.prompts) L.lines = lines;
    rl_textgen g;
    memset(&g, 0, sizeof g);
    int opened = 0;
    rl_model *dm = NULL; /* --draft-model: opened first (the target's memory plan counts it), a sequence per slot */
    int32_t **outs = calloc((size_t)par, sizeof *outs);
    int *n_outs = calloc((size_t)par, sizeof *n_outs);
    if (!L.ids || !L.n_ids || !outs || !n_outs) { fprintf(stderr, "error: out of memory\n"); goto done; }
    if (o.draft_model && !(dm = rl_draft_open(o.draft_model, &o.model, o.draft_backend, par))) {
        rc = rl_cli_fail(NULL);
        goto done;
    }
    if (o.ids_file) {
        for (int i = 0; i < n; i++)
            if (rl_cli_parse_ids(lines[i], &L.ids[i], &L.n_ids[i])) {
                fprintf(stderr, "error: %s: line %d is not a comma-separated list of token ids\n", o.ids_file, i + 1);
                rc = RL_EXIT_INPUT;
                goto done;
            }
        if (!(g.m = rl_model_open(o.model_dir, &o.model))) { rc = rl_cli_fail(NULL); goto done; }
    } else {
        if (rl_textgen_open(&g, o.model_dir, &o.model, o.raw)) { rc = rl_cli_fail(NULL); goto done; }
        opened = 1;
        if (!o.raw && !g.tmpl) fprintf(stderr, "note: %s has no chat template; sending the text as is\n", o.model_dir);
        for (int i = 0; i < n; i++) {
            cJSON *msgs = cJSON_CreateArray(), *u = cJSON_CreateObject();
            if (o.system) {
                cJSON *s = cJSON_CreateObject();
                cJSON_AddStringToObject(s, "role", "system");
                cJSON_AddStringToObject(s, "content", o.system);
                cJSON_AddItemToArray(msgs, s);
            }
            cJSON_AddStringToObject(u, "role", "user");
            cJSON_AddStringToObject(u, "content", lines[i]);
            cJSON_AddItemToArray(msgs, u);
            int r = rl_textgen_prompt(&g, msgs, lines[i], &L.ids[i], &L.n_ids[i]);
            cJSON_Delete(msgs);
            if (r) { char what[32]; snprintf(what, sizeof what, "prompt %d", i + 1); rc = rl_cli_fail(what); goto done; }
        }
    }
    if (dm && rl_cli_check_draft(&o, g.m, dm)) { dm = NULL; rc = rl_cli_exit_code(); goto done; }
    for (int i = 0; i < par; i++) if (!(outs[i] = malloc(((size_t)o.n_new + 1) * sizeof **outs))) { fprintf(stderr, "error: out of memory\n"); goto done; }
    rl_gen_stats tot = {0};
    for (int first = 0; first < n; first += par) {
        int k = n - first < par ? n - first : par;
        if (run_group(&g, dm, &o, &L, first, k, outs, n_outs, &tot)) { rc = rl_cli_fail(NULL); goto done; }
    }
    fprintf(stderr, "%d prompts (%d in parallel): %d prompt tokens in %.3f s, %d generated in %.3f s (%.2f tok/s, %d decode sweeps",
            n, par, tot.n_prompt, tot.prefill_s, tot.n_gen, tot.decode_s, tot.decode_s > 0 ? tot.n_gen / tot.decode_s : 0.0, tot.sweeps);
    if (dm) rl_cli_draft_summary(stderr, tot.sweeps, tot.drafted, tot.accepted, 1, tot.draft_s, tot.target_s - tot.target_compute_s,
                                 tot.target_compute_s);
    fprintf(stderr, ")\n");
    if (o.profile) rl_profile_print(g.m, stderr);
    rc = 0;
done:
    rl_model_close(dm);
    if (opened) rl_textgen_close(&g);
    else rl_model_close(g.m);
    for (int i = 0; outs && i < par; i++) free(outs[i]);
    free(outs); free(n_outs);
    if (!L.lines) { for (int i = 0; i < n; i++) free(lines[i]); free(lines); }
    list_free(&L);
    return rc;
}
