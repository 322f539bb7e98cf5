/* Fuzz target: Jinja parse + render. The input is "template \0 context-JSON": the template is
 * parsed and rendered with the JSON as its variables; and also as a chat template rendering the
 * JSON's "messages" (with the rest as extra variables). */
#include "fuzz.h"
#include "template/jinja.h"
#include "template/chat_template.h"
#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t k;
    fz_split(data, size, 0, &k);
    cJSON *ctx = k < size ? cJSON_ParseWithLength((const char *)data + k + 1, size - k - 1) : NULL;
    rl_jinja *t = rl_jinja_parse((const char *)data, k);
    if (t) {
        char *out = NULL;
        size_t len = 0;
        if (rl_jinja_render(t, cJSON_IsObject(ctx) ? ctx : NULL, &out, &len) == 0) free(out);
        rl_jinja_free(t);
    }
    char *src = fz_str(data, k);
    rl_chat_template *ct = src ? rl_chat_template_from_string(src, NULL) : NULL;
    if (ct) {
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(ctx, "messages");
        cJSON *def = NULL;
        if (!cJSON_IsArray(msgs)) msgs = def = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
        char *out = NULL;
        if (rl_chat_template_render(ct, msgs, 1, cJSON_IsObject(ctx) ? ctx : NULL, &out) == 0) free(out);
        cJSON_Delete(def);
        rl_chat_template_free(ct);
    }
    free(src);
    cJSON_Delete(ctx);
    return 0;
}
