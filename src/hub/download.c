/* Downloads a model from the Hugging Face hub into the huggingface_hub cache layout (hub.h):
 * the file list from the API, each wanted file into blobs/<etag> through <etag>.incomplete
 * (resumed with HTTP Range, verified by size and for LFS files by sha256, renamed only when
 * complete), then snapshots/<commit>/<file> symlinks and refs/<revision>. libcurl. */
#include "hub/hub.h"
#include "hub/hub_parse.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 4096


typedef struct {
    const rl_hub_download_opts *o;
    char endpoint[1024], repo_dir[PATH_CAP], locks_dir[PATH_CAP];
    const char *repo, *rev;
    char *token;
    struct curl_slist *auth;
} ctx;

/* ---- small helpers ---- */

static int mkdirs(const char *path) {
    char p[PATH_CAP];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return rl_err("%s: path too long", path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return rl_err("%s: cannot create directory: %s", p, strerror(errno));
            if (!(*s = c)) break;
        }
    }
    return 0;
}

static int parent_dirs(const char *file) {
    char p[PATH_CAP];
    if (snprintf(p, sizeof p, "%s", file) >= (int)sizeof p) return rl_err("%s: path too long", file);
    char *s = strrchr(p, '/');
    if (!s || s == p) return 0;
    *s = 0;
    return mkdirs(p);
}

/* Percent-encodes s into out; '/' kept when keep_slash. */
static int quote(char *out, size_t cap, const char *s, int keep_slash) {
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (n + 4 >= cap) return rl_err("hub: name too long: %s", s);
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) out[n++] = (char)c;
        else n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = 0;
    return 0;
}


static const char *const DEFAULT_FILES[] = {
    "config.json", "generation_config.json", "tokenizer*", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "chat_template*", "*.safetensors", "*.safetensors.index.json"};

int rl_hub_wanted(const char *name, const char *const *include, int n_include) {
    for (size_t i = 0; i < sizeof DEFAULT_FILES / sizeof DEFAULT_FILES[0]; i++)
        if (!fnmatch(DEFAULT_FILES[i], name, FNM_PATHNAME)) return 1;
    for (int i = 0; i < n_include; i++)
        if (!fnmatch(include[i], name, 0)) return 1;
    return 0;
}

int rl_hub_wanted_in(const char *name, const char *const *names, int n, const char *const *include, int n_include) {
    for (int i = 0; i < n_include; i++)
        if (!fnmatch(include[i], name, 0)) return 1; /* asked for by name: always */
    if (!rl_hub_wanted(name, NULL, 0)) return 0;
    /* Mistral's repos ship the weights twice: consolidated*.safetensors (their own format, which
     * the model's config.json does not describe) beside the HF shards or model.safetensors */
    if (!fnmatch("consolidated*.safetensors", name, FNM_PATHNAME))
        for (int i = 0; i < n; i++)
            if (!fnmatch("model*.safetensors", names[i], FNM_PATHNAME) || !fnmatch("*.safetensors.index.json", names[i], FNM_PATHNAME))
                return 0;
    return 1;
}

/* ---- curl plumbing ---- */


static size_t on_header(char *buf, size_t sz, size_t nm, void *ud) {
    rl_hub_header_line(ud, buf, sz * nm);
    return sz * nm;
}

static CURL *easy(ctx *c, const char *url, rl_hub_hdrs *h) {
    CURL *cu = curl_easy_init();
    if (!cu) { rl_err("hub: curl_easy_init failed"); return NULL; }
    memset(h, 0, sizeof *h);
    h->linked_size = h->content_length = -1;
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "rabbitllm/1 (huggingface_hub-compatible)");
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, (long)(c->o->low_speed_time > 0 ? c->o->low_speed_time : 30));
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (c->auth) curl_easy_setopt(cu, CURLOPT_HTTPHEADER, c->auth); /* curl keeps it off other hosts on redirects */
    return cu;
}

/* The error for an HTTP status: gated / bad token, missing repo / revision / file. Returns -1. */
static int http_error(ctx *c, long st, const rl_hub_hdrs *h, const char *file) {
    const char *msg = h->err_msg[0] ? h->err_msg : NULL;
    char what[512];
    if (file) snprintf(what, sizeof what, "%s (file %s, revision %s)", c->repo, file, c->rev);
    else snprintf(what, sizeof what, "%s (revision %s)", c->repo, c->rev);
    if (st == 401)
        return rl_err_c(RL_EC_NET, "401 Unauthorized for %s: the repo is gated or private, or does not exist%s%s%s; %s", what,
                      msg ? " (" : "", msg ? msg : "", msg ? ")" : "",
                      c->token ? "the token (HF_TOKEN or the token file) was refused: check it"
                               : "no token given: set HF_TOKEN or write one to $HF_HOME/token");
    if (st == 403)
        return rl_err_c(RL_EC_NET, "403 Forbidden for %s: access not granted%s%s%s (a gated repo: request access on its hub page with the "
                      "token's account; or the token lacks read permission)", what, msg ? " (" : "", msg ? msg : "", msg ? ")" : "");
    if (st == 404) {
        if (!strcasecmp(h->err_code, "RevisionNotFound")) return rl_err_c(RL_EC_NET, "404: revision '%s' not found in %s", c->rev, c->repo);
        if (!strcasecmp(h->err_code, "EntryNotFound") || file) return rl_err_c(RL_EC_NET, "404: file not found: %s", what);
        return rl_err_c(RL_EC_NET, "404: repository %s not found (check the name, or the revision '%s')", c->repo, c->rev);
    }
    return rl_err_c(RL_EC_NET, "HTTP %ld for %s%s%s%s", st, what, msg ? ": " : "", msg ? msg : "", "");
}

static int net_error(const char *url, CURLcode rc, const char *eb) {
    return rl_err_c(RL_EC_NET, "cannot fetch %s: %s (check the network, or HF_ENDPOINT; models already in the cache run "
                    "without it)", url, eb && *eb ? eb : curl_easy_strerror(rc));
}

typedef struct { char *p; size_t n, cap; } membuf;

static size_t to_mem(char *d, size_t sz, size_t nm, void *ud) {
    membuf *m = ud;
    size_t n = sz * nm;
    if (m->n + n + 1 > (64u << 20)) return 0;         /* a rl_hub_listing is small; refuse runaway bodies */
    if (m->n + n + 1 > m->cap) {
        size_t cap = (m->n + n + 1) * 2;
        char *p = realloc(m->p, cap);
        if (!p) return 0;
        m->p = p; m->cap = cap;
    }
    memcpy(m->p + m->n, d, n);
    m->n += n;
    m->p[m->n] = 0;
    return n;
}

/* ---- the file list ---- */

static int list_files(ctx *c, rl_hub_listing *out) {
    char qrev[512], url[2048], eb[CURL_ERROR_SIZE] = "";
    if (quote(qrev, sizeof qrev, c->rev, 0)) return -1;
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", c->endpoint, c->repo, qrev);
    rl_hub_hdrs h;
    membuf m = {0};
    CURL *cu = easy(c, url, &h);
    if (!cu) return -1;
    curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(cu, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, to_mem);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, eb);
    CURLcode rc = curl_easy_perform(cu);
    long st = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(cu);
    int ret = -1;
    if (rc != CURLE_OK) net_error(url, rc, eb);
    else if (st != 200) http_error(c, st, &h, NULL);
    else ret = rl_hub_listing_parse(m.p ? m.p : "", m.n, url, out);
    free(m.p);
    return ret;
}

/* ---- one file ---- */

typedef struct { FILE *f; ctx *c; const char *name; uint64_t have, total; int werr; } sink;

static size_t to_file(char *d, size_t sz, size_t nm, void *ud) {
    sink *s = ud;
    size_t n = sz * nm;
    if (fwrite(d, 1, n, s->f) != n) { s->werr = errno ? errno : EIO; return 0; }
    s->have += n;
    if (s->c->o->progress) s->c->o->progress(s->c->o->progress_ud, RL_HUB_EV_BYTES, s->name, s->have, s->total);
    return n;
}

/* HEAD on the resolve URL, following only relative redirects (as huggingface_hub does): the
 * etag (X-Linked-Etag for LFS files, else ETag), the size and the commit. */
static int file_meta(ctx *c, const char *url0, const char *name, char *etag, size_t ecap, long long *size, int *lfs) {
    char url[4096], eb[CURL_ERROR_SIZE];
    snprintf(url, sizeof url, "%s", url0);
    for (int hop = 0; hop < 6; hop++) {
        rl_hub_hdrs h;
        CURL *cu = easy(c, url, &h);
        if (!cu) return -1;
        eb[0] = 0;
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, eb);
        CURLcode rc = curl_easy_perform(cu);
        long st = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_cleanup(cu);
        if (rc != CURLE_OK) return net_error(url, rc, eb);
        if (st >= 400 || st < 200) return http_error(c, st, &h, name);
        if (st >= 300 && h.location[0] == '/') {
            const char *host_end = strstr(c->endpoint, "://");
            host_end = host_end ? strchr(host_end + 3, '/') : NULL;
            int hl = host_end ? (int)(host_end - c->endpoint) : (int)strlen(c->endpoint);
            snprintf(url, sizeof url, "%.*s%s", hl, c->endpoint, h.location);
            continue;
        }
        const char *e = h.linked_etag[0] ? h.linked_etag : h.etag;
        if (!*e) return rl_err_c(RL_EC_NET, "%s: the hub sent no ETag for %s", url0, name);
        if (strchr(e, '/') || e[0] == '.' || strlen(e) >= ecap) return rl_err_c(RL_EC_NET, "%s: unusable ETag '%s'", url0, e);
        snprintf(etag, ecap, "%s", e);
        *lfs = h.linked_etag[0] != 0;
        *size = h.linked_size >= 0 ? h.linked_size : (st < 300 ? h.content_length : -1);
        return 0;
    }
    return rl_err_c(RL_EC_NET, "%s: too many redirects", url0);
}

static int is_sha256(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n])) return 0;
    return n == 64;
}

static int transient(CURLcode rc) {
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_COULDNT_CONNECT;
}

/* Transfers url into inc (appending from its current size, Range), retrying broken transfers. */
static int fetch_blob(ctx *c, const char *url, const char *name, const char *inc, long long size) {
    int retries = c->o->max_retries == 0 ? 3 : c->o->max_retries < 0 ? 0 : c->o->max_retries;
    char eb[CURL_ERROR_SIZE];
    for (int attempt = 0;; attempt++) {
        struct stat st;
        uint64_t have = stat(inc, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (size >= 0 && have > (uint64_t)size) { if (truncate(inc, 0)) return rl_err("%s: %s", inc, strerror(errno)); have = 0; }
        if (size >= 0 && have == (uint64_t)size) return 0;   /* already all there (an earlier run) */
        FILE *f = fopen(inc, "ab");
        if (!f) return rl_err("%s: cannot open: %s", inc, strerror(errno));
        sink s = {f, c, name, have, size >= 0 ? (uint64_t)size : 0, 0};
        rl_hub_hdrs h;
        CURL *cu = easy(c, url, &h);
        if (!cu) { fclose(f); return -1; }
        eb[0] = 0;
        curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(cu, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(cu, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, to_file);
        curl_easy_setopt(cu, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, eb);
        if (have) curl_easy_setopt(cu, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
        CURLcode rc = curl_easy_perform(cu);
        long code = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(cu);
        int cerr = fclose(f);
        if (s.werr || cerr) return rl_err("%s: write failed: %s", inc, strerror(s.werr ? s.werr : errno));
        if (rc == CURLE_OK) return 0;
        if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && code == 416)) {
            if (truncate(inc, 0)) return rl_err("%s: %s", inc, strerror(errno));   /* no resume: start over */
            if (attempt < retries + 1) continue;
        }
        if (rc == CURLE_HTTP_RETURNED_ERROR) return http_error(c, code, &h, name);
        if (transient(rc) && attempt < retries) {
            if (c->o->progress) c->o->progress(c->o->progress_ud, RL_HUB_EV_RETRY, name, s.have, s.total);
            struct timespec ts = {0, 300000000L * (attempt + 1)};
            nanosleep(&ts, NULL);
            continue;
        }
        if (size >= 0)
            return rl_err_c(RL_EC_NET, "download of %s interrupted after %llu of %lld bytes (%s); run the same command again to resume",
                          name, (unsigned long long)s.have, size, eb[0] ? eb : curl_easy_strerror(rc));
        return rl_err_c(RL_EC_NET, "download of %s failed after %llu bytes (%s); run the same command again to resume", name,
                      (unsigned long long)s.have, eb[0] ? eb : curl_easy_strerror(rc));
    }
}

/* snapshots/<commit>/<name> -> ../../blobs/<etag> (one more ../ per directory in name). */
static int link_snapshot(ctx *c, const char *commit, const char *name, const char *etag) {
    char ptr[PATH_CAP], target[PATH_CAP];
    if (snprintf(ptr, sizeof ptr, "%s/snapshots/%s/%s", c->repo_dir, commit, name) >= (int)sizeof ptr)
        return rl_err("%s: path too long", name);
    size_t n = 0;
    for (const char *p = name; *p; p++)
        if (*p == '/') n += (size_t)snprintf(target + n, sizeof target - n, "../");
    snprintf(target + n, sizeof target - n, "../../blobs/%s", etag);
    if (parent_dirs(ptr)) return -1;
    struct stat st;
    if (lstat(ptr, &st) == 0) {
        char cur[PATH_CAP];
        ssize_t l = readlink(ptr, cur, sizeof cur - 1);
        if (l >= 0) { cur[l] = 0; if (!strcmp(cur, target)) return 0; }
        if (unlink(ptr)) return rl_err("%s: %s", ptr, strerror(errno));
    }
    if (symlink(target, ptr)) return rl_err("%s: cannot create the symlink: %s", ptr, strerror(errno));
    return 0;
}

static int download_one(ctx *c, const char *commit, const char *name) {
    char qname[2048], url[4096], etag[256], blob[PATH_CAP], inc[PATH_CAP + 16], lock[PATH_CAP];
    long long size = -1;
    int lfs = 0, ret = -1, lfd = -1;
    if (quote(qname, sizeof qname, name, 1)) return -1;
    if (snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", c->endpoint, c->repo, commit, qname) >= (int)sizeof url)
        return rl_err("%s: URL too long", name);
    if (file_meta(c, url, name, etag, sizeof etag, &size, &lfs)) return -1;
    if (snprintf(blob, sizeof blob, "%s/blobs/%s", c->repo_dir, etag) >= (int)sizeof blob ||
        snprintf(inc, sizeof inc, "%s.incomplete", blob) >= (int)sizeof inc ||
        snprintf(lock, sizeof lock, "%s/%s.lock", c->locks_dir, etag) >= (int)sizeof lock)
        return rl_err("%s: cache path too long", name);
    if (mkdirs(c->locks_dir) || parent_dirs(blob)) return -1;
    if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0 || flock(lfd, LOCK_EX)) {
        rl_err("%s: cannot lock: %s", lock, strerror(errno));
        if (lfd >= 0) close(lfd);
        return -1;
    }
    struct stat st;
    if (stat(blob, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size)) {
        if (c->o->progress) c->o->progress(c->o->progress_ud, RL_HUB_EV_CACHED, name, (uint64_t)st.st_size, (uint64_t)st.st_size);
    } else {
        if (c->o->progress) c->o->progress(c->o->progress_ud, RL_HUB_EV_START, name, 0, size >= 0 ? (uint64_t)size : 0);
        if (fetch_blob(c, url, name, inc, size)) goto done;
        if (stat(inc, &st)) { rl_err("%s: %s", inc, strerror(errno)); goto done; }
        if (size >= 0 && st.st_size != size) {
            unlink(inc);
            rl_err_c(RL_EC_NET, "%s: size mismatch (got %lld bytes, the hub says %lld); the partial file was removed, run again",
                   name, (long long)st.st_size, size);
            goto done;
        }
        if (lfs && is_sha256(etag)) {
            char hex[65];
            if (rl_hub_sha256_file(inc, hex)) goto done;
            if (strcasecmp(hex, etag)) {
                unlink(inc);
                rl_err_c(RL_EC_NET, "%s: sha256 mismatch (got %s, the hub says %s); the corrupt download was removed", name, hex, etag);
                goto done;
            }
        }
        if (rl_fsync_file(inc)) goto done;
        if (rename(inc, blob)) { rl_err("%s: cannot rename to %s: %s", inc, blob, strerror(errno)); goto done; }
        rl_fsync_parent(blob);
        if (c->o->progress) c->o->progress(c->o->progress_ud, RL_HUB_EV_DONE, name, (uint64_t)st.st_size, (uint64_t)st.st_size);
    }
    ret = link_snapshot(c, commit, name, etag);
done:
    flock(lfd, LOCK_UN);
    close(lfd);
    return ret;
}

int rl_hub_download(const rl_hub_download_opts *o, char **snapshot_dir) {
    *snapshot_dir = NULL;
    char repo[256], rev[256], id[600];
    const char *want_rev = o->revision && *o->revision ? o->revision : "main";
    snprintf(id, sizeof id, "%s@%s", o->repo ? o->repo : "", want_rev);
    if (!o->repo || !rl_hub_parse_id(id, repo, sizeof repo, rev, sizeof rev) || strcmp(rev, want_rev))
        return rl_err("'%s' is not a hub repo id of the form org/name (with a valid revision)", o->repo ? o->repo : "");
    if (rl_hub_offline()) {                            /* never the network: only what the cache holds */
        if (!(*snapshot_dir = rl_hub_cached_snapshot(repo, rev, repo))) return -1;
        return 0;
    }
    ctx c = {.o = o, .repo = repo, .rev = rev};
    char cache[PATH_CAP];
    rl_hub_endpoint(c.endpoint, sizeof c.endpoint);
    if (rl_hub_repo_dir(repo, c.repo_dir, sizeof c.repo_dir) || rl_hub_cache_dir(cache, sizeof cache)) return -1;
    const char *folder = strrchr(c.repo_dir, '/') + 1;
    if (snprintf(c.locks_dir, sizeof c.locks_dir, "%s/.locks/%s", cache, folder) >= (int)sizeof c.locks_dir)
        return rl_err("%s: path too long", cache);
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) return rl_err("hub: curl_global_init failed");
    int ret = -1;
    rl_hub_listing l = {0};
    c.token = rl_hub_token();
    if (c.token) {
        char h[1200];
        snprintf(h, sizeof h, "Authorization: Bearer %s", c.token);
        if (!(c.auth = curl_slist_append(NULL, h))) { rl_err("out of memory"); goto out; }
    }
    if (list_files(&c, &l)) goto out;
    int n_want = 0;
    const char *const *names = (const char *const *)l.names;
    for (int i = 0; i < l.n; i++) n_want += rl_hub_wanted_in(l.names[i], names, l.n, o->include, o->n_include);
    if (!n_want) { rl_err("%s at %s (commit %s) has no files to download (no config.json / safetensors / tokenizer; see --include)", repo, rev, l.commit); goto out; }
    for (int i = 0; i < l.n; i++)
        if (rl_hub_wanted_in(l.names[i], names, l.n, o->include, o->n_include) && download_one(&c, l.commit, l.names[i])) goto out;
    char snap[PATH_CAP + 128], ref[PATH_CAP + 300];
    if (snprintf(snap, sizeof snap, "%s/snapshots/%s", c.repo_dir, l.commit) >= (int)sizeof snap) { rl_err("snapshot path too long"); goto out; }
    if (strcmp(rev, l.commit)) {                      /* refs/<rev> last: the id resolves only once all is there */
        if (snprintf(ref, sizeof ref, "%s/refs/%s", c.repo_dir, rev) >= (int)sizeof ref) { rl_err("refs path too long"); goto out; }
        if (parent_dirs(ref) || rl_write_file_atomic(ref, l.commit, strlen(l.commit))) goto out;
    }
    if (!(*snapshot_dir = strdup(snap))) { rl_err("out of memory"); goto out; }
    ret = 0;
out:
    rl_hub_listing_free(&l);
    curl_slist_free_all(c.auth);
    if (c.token) { memset(c.token, 0, strlen(c.token)); free(c.token); }
    curl_global_cleanup();
    return ret;
}
