/* Fuzz target: safetensors header (rl_st_parse_fd on the bytes as a whole file, or followed by
 * 1 MiB of zeros when the last byte is odd) and the lookups a loader makes on the result. */
#include "fuzz.h"
#include "format/safetensors.h"
#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("st", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) { close(fd); return 0; }
    /* the input is mostly the header: a sparse tail of zeros stands for the tensor data */
    if (size && (data[size - 1] & 1) && ftruncate(fd, (off_t)size + (1 << 20)) != 0) { close(fd); return 0; }
    rl_st_header *h = rl_st_parse_fd(fd, "fuzz.safetensors");
    if (h) {
        rl_st_find(h, "model.embed_tokens.weight");
        rl_st_meta(h, "format");
        rl_st_free(h);
    }
    close(fd);
    return 0;
}
