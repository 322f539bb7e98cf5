/* Fuzz target: tokenizer.json load (rl_hf_from_json), then an encode / decode of a fixed text and
 * a few ids with whatever loaded. */
#include "fuzz.h"
#include "tokenizer/tok_hf.h"
#include "tokenizer/tok_internal.h"
#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j) return 0;
    rl_hf *h = rl_hf_from_json(j, "tokenizer.json");
    cJSON_Delete(j);
    if (!h) return 0;
    static const char text[] = "Hello, world! 123  \xc3\xa9t\xc3\xa9 <s>\n\tend";
    rl_ivec ids = {0};
    if (rl_hf_encode(h, text, sizeof text - 1, 1, &ids) == 0) {
        rl_buf out = {0};
        rl_hf_decode(h, ids.v, ids.n, 0, &out);
        rl_tkbuf_free(&out);
    }
    free(ids.v);
    size_t V = rl_hf_vocab_size(h);
    int32_t some[4] = {0, 1, (int32_t)(V ? V - 1 : 0), (int32_t)V};
    rl_buf out = {0};
    rl_hf_decode(h, some, 4, 1, &out);
    rl_tkbuf_free(&out);
    rl_hf_free(h);
    return 0;
}
