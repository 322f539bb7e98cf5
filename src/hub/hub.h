/* Hugging Face hub support: the cache layout huggingface_hub uses (models--org--name/{refs,
 * snapshots,blobs}), model references "org/name[@revision]" resolved in that cache without any
 * network access, and downloads of a model's files into it (libcurl, download.c).
 * Environment, as huggingface_hub reads it: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HF_ENDPOINT,
 * HF_TOKEN, HF_TOKEN_PATH, HF_HUB_OFFLINE. Library code: -1 / NULL with rl_err, never exits. */
#ifndef RL_HUB_H
#define RL_HUB_H
#include <stddef.h>
#include <stdint.h>

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. 0 / -1. */
int rl_hub_home_dir(char *out, size_t cap);
/* $HF_HUB_CACHE (or the legacy $HUGGINGFACE_HUB_CACHE), else <home>/hub. 0 / -1. */
int rl_hub_cache_dir(char *out, size_t cap);
/* <cache>/models--org--name for repo "org/name". 0 / -1. */
int rl_hub_repo_dir(const char *repo, char *out, size_t cap);
/* The access token: $HF_TOKEN, else the file $HF_TOKEN_PATH or <home>/token, whitespace
 * trimmed. malloc'd, or NULL when there is none. */
char *rl_hub_token(void);
/* 1 when HF_HUB_OFFLINE is 1 / true / yes / on (any case). */
int rl_hub_offline(void);
/* $HF_ENDPOINT without trailing '/', else https://huggingface.co. */
const char *rl_hub_endpoint(char *buf, size_t cap);

/* 1 if ref has the shape of a hub id "org/name[@revision]" (repo gets "org/name", rev the
 * revision or "main"); 0 if not (a path). Names use [A-Za-z0-9._-], no "--" or "..". */
int rl_hub_parse_id(const char *ref, char *repo, size_t repo_cap, char *rev, size_t rev_cap);
/* 1 if s is a full 40-hex commit hash. */
int rl_hub_is_commit(const char *s);

/* Resolves a model reference to a directory, without the network: a path that exists is
 * returned as is (it wins over an id); a hub id becomes <repo dir>/snapshots/<commit>, the
 * commit read from refs/<revision> (or the revision itself when it is a commit hash). A missing
 * model is an error naming where it looked and suggesting `rabbitllm download org/name`; any
 * other string that does not exist is returned unchanged (opening it reports the problem).
 * Returns a malloc'd path, or NULL with rl_err. */
char *rl_hub_resolve(const char *model);
/* The cached snapshot directory of repo at rev (a branch / tag in refs/, or a commit hash),
 * malloc'd, or NULL with the "not in the cache" error (shown: the name used in it, or NULL). */
char *rl_hub_cached_snapshot(const char *repo, const char *rev, const char *shown);
/* rl_hub_resolve for command lines: the result stays owned by the library until exit. */
const char *rl_hub_model_dir(const char *model);

/* Download progress events (download.c). */
typedef enum { RL_HUB_EV_START, RL_HUB_EV_BYTES, RL_HUB_EV_DONE, RL_HUB_EV_CACHED, RL_HUB_EV_RETRY } rl_hub_event;
typedef void (*rl_hub_progress_fn)(void *ud, rl_hub_event ev, const char *file, uint64_t done, uint64_t total);

typedef struct {
    const char *repo;             /* "org/name" */
    const char *revision;         /* branch, tag or commit; NULL = "main" */
    const char *const *include;   /* extra glob patterns (fnmatch, '*' crosses '/'), added to the defaults */
    int n_include;
    rl_hub_progress_fn progress;  /* optional */
    void *progress_ud;
    int low_speed_time;           /* seconds under 1 byte/s before a transfer is abandoned (0 = 30) */
    int max_retries;              /* resumed retries of a broken transfer within one call (0 = 3, <0 = none) */
} rl_hub_download_opts;

/* Default file set: config.json, generation_config.json, tokenizer*, special_tokens_map.json,
 * added_tokens.json, vocab.json, merges.txt, chat_template*, *.safetensors and
 * *.safetensors.index.json at the top of the repo. 1 if name is in it or matches include. */
int rl_hub_wanted(const char *name, const char *const *include, int n_include);
/* rl_hub_wanted within the repo's listing names[0..n): also drops weights the listing holds
 * twice (Mistral's consolidated*.safetensors beside the HF model*.safetensors / index), unless
 * an include pattern names them. */
int rl_hub_wanted_in(const char *name, const char *const *names, int n, const char *const *include, int n_include);

/* Downloads the repo's wanted files at the revision into the cache: lists them through
 * {endpoint}/api/models/{repo}/revision/{rev}, fetches each into blobs/<etag> through a
 * .incomplete file (resumed with Range), verifies size and, for LFS files, sha256, links
 * snapshots/<commit>/<file> -> ../../blobs/<etag> and finally writes refs/<rev>. Offline
 * (HF_HUB_OFFLINE) it only resolves the cache. *snapshot_dir (malloc'd) gets the snapshot. */
int rl_hub_download(const rl_hub_download_opts *o, char **snapshot_dir);

/* SHA-256 of a file as 64 lowercase hex chars + NUL. 0 / -1 with rl_err. */
int rl_hub_sha256_file(const char *path, char hex[65]);

#endif
