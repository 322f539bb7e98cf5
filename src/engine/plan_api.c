/* rl_model_plan (include/rabbitllm.h): the engine's memory plan for a model as JSON text, for
 * users of the public API (the server's default slot count) that must not see engine internals. */
#include "engine/model.h"
#include "rabbitllm.h"
#include "util/err.h"
#include <cjson/cJSON.h>

char *rl_model_plan(const char *model_dir, const rl_model_opts *opts) {
    cJSON *p = rl_model_plan_json(model_dir, opts);
    if (!p) return NULL;
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!s) rl_err("out of memory");
    return s;
}
