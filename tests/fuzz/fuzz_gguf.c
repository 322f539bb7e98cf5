/* Fuzz target: GGUF header (metadata key/values, tensor infos) through rl_gguf_open on the bytes as
 * a whole file (followed by 4 MiB of zeros when the last byte is odd), plus the metadata -> model description step (rl_gguf_config). */
#include "fuzz.h"
#include "format/gguf.h"
#include "model/gguf_config.h"
#include "model/desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fz_file("model.gguf", data, size);
    /* seeds are the heads of real files: a sparse tail of zeros stands for the tensor data */
    if (size && (data[size - 1] & 1) && truncate(p, (off_t)size + (4 << 20)) != 0) return 0;
    rl_gguf *g = rl_gguf_open(p, -1);
    if (g) {
        int64_t v;
        rl_gguf_int(g, "general.alignment", &v);
        rl_gguf_strv(g, "general.architecture");
        rl_gguf_free(g);
        static rl_model_desc d;
        memset(&d, 0, sizeof d);
        rl_gguf_config(p, &d);
    }
    return 0;
}
