/* Parsing of hub HTTP answers, apart from the network code so it can be fuzzed: response
 * header lines (etag, commit, redirect location, error code / message, sizes) and the JSON file
 * listing of /api/models/<repo>/revision/<rev>. */
#ifndef RL_HUB_PARSE_H
#define RL_HUB_PARSE_H
#include <stddef.h>

/* Headers of the last response seen (reset at each status line, so after redirects: the final one). */
typedef struct {
    char etag[256], linked_etag[256], commit[64], location[2048], err_code[64], err_msg[512];
    long long linked_size, content_length;
} rl_hub_hdrs;

/* Takes one header line buf[0..n) (not NUL-terminated) into h; a status line resets h. */
void rl_hub_header_line(rl_hub_hdrs *h, const char *buf, size_t n);
/* Resets h for a new request. */
void rl_hub_hdrs_reset(rl_hub_hdrs *h);

/* 1 if a repo file name is safe to place under snapshots/<commit>/ (relative, no "." / ".." parts). */
int rl_hub_safe_name(const char *f);

typedef struct { char **names; int n; char commit[64]; } rl_hub_listing;
/* Parses the listing body[0..len) fetched from url (named in errors): "sha" (a commit) and
 * "siblings"[].rfilename, every name safe. 0, or -1 with rl_err (out is then empty). */
int rl_hub_listing_parse(const char *body, size_t len, const char *url, rl_hub_listing *out);
void rl_hub_listing_free(rl_hub_listing *l);
#endif
