/* Public Jinja API: owns the parsed template's arena; each render gets a fresh, capped arena. */
#include "template/jinja.h"
#include "template/jj_eval.h"
#include "template/jj_parser.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

struct rl_jinja { jj_arena a; jnode **body; int n; };

rl_jinja *rl_jinja_parse(const char *src, size_t len) {
    rl_jinja *t = calloc(1, sizeof *t);
    if (!t) { rl_err("template: out of memory"); return NULL; }
    jj_arena_init(&t->a, JJ_MAX_ARENA);
    if (jj_parse(&t->a, src, len, &t->body, &t->n)) { rl_jinja_free(t); return NULL; }
    return t;
}

int rl_jinja_render(const rl_jinja *t, const cJSON *ctx, char **out, size_t *len) {
    jj_arena A;
    jj_arena_init(&A, 0);
    jv *vars = ctx ? jv_from_json(&A, ctx) : NULL;
    if (ctx && (!vars || vars->k != JV_DICT)) {
        jj_arena_free(&A);
        return rl_err("template: render context must be a JSON object");
    }
    if (!vars) vars = jv_dict(&A, JV_DICT);
    A.cap = A.used + JJ_MAX_ARENA;
    jj_sb sb;
    jj_sb_init(&sb, &A, JJ_MAX_OUTPUT);
    int rc = jj_render_body(t->body, t->n, vars, &A, &sb);
    if (rc == 0) {
        *out = malloc(sb.n + 1);
        if (!*out) rc = rl_err("template: out of memory");
        else {
            memcpy(*out, jj_sb_str(&sb), sb.n + 1);
            if (len) *len = sb.n;
        }
    }
    jj_arena_free(&A);
    return rc;
}

void rl_jinja_free(rl_jinja *t) {
    if (!t) return;
    jj_arena_free(&t->a);
    free(t);
}
