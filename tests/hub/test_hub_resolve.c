/* Tests for src/hub/resolve.c and sha256.c on hand-made Hugging Face cache trees: cache
 * directory precedence (HF_HUB_CACHE > HF_HOME > XDG_CACHE_HOME > HOME), hub id parsing,
 * refs/main and pinned revisions, a commit hash given directly, a missing snapshot (clear
 * error naming the place and `rabbitllm download`), an existing path winning over an id,
 * the token sources, the default download file set, sha256. No network. */
#include "test.h"
#include "hub/hub.h"
#include "util/err.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];
static const char *C1 = "0123456789abcdef0123456789abcdef01234567";
static const char *C2 = "89abcdef0123456789abcdef0123456789abcdef";

static void put(const char *rel, const char *text) {
    char p[1024], cmd[1200];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    if (system(cmd)) return;
    FILE *f = fopen(p, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void mkd(const char *rel) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", root, rel);
    if (system(cmd)) fprintf(stderr, "mkdir failed\n");
}

static void clear_env(void) {
    unsetenv("HF_HUB_CACHE"); unsetenv("HUGGINGFACE_HUB_CACHE"); unsetenv("HF_HOME"); unsetenv("XDG_CACHE_HOME");
    unsetenv("HF_TOKEN"); unsetenv("HF_TOKEN_PATH"); unsetenv("HF_HUB_OFFLINE"); unsetenv("HF_ENDPOINT");
}

static void test_cache_dir(void) {
    char d[4096], want[600];
    clear_env();
    setenv("HOME", "/home/x", 1);
    CHECK(!rl_hub_cache_dir(d, sizeof d) && !strcmp(d, "/home/x/.cache/huggingface/hub"), "%s", d);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    CHECK(!rl_hub_cache_dir(d, sizeof d) && !strcmp(d, "/xdg/huggingface/hub"), "%s", d);
    setenv("HF_HOME", "/hfh", 1);
    CHECK(!rl_hub_cache_dir(d, sizeof d) && !strcmp(d, "/hfh/hub"), "%s", d);
    snprintf(want, sizeof want, "%s/hub", root);
    setenv("HF_HUB_CACHE", want, 1);
    CHECK(!rl_hub_cache_dir(d, sizeof d) && !strcmp(d, want), "%s", d);
    CHECK(!rl_hub_repo_dir("org/name", d, sizeof d), "repo dir");
    snprintf(want, sizeof want, "%s/hub/models--org--name", root);
    CHECK(!strcmp(d, want), "%s", d);
    char ep[256];
    CHECK(!strcmp(rl_hub_endpoint(ep, sizeof ep), "https://huggingface.co"), "%s", ep);
    setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
    CHECK(!strcmp(rl_hub_endpoint(ep, sizeof ep), "http://127.0.0.1:9"), "%s", ep);
    unsetenv("HF_ENDPOINT");
}

static void test_parse_id(void) {
    char repo[256], rev[256];
    CHECK(rl_hub_parse_id("org/name", repo, sizeof repo, rev, sizeof rev) == 1 && !strcmp(repo, "org/name") && !strcmp(rev, "main"), "plain");
    CHECK(rl_hub_parse_id("Qwen/Qwen2.5-0.5B-Instruct@v1.0", repo, sizeof repo, rev, sizeof rev) == 1 &&
          !strcmp(repo, "Qwen/Qwen2.5-0.5B-Instruct") && !strcmp(rev, "v1.0"), "%s %s", repo, rev);
    CHECK(rl_hub_parse_id("org/name@refs/pr/1", repo, sizeof repo, rev, sizeof rev) == 1 && !strcmp(rev, "refs/pr/1"), "pr ref");
    CHECK(!rl_hub_parse_id("/abs/path", repo, sizeof repo, rev, sizeof rev), "absolute path");
    CHECK(!rl_hub_parse_id("./org/name", repo, sizeof repo, rev, sizeof rev), "relative path");
    CHECK(!rl_hub_parse_id("../x", repo, sizeof repo, rev, sizeof rev), "dotdot");
    CHECK(!rl_hub_parse_id("a/b/c", repo, sizeof repo, rev, sizeof rev), "three parts");
    CHECK(!rl_hub_parse_id("model", repo, sizeof repo, rev, sizeof rev), "no org");
    CHECK(!rl_hub_parse_id("org/na--me", repo, sizeof repo, rev, sizeof rev), "double dash");
    CHECK(!rl_hub_parse_id("org/name@", repo, sizeof repo, rev, sizeof rev), "empty revision");
    CHECK(!rl_hub_parse_id("org/name@../../x", repo, sizeof repo, rev, sizeof rev), "revision escaping refs/");
    CHECK(rl_hub_is_commit(C1) && !rl_hub_is_commit("main") && !rl_hub_is_commit("0123ABCDEF0123456789abcdef0123456789abcd"), "commit");
}

static void test_resolve_refs(void) {
    char hub[600], want[1024];
    clear_env();
    snprintf(hub, sizeof hub, "%s/home", root);
    setenv("HF_HOME", hub, 1);
    put("home/hub/models--org--tiny/refs/main", C1);           /* no newline, as huggingface_hub writes it */
    put("home/hub/models--org--tiny/refs/v2", "89abcdef0123456789abcdef0123456789abcdef\n");
    mkd("home/hub/models--org--tiny/snapshots/0123456789abcdef0123456789abcdef01234567");
    mkd("home/hub/models--org--tiny/snapshots/89abcdef0123456789abcdef0123456789abcdef");
    char *p = rl_hub_resolve("org/tiny");
    snprintf(want, sizeof want, "%s/home/hub/models--org--tiny/snapshots/%s", root, C1);
    CHECK(p && !strcmp(p, want), "main: %s", p ? p : rl_errmsg());
    free(p);
    p = rl_hub_resolve("org/tiny@v2");
    snprintf(want, sizeof want, "%s/home/hub/models--org--tiny/snapshots/%s", root, C2);
    CHECK(p && !strcmp(p, want), "v2: %s", p ? p : rl_errmsg());
    free(p);
    char id[128];
    snprintf(id, sizeof id, "org/tiny@%s", C2);                /* a commit hash directly, no ref needed */
    p = rl_hub_resolve(id);
    CHECK(p && !strcmp(p, want), "commit: %s", p ? p : rl_errmsg());
    free(p);
    const char *kept = rl_hub_model_dir("org/tiny@v2");
    CHECK(kept && !strcmp(kept, want), "model_dir: %s", kept ? kept : rl_errmsg());
    /* the offline switch changes nothing for a cached model */
    setenv("HF_HUB_OFFLINE", "1", 1);
    p = rl_hub_resolve("org/tiny");
    CHECK(p != NULL, "offline: %s", rl_errmsg());
    free(p);
    unsetenv("HF_HUB_OFFLINE");
}

static void test_resolve_missing(void) {
    char hub[600];
    clear_env();
    snprintf(hub, sizeof hub, "%s/hub2", root);
    setenv("HF_HUB_CACHE", hub, 1);
    char *p = rl_hub_resolve("org/absent");
    CHECK(!p, "absent repo resolved");
    CHECK(strstr(rl_errmsg(), "models--org--absent/refs/main") && strstr(rl_errmsg(), "rabbitllm download org/absent"), "%s", rl_errmsg());
    free(p);
    put("hub2/models--org--gone/refs/main", C1);                /* ref present, snapshot missing */
    p = rl_hub_resolve("org/gone");
    CHECK(!p, "missing snapshot resolved");
    CHECK(strstr(rl_errmsg(), "snapshots/0123456789abcdef") && strstr(rl_errmsg(), "rabbitllm download org/gone"), "%s", rl_errmsg());
    free(p);
    p = rl_hub_resolve("org/gone@v9");
    CHECK(!p && strstr(rl_errmsg(), "--revision v9"), "%s", rl_errmsg());
    free(p);
    put("hub2/models--org--junk/refs/main", "not a hash");
    p = rl_hub_resolve("org/junk");
    CHECK(!p && strstr(rl_errmsg(), "commit hash"), "%s", rl_errmsg());
    free(p);
    setenv("HF_HUB_OFFLINE", "true", 1);
    p = rl_hub_resolve("org/absent");
    CHECK(!p && strstr(rl_errmsg(), "HF_HUB_OFFLINE"), "%s", rl_errmsg());
    free(p);
    unsetenv("HF_HUB_OFFLINE");
}

static void test_path_wins(void) {
    char cwd[1024], sub[600];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(sub, sizeof sub, "%s/work", root);
    mkd("work/org/tiny");
    CHECK(!chdir(sub), "chdir");
    char *p = rl_hub_resolve("org/tiny");                       /* a directory of that name exists here */
    CHECK(p && !strcmp(p, "org/tiny"), "%s", p ? p : rl_errmsg());
    free(p);
    p = rl_hub_resolve("no/such/dir");                          /* not an id: unchanged, opening reports it */
    CHECK(p && !strcmp(p, "no/such/dir"), "%s", p ? p : rl_errmsg());
    free(p);
    p = rl_hub_resolve("/nonexistent-model");
    CHECK(p && !strcmp(p, "/nonexistent-model"), "%s", p ? p : rl_errmsg());
    free(p);
    CHECK(!chdir(cwd), "chdir back");
}

static void test_token(void) {
    char home[600];
    clear_env();
    snprintf(home, sizeof home, "%s/tokhome", root);
    setenv("HF_HOME", home, 1);
    char *t = rl_hub_token();
    CHECK(!t, "no token: %s", t);
    free(t);
    put("tokhome/token", "  hf_fromfile\n");
    t = rl_hub_token();
    CHECK(t && !strcmp(t, "hf_fromfile"), "file: %s", t ? t : "(null)");
    free(t);
    setenv("HF_TOKEN", "hf_env", 1);
    t = rl_hub_token();
    CHECK(t && !strcmp(t, "hf_env"), "env: %s", t ? t : "(null)");
    free(t);
    unsetenv("HF_TOKEN");
    char tp[700];
    snprintf(tp, sizeof tp, "%s/elsewhere", root);
    put("elsewhere", "hf_path");
    setenv("HF_TOKEN_PATH", tp, 1);
    t = rl_hub_token();
    CHECK(t && !strcmp(t, "hf_path"), "HF_TOKEN_PATH: %s", t ? t : "(null)");
    free(t);
    unsetenv("HF_TOKEN_PATH");
}

static void test_wanted(void) {
    const char *yes[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                         "special_tokens_map.json", "chat_template.jinja", "chat_template.json", "model.safetensors",
                         "model-00001-of-00002.safetensors", "model.safetensors.index.json", "vocab.json", "merges.txt"};
    const char *no[] = {"pytorch_model.bin", "model.pt", "model.gguf", "onnx/model.onnx", "README.md", ".gitattributes",
                        "original/consolidated.safetensors", "flax_model.msgpack"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) CHECK(rl_hub_wanted(yes[i], NULL, 0), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) CHECK(!rl_hub_wanted(no[i], NULL, 0), "%s", no[i]);
    const char *inc[] = {"*.bin", "onnx/*"};
    CHECK(rl_hub_wanted("pytorch_model.bin", inc, 2) && rl_hub_wanted("onnx/model.onnx", inc, 2) && !rl_hub_wanted("x.gguf", inc, 2), "include");
    /* a Mistral repo: the consolidated copy of the weights is skipped beside the HF shards */
    const char *repo[] = {"config.json", "params.json", "consolidated.safetensors", "model-00001-of-00002.safetensors",
                          "model-00002-of-00002.safetensors", "model.safetensors.index.json"};
    CHECK(!rl_hub_wanted_in("consolidated.safetensors", repo, 6, NULL, 0) && rl_hub_wanted_in(repo[3], repo, 6, NULL, 0) &&
          rl_hub_wanted_in("config.json", repo, 6, NULL, 0), "consolidated beside the shards");
    const char *only[] = {"config.json", "consolidated.safetensors"}, *incc[] = {"consolidated.safetensors"};
    CHECK(rl_hub_wanted_in("consolidated.safetensors", only, 2, NULL, 0), "consolidated alone is the model");
    CHECK(rl_hub_wanted_in("consolidated.safetensors", repo, 6, incc, 1), "consolidated asked for by --include");
    CHECK(!rl_hub_wanted_in("README.md", repo, 6, NULL, 0), "README");
}

static void test_sha256(void) {
    char hex[65];
    put("abc.txt", "abc");
    put("empty.txt", "");
    char p[600];
    snprintf(p, sizeof p, "%s/abc.txt", root);
    CHECK(!rl_hub_sha256_file(p, hex) && !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "%s", hex);
    snprintf(p, sizeof p, "%s/empty.txt", root);
    CHECK(!rl_hub_sha256_file(p, hex) && !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "%s", hex);
    snprintf(p, sizeof p, "%s/none.txt", root);
    CHECK(rl_hub_sha256_file(p, hex) == -1 && strstr(rl_errmsg(), "none.txt"), "missing file");
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/rl_hub_test_XXXXXX");
    if (!mkdtemp(root)) { perror("mkdtemp"); return 1; }
    RUN(test_cache_dir);
    RUN(test_parse_id);
    RUN(test_resolve_refs);
    RUN(test_resolve_missing);
    RUN(test_path_wins);
    RUN(test_token);
    RUN(test_wanted);
    RUN(test_sha256);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    TEST_END();
}
