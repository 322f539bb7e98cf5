/* Fuzz target: the OpenAI request body -> parameters function of the server (rl_oai_parse) for
 * both endpoints, then the response builders with what was parsed. */
#include "fuzz.h"
#include "server/oai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_sampling def = rl_sampling_default();
    for (int kind = 0; kind < 2; kind++) {
        rl_oai_request r;
        memset(&r, 0, sizeof r);
        char err[256];
        const char *param = NULL;
        if (rl_oai_parse(kind ? RL_OAI_COMPLETION : RL_OAI_CHAT, (const char *)data, size, &def, &r, err, sizeof err,
                         &param) == 0) {
            rl_oai_choice c = {r.prompt ? r.prompt : "", "stop", NULL, NULL, NULL};
            char *s = rl_oai_response_json(kind ? RL_OAI_COMPLETION : RL_OAI_CHAT, "id", "m", 0, &c, 1, 1, 1);
            free(s);
        } else {
            char *s = rl_oai_error_json(err, "invalid_request_error", param, NULL);
            free(s);
        }
        rl_oai_request_free(&r);   /* the caller frees after a failure too (as server.c does) */
    }
    return 0;
}
