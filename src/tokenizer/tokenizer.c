/* Tokenizer facade: picks tokenizer.json (rl_hf) or tokenizer.model (rl_spm), applies
 * tokenizer_config.json (special-token strings, the LlamaTokenizerFast add_bos/add_eos rule,
 * clean_up_tokenization_spaces as transformers 5 applies it), validates UTF-8. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tok_hf.h"
#include "tokenizer/tok_cleanup.h"
#include "tokenizer/spm.h"
#include "tokenizer/spm_special.h"
#include "tokenizer/tok_gguf.h"
#include "format/gguf_find.h"
#include "util/err.h"
#include "util/fileio.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct rl_tokenizer {
    rl_hf *hf;
    rl_spm *spm;
    rl_spm_specials *specials; /* GGUF SentencePiece vocabularies: control-token text splits the input */
    cJSON *config;          /* tokenizer_config.json or NULL */
    int add_bos, add_eos;   /* SentencePiece path */
    int cleanup;            /* clean_up_tokenization_spaces, applied for non-BPE models only */
};

void rl_tok_free(rl_tokenizer *t) {
    if (!t) return;
    rl_hf_free(t->hf);
    rl_spm_specials_free(t->specials);
    rl_spm_free(t->spm);
    cJSON_Delete(t->config);
    free(t);
}

static const char *cfg_str(const cJSON *cfg, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(j)) return j->valuestring;
    if (cJSON_IsObject(j)) return rl_tj_str(j, "content");
    return NULL;
}

static int load_config(rl_tokenizer *t, const char *dir) {
    char path[PATH_MAX];
    if (rl_path_join(path, sizeof path, dir, "tokenizer_config.json")) return rl_err("%s: path too long", dir);
    if (!rl_file_exists(path)) return 0;
    size_t len;
    char *txt = rl_read_file(path, &len);
    if (!txt) return -1;
    t->config = cJSON_ParseWithLength(txt, len);
    free(txt);
    if (!cJSON_IsObject(t->config)) return rl_err("%s: invalid JSON (expected an object)", path);
    return 0;
}

/* transformers 4's LlamaTokenizerFast (and Gemma/CodeLlama) rebuilt the post-processor from
 * add_bos_token / add_eos_token. */
static int llama_rule(rl_tokenizer *t) {
    const char *cls = cfg_str(t->config, "tokenizer_class");
    static const char *const CLS[] = {"LlamaTokenizer", "LlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
                                      "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"};
    int hit = 0;
    for (size_t i = 0; cls && i < sizeof CLS / sizeof CLS[0]; i++) hit |= !strcmp(cls, CLS[i]);
    if (!hit) return 0;
    int ab = rl_tj_bool(t->config, "add_bos_token", 1), ae = rl_tj_bool(t->config, "add_eos_token", 0);
    const char *bos = cfg_str(t->config, "bos_token"), *eos = cfg_str(t->config, "eos_token");
    int32_t bid = ab && bos ? rl_hf_token_id(t->hf, bos, strlen(bos)) : -1;
    int32_t eid = ae && eos ? rl_hf_token_id(t->hf, eos, strlen(eos)) : -1;
    rl_tkpost *p = rl_tkpost_bos_eos(bid, eid);
    if (!p) return -1;
    rl_hf_set_post(t->hf, p);
    return 0;
}

rl_tokenizer *rl_tok_load(const char *dir) {
    char path[PATH_MAX];
    rl_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { rl_err("tokenizer: out of memory"); return NULL; }
    if (load_config(t, dir)) goto fail;
    if (rl_path_join(path, sizeof path, dir, "tokenizer.json")) { rl_err("%s: path too long", dir); goto fail; }
    if (rl_file_exists(path)) {
        if (!(t->hf = rl_hf_load(path))) goto fail;
        if (t->config && llama_rule(t)) goto fail;
        t->cleanup = rl_hf_model_type(t->hf) != RL_TKMODEL_BPE && rl_tj_bool(t->config, "clean_up_tokenization_spaces", 0);
        return t;
    }
    if (rl_path_join(path, sizeof path, dir, "tokenizer.model")) { rl_err("%s: path too long", dir); goto fail; }
    if (rl_file_exists(path)) {
        if (!(t->spm = rl_spm_load(path))) goto fail;
        t->add_bos = rl_tj_bool(t->config, "add_bos_token", 1);
        t->add_eos = rl_tj_bool(t->config, "add_eos_token", 0);
        return t;
    }
    int gr = rl_gguf_find(dir, path, sizeof path); /* a GGUF model carries its vocabulary */
    if (gr < 0) goto fail;
    if (gr > 0) {
        rl_gguf *g = rl_gguf_open(path, -1);
        if (!g) goto fail;
        const char *model = rl_gguf_strv(g, "tokenizer.ggml.model");
        if (model && !strcmp(model, "llama")) {
            t->spm = rl_spm_from_gguf(g);
            if (t->spm && !(t->specials = rl_spm_specials_new(t->spm))) { rl_gguf_free(g); goto fail; }
            t->add_bos = rl_gguf_tok_flag(g, "add_bos_token", 1);
            t->add_eos = rl_gguf_tok_flag(g, "add_eos_token", 0);
        } else if (model && !strcmp(model, "gpt2")) {
            t->hf = rl_hf_from_gguf(g);
        } else {
            rl_err("%s: %s", path, !model || !strcmp(model, "none") ? "the file carries no vocabulary (tokenizer.ggml.model \"none\"): use --ids"
                                                                  : "only SentencePiece (\"llama\") and BPE (\"gpt2\") GGUF vocabularies are supported");
        }
        rl_gguf_free(g);
        if (!t->spm && !t->hf) goto fail;
        return t;
    }
    rl_err("%s: no tokenizer.json or tokenizer.model", dir);
fail:
    rl_tok_free(t);
    return NULL;
}

int rl_tok_encode(const rl_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids, size_t *n) {
    *ids = NULL; *n = 0;
    size_t bad;
    if (!rl_tku8_valid(text, len, &bad)) return rl_err("encode: input is not valid UTF-8 (byte %zu)", bad);
    if (t->spm) {
        int32_t *v; size_t k;
        if (t->specials ? rl_spm_encode_specials(t->specials, text, len, add_special && t->add_bos, &v, &k)
                        : rl_spm_encode(t->spm, text, len, add_special && t->add_bos, &v, &k)) return -1;
        if (add_special && t->add_eos && rl_spm_eos_id(t->spm) >= 0) {
            int32_t *w = realloc(v, (k + 1) * sizeof *w);
            if (!w) { free(v); return rl_err("tokenizer: out of memory"); }
            v = w; v[k++] = rl_spm_eos_id(t->spm);
        }
        *ids = v; *n = k;
        return 0;
    }
    rl_ivec out = {0};
    if (rl_hf_encode(t->hf, text, len, add_special, &out)) { free(out.v); return -1; }
    if (!out.v && !(out.v = malloc(sizeof *out.v))) return rl_err("tokenizer: out of memory");
    *ids = out.v; *n = out.n;
    return 0;
}

int rl_tok_decode(const rl_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text, size_t *len) {
    *text = NULL; if (len) *len = 0;
    if (t->spm) {
        size_t vs = rl_spm_vocab_size(t->spm);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= vs) return rl_err("decode: token id %d is not in the vocabulary (size %zu)", (int)ids[i], vs);
        size_t l;
        if (rl_spm_decode(t->spm, ids, n, skip_special, text, &l)) return -1;
        if (len) *len = l;
        return 0;
    }
    rl_buf b = {0};
    if (rl_hf_decode(t->hf, ids, n, skip_special, &b) || (t->cleanup && rl_tk_cleanup_transformers(&b)) || rl_tkbuf_put(&b, "", 0)) {
        rl_tkbuf_free(&b);
        return -1;
    }
    *text = b.p;
    if (len) *len = b.n;
    return 0;
}

size_t rl_tok_vocab_size(const rl_tokenizer *t) { return t->spm ? rl_spm_vocab_size(t->spm) : rl_hf_vocab_size(t->hf); }

int rl_tok_token_id(const rl_tokenizer *t, const char *s) {
    if (!s) return -1;
    if (t->spm) return rl_spm_piece_id(t->spm, s);
    return rl_hf_token_id(t->hf, s, strlen(s));
}

const char *rl_tok_config_str(const rl_tokenizer *t, const char *key) {
    return t->config ? cfg_str(t->config, key) : NULL;
}

int rl_tok_is_special(const rl_tokenizer *t, int32_t id) {
    if (t->spm) return id >= 0 && (id == rl_spm_bos_id(t->spm) || id == rl_spm_eos_id(t->spm));
    return rl_hf_is_special(t->hf, id);
}
