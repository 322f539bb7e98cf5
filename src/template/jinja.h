/* Sandboxed Jinja2 engine (as transformers configures it: trim_blocks, lstrip_blocks, loop controls,
 * immutable sandbox). Parse once, render many times with a JSON context. */
#ifndef RL_JINJA_H
#define RL_JINJA_H
#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct rl_jinja rl_jinja;

/* Parses template source. NULL + rl_err ("template: line L, col C: ...") on a syntax error. */
rl_jinja *rl_jinja_parse(const char *src, size_t len);
/* Renders with the variables of ctx (a JSON object, or NULL). *out is malloc'd (caller frees), *len
 * optional. Returns 0, or -1 with rl_err: raise_exception's message verbatim, other runtime errors as
 * "template: line L, col C: ...", sandbox limits with a message saying which. */
int rl_jinja_render(const rl_jinja *t, const cJSON *ctx, char **out, size_t *len);
void rl_jinja_free(rl_jinja *t);

#endif
