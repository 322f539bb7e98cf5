/* Fuzz target: SentencePiece .model (protobuf) parse and model build, then an encode / decode of a
 * fixed text with whatever loaded. */
#include "fuzz.h"
#include "tokenizer/spm.h"
#include "tokenizer/spm_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_spm_proto m;
    memset(&m, 0, sizeof m);
    if (rl_spm_proto_parse(data, size, "tokenizer.model", &m) != 0) return 0;
    rl_spm *s = rl_spm_build("tokenizer.model", &m);
    rl_spm_proto_free(&m);
    if (!s) return 0;
    static const char text[] = "Hello  world, \xc3\xa9t\xc3\xa9 123\n";
    int32_t *ids = NULL;
    size_t n = 0;
    if (rl_spm_encode(s, text, sizeof text - 1, 1, &ids, &n) == 0) {
        char *t = NULL;
        size_t len = 0;
        if (rl_spm_decode(s, ids, n, 0, &t, &len) == 0) free(t);
    }
    free(ids);
    rl_spm_free(s);
    return 0;
}
