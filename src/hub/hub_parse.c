/* Parsing of hub HTTP answers (see hub_parse.h). */
#include "hub/hub_parse.h"
#include "hub/hub.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void copy_val(char *dst, size_t cap, const char *v, size_t n, int etag) {
    if (etag) {                                       /* W/"abc" -> abc */
        if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    }
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

void rl_hub_header_line(rl_hub_hdrs *h, const char *buf, size_t n) {
    size_t k;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) {       /* a new response: forget the previous one's */
        memset(h, 0, sizeof *h);
        h->linked_size = h->content_length = -1;
        return;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return;
    k = (size_t)(colon - buf);
    const char *v = colon + 1, *e = buf + n;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) e--;
    size_t vn = (size_t)(e - v);
#define IS(name) (k == sizeof name - 1 && !strncasecmp(buf, name, k))
    if (IS("etag")) copy_val(h->etag, sizeof h->etag, v, vn, 1);
    else if (IS("x-linked-etag")) copy_val(h->linked_etag, sizeof h->linked_etag, v, vn, 1);
    else if (IS("x-repo-commit")) copy_val(h->commit, sizeof h->commit, v, vn, 0);
    else if (IS("location")) copy_val(h->location, sizeof h->location, v, vn, 0);
    else if (IS("x-error-code")) copy_val(h->err_code, sizeof h->err_code, v, vn, 0);
    else if (IS("x-error-message")) copy_val(h->err_msg, sizeof h->err_msg, v, vn, 0);
    else if (IS("x-linked-size") || IS("content-length")) {
        char tmp[32];
        copy_val(tmp, sizeof tmp, v, vn, 0);
        long long x = atoll(tmp);
        if (IS("x-linked-size")) h->linked_size = x;
        else h->content_length = x;
    }
#undef IS
}

void rl_hub_hdrs_reset(rl_hub_hdrs *h) {
    memset(h, 0, sizeof *h);
    h->linked_size = h->content_length = -1;
}

/* A repo file name is safe to place under snapshots/<commit>/: relative, no "." / ".." parts. */
int rl_hub_safe_name(const char *f) {
    if (!*f || f[0] == '/' || strchr(f, '\\')) return 0;
    for (const char *p = f; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += n + (e ? 1 : 0);
    }
    return 1;
}

void rl_hub_listing_free(rl_hub_listing *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

int rl_hub_listing_parse(const char *body, size_t len, const char *url, rl_hub_listing *out) {
    int ret = -1;
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) return rl_err("%s: the answer is not JSON", url);
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "sha"), *sib = cJSON_GetObjectItemCaseSensitive(j, "siblings"), *it;
    if (!cJSON_IsString(sha) || !rl_hub_is_commit(sha->valuestring) || !cJSON_IsArray(sib))
        rl_err("%s: the answer has no commit \"sha\" or no \"siblings\" list", url);
    else {
        snprintf(out->commit, sizeof out->commit, "%s", sha->valuestring);
        out->names = calloc((size_t)cJSON_GetArraySize(sib) + 1, sizeof *out->names);
        ret = out->names ? 0 : rl_err("out of memory");
        cJSON_ArrayForEach(it, sib) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "rfilename");
            if (ret || !cJSON_IsString(f)) continue;
            if (!rl_hub_safe_name(f->valuestring)) { ret = rl_err("%s: refusing unsafe file name '%s'", url, f->valuestring); break; }
            if (!(out->names[out->n] = strdup(f->valuestring))) ret = rl_err("out of memory");
            else out->n++;
        }
    }
    cJSON_Delete(j);
    if (ret) rl_hub_listing_free(out);
    return ret;
}
