/* Fuzz target: hub answers: the input's lines as response header lines (status lines, etag,
 * location redirects, x-error-*, sizes) and the input as the JSON file listing of the API. */
#include "fuzz.h"
#include "hub/hub_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rl_hub_hdrs h;
    rl_hub_hdrs_reset(&h);
    for (size_t i = 0; i < size;) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t e = nl ? (size_t)(nl - data) + 1 : size;
        rl_hub_header_line(&h, (const char *)data + i, e - i);
        i = e;
    }
    rl_hub_listing l;
    if (rl_hub_listing_parse((const char *)data, size, "https://hub/api", &l) == 0) rl_hub_listing_free(&l);
    return 0;
}
