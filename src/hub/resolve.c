/* Hugging Face cache layout and model references (hub.h): where the cache is, the token, and
 * resolving "org/name[@revision]" to snapshots/<commit> exactly as huggingface_hub lays it out.
 * Never touches the network. */
#include "hub/hub.h"
#include "util/err.h"
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int fit(int n, size_t cap, const char *what) {
    if (n < 0 || (size_t)n >= cap) return rl_err("hub: %s path too long", what);
    return 0;
}

int rl_hub_home_dir(char *out, size_t cap) {
    const char *v;
    if ((v = env("HF_HOME"))) return fit(snprintf(out, cap, "%s", v), cap, "HF_HOME");
    if ((v = env("XDG_CACHE_HOME"))) return fit(snprintf(out, cap, "%s/huggingface", v), cap, "XDG_CACHE_HOME");
    if (!(v = env("HOME"))) return rl_err("hub: none of HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME is set");
    return fit(snprintf(out, cap, "%s/.cache/huggingface", v), cap, "HOME");
}

int rl_hub_cache_dir(char *out, size_t cap) {
    const char *v;
    if ((v = env("HF_HUB_CACHE")) || (v = env("HUGGINGFACE_HUB_CACHE"))) return fit(snprintf(out, cap, "%s", v), cap, "HF_HUB_CACHE");
    char home[4096];
    if (rl_hub_home_dir(home, sizeof home)) return -1;
    return fit(snprintf(out, cap, "%s/hub", home), cap, "HF_HOME");
}

int rl_hub_repo_dir(const char *repo, char *out, size_t cap) {
    char cache[4096];
    if (rl_hub_cache_dir(cache, sizeof cache)) return -1;
    int n = snprintf(out, cap, "%s/models--", cache);
    if (fit(n, cap, "cache")) return -1;
    for (const char *p = repo; *p; p++) {           /* '/' -> "--" */
        if ((size_t)n + 3 >= cap) return rl_err("hub: cache path too long");
        if (*p == '/') { out[n++] = '-'; out[n++] = '-'; }
        else out[n++] = *p;
    }
    out[n] = 0;
    return 0;
}

char *rl_hub_token(void) {
    const char *v = env("HF_TOKEN");
    char path[4096], *tok = NULL;
    if (v) tok = strdup(v);
    else {
        if ((v = env("HF_TOKEN_PATH"))) { if (fit(snprintf(path, sizeof path, "%s", v), sizeof path, "HF_TOKEN_PATH")) return NULL; }
        else {
            char home[4096];
            if (rl_hub_home_dir(home, sizeof home) || fit(snprintf(path, sizeof path, "%s/token", home), sizeof path, "token")) return NULL;
        }
        FILE *f = fopen(path, "r");
        if (!f) return NULL;
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        tok = strdup(buf);
    }
    if (!tok) return NULL;
    char *s = tok, *e;                                 /* trim whitespace */
    while (*s && isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) e--;
    *e = 0;
    memmove(tok, s, (size_t)(e - s) + 1);
    if (!*tok) { free(tok); return NULL; }
    return tok;
}

int rl_hub_offline(void) {
    const char *v = env("HF_HUB_OFFLINE");
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

const char *rl_hub_endpoint(char *buf, size_t cap) {
    const char *v = env("HF_ENDPOINT");
    snprintf(buf, cap, "%s", v ? v : "https://huggingface.co");
    size_t l = strlen(buf);
    while (l > 0 && buf[l - 1] == '/') buf[--l] = 0;
    return buf;
}

/* One repo-name part: [A-Za-z0-9._-]+, starting alphanumeric, no "--" or "..", under 97 chars. */
static int name_ok(const char *s, size_t n) {
    if (n == 0 || n > 96 || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') return 0;
        if (i && (c == '-' || c == '.') && s[i - 1] == c) return 0;
    }
    return 1;
}

int rl_hub_parse_id(const char *ref, char *repo, size_t repo_cap, char *rev, size_t rev_cap) {
    const char *slash = strchr(ref, '/');
    if (!slash) return 0;
    const char *at = strchr(slash, '@');
    size_t nl = at ? (size_t)(at - slash - 1) : strlen(slash + 1);
    if (!name_ok(ref, (size_t)(slash - ref)) || !name_ok(slash + 1, nl)) return 0;
    const char *r = at ? at + 1 : "main";
    if (!*r || strstr(r, "..") || r[0] == '/' || strpbrk(r, " \t\n\\")) return 0;
    size_t rl = (size_t)(at ? at - ref : (ptrdiff_t)strlen(ref));
    if (rl >= repo_cap || strlen(r) >= rev_cap) return 0;
    memcpy(repo, ref, rl);
    repo[rl] = 0;
    strcpy(rev, r);
    return 1;
}

int rl_hub_is_commit(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n])) return 0;
    return n == 40;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *rl_hub_cached_snapshot(const char *repo, const char *rev, const char *shown) {
    char dir[4096], ref[4608], commit[256], snap[4608];
    if (!shown) shown = repo;
    if (rl_hub_repo_dir(repo, dir, sizeof dir)) return NULL;
    const char *looked = dir;
    if (fit(snprintf(ref, sizeof ref, "%s/refs/%s", dir, rev), sizeof ref, "refs")) return NULL;
    FILE *f = fopen(ref, "r");
    if (f) {                                         /* refs/<rev> holds the commit hash */
        size_t n = fread(commit, 1, sizeof commit - 1, f);
        fclose(f);
        commit[n] = 0;
        while (n > 0 && isspace((unsigned char)commit[n - 1])) commit[--n] = 0;
        if (!rl_hub_is_commit(commit)) { rl_err("hub cache: %s does not hold a commit hash", ref); return NULL; }
        looked = ref;
    } else if (rl_hub_is_commit(rev)) snprintf(commit, sizeof commit, "%s", rev);
    else commit[0] = 0;
    if (commit[0]) {
        if (fit(snprintf(snap, sizeof snap, "%s/snapshots/%s", dir, commit), sizeof snap, "snapshot")) return NULL;
        if (is_dir(snap)) {
            char *s = strdup(snap);
            if (!s) rl_err("out of memory");
            return s;
        }
        looked = snap;
    }
    /* offline, the fix is not "download" alone: the network is off on purpose */
    const char *fix = rl_hub_offline() ? "HF_HUB_OFFLINE is set, so nothing is fetched: unset it and run" : "download it with";
    int pin = strcmp(rev, "main") != 0;
    if (looked == dir)
        rl_err_c(RL_EC_NET, "model '%s' is not a directory and not in the Hugging Face cache (looked for %s/refs/%s); "
               "%s `rabbitllm download %s%s%s`", shown, dir, rev, fix, repo, pin ? " --revision " : "", pin ? rev : "");
    else
        rl_err_c(RL_EC_NET, "model '%s': the Hugging Face cache has no snapshot %s (looked for %s); "
               "%s `rabbitllm download %s%s%s`", shown, commit, snap, fix, repo, pin ? " --revision " : "", pin ? rev : "");
    return NULL;
}

char *rl_hub_resolve(const char *model) {
    struct stat st;
    if (!model || !*model) { rl_err("no model given"); return NULL; }
    char repo[256], rev[256];
    if (stat(model, &st) == 0 || !rl_hub_parse_id(model, repo, sizeof repo, rev, sizeof rev)) {
        char *s = strdup(model);                    /* a path: opening it reports any problem */
        if (!s) rl_err("out of memory");
        return s;
    }
    return rl_hub_cached_snapshot(repo, rev, model);
}

/* Results of rl_hub_model_dir, kept reachable (a list) until exit. */
typedef struct kept_path { struct kept_path *next; char *path; } kept_path;
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static kept_path *kept;

const char *rl_hub_model_dir(const char *model) {
    char *p = rl_hub_resolve(model);
    if (!p) return NULL;
    struct stat st;
    if (stat(p, &st) != 0) {   /* say so, rather than "no tokenizer.json" later */
        rl_err_c(RL_EC_IO, "%s: no such directory or file: give a model directory (config.json and weights), a .gguf file, "
               "or a hub id org/name[@revision] (`rabbitllm download` fetches one)", p);
        free(p);
        return NULL;
    }
    kept_path *k = malloc(sizeof *k);
    if (!k) { free(p); rl_err("out of memory"); return NULL; }
    pthread_mutex_lock(&kept_mu);
    k->path = p;
    k->next = kept;
    kept = k;
    pthread_mutex_unlock(&kept_mu);
    return p;
}
