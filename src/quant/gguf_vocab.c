/* HF tokenizer -> GGUF tokenizer.ggml.* metadata (see gguf_vocab.h). Scores of a BPE with byte
 * fallback are -(rank of the merge that produces the token), so SentencePiece-style merging by
 * highest score applies the merges in HF's order. */
#include "quant/gguf_vocab.h"
#include "tokenizer/spm_proto.h"
#include "tokenizer/tok_gguf.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    int64_t n;
    char **tok;       /* owned strings */
    float *score;
    int32_t *type;
} vocab;

static void vocab_free(vocab *v) {
    for (int64_t i = 0; v->tok && i < v->n; i++) free(v->tok[i]);
    free(v->tok);
    free(v->score);
    free(v->type);
}

static int vocab_alloc(vocab *v, int64_t n, const char *file) {
    v->n = n;
    v->tok = calloc((size_t)n, sizeof *v->tok);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->type = calloc((size_t)n, sizeof *v->type);
    return v->tok && v->score && v->type ? 0 : rl_err("%s: out of memory", file);
}

static int set_tok(vocab *v, int64_t id, const char *s, size_t len, int type, const char *file) {
    if (id < 0 || id >= v->n) return rl_err("%s: token id %lld out of range", file, (long long)id);
    free(v->tok[id]);
    if (!(v->tok[id] = malloc(len + 1))) return rl_err("%s: out of memory", file);
    memcpy(v->tok[id], s, len);
    v->tok[id][len] = 0;
    v->type[id] = type;
    return 0;
}

/* Pads to n tokens with [PADi] (UNUSED) and fills holes the same way; checks no id exceeds n. */
static int vocab_pad(vocab *v, int64_t n, const char *file) {
    if (v->n > n) return rl_err("%s: the tokenizer has %lld tokens, more than the model's vocab_size %lld", file, (long long)v->n, (long long)n);
    if (v->n < n) {
        char **t = realloc(v->tok, (size_t)n * sizeof *t);
        float *s = t ? realloc(v->score, (size_t)n * sizeof *s) : NULL;
        if (t) v->tok = t;
        if (s) v->score = s;
        int32_t *ty = s ? realloc(v->type, (size_t)n * sizeof *ty) : NULL;
        if (!ty) return rl_err("%s: out of memory", file);
        v->type = ty;
        for (int64_t i = v->n; i < n; i++) { v->tok[i] = NULL; v->score[i] = 0; v->type[i] = 0; }
        v->n = n;
    }
    for (int64_t i = 0; i < v->n; i++)
        if (!v->tok[i]) {
            char b[32];
            int k = snprintf(b, sizeof b, "[PAD%lld]", (long long)i);
            if (set_tok(v, i, b, (size_t)k, TT_UNUSED, file)) return -1;
        }
    return 0;
}

static int64_t vocab_find(const vocab *v, const char *s) {
    for (int64_t i = 0; s && i < v->n; i++)
        if (v->tok[i] && !strcmp(v->tok[i], s)) return i;
    return -1;
}

/* Token string -> id hash (open addressing) for the merge scan. */
typedef struct { int64_t *slot; uint64_t mask; const vocab *v; } tok_index;

static uint64_t str_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

static int index_build(tok_index *x, const vocab *v, const char *file) {
    uint64_t cap = 16;
    while (cap < (uint64_t)v->n * 2) cap *= 2;
    x->v = v;
    x->mask = cap - 1;
    if (!(x->slot = malloc(cap * sizeof *x->slot))) return rl_err("%s: out of memory", file);
    for (uint64_t i = 0; i < cap; i++) x->slot[i] = -1;
    for (int64_t i = 0; i < v->n; i++) {
        if (!v->tok[i]) continue;
        uint64_t h = str_hash(v->tok[i], strlen(v->tok[i])) & x->mask;
        while (x->slot[h] >= 0) h = (h + 1) & x->mask;
        x->slot[h] = i;
    }
    return 0;
}

/* Id of the token a + b (the two halves of a merge), or -1. */
static int64_t index_find2(const tok_index *x, const char *a, size_t na, const char *b, size_t nb) {
    char buf[512];
    if (na + nb >= sizeof buf) return -1;
    memcpy(buf, a, na);
    memcpy(buf + na, b, nb);
    buf[na + nb] = 0;
    for (uint64_t h = str_hash(buf, na + nb) & x->mask; x->slot[h] >= 0; h = (h + 1) & x->mask)
        if (!strcmp(x->v->tok[x->slot[h]], buf)) return x->slot[h];
    return -1;
}

static int is_byte_piece(const char *s) {
    static const char hx[] = "0123456789ABCDEF";
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && strchr(hx, s[3]) && strchr(hx, s[4]) && s[5] == '>';
}

/* A special-token entry of tokenizer_config.json: a string or {"content": ...}. */
static const char *tok_str(const cJSON *tc, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(tc, key);
    if (cJSON_IsObject(x)) x = cJSON_GetObjectItemCaseSensitive(x, "content");
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static cJSON *read_json(const char *dir, const char *name, int *absent) {
    char p[PATH_MAX];
    *absent = 0;
    if (rl_path_join(p, sizeof p, dir, name)) { rl_err("%s: path too long", dir); return NULL; }
    if (!rl_file_exists(p)) { *absent = 1; return NULL; }
    char *s = rl_read_file(p, NULL);
    if (!s) return NULL;
    cJSON *j = cJSON_Parse(s);
    free(s);
    if (!j) rl_err("%s: not valid JSON", p);
    return j;
}

/* Merges as "a b" strings (both the string and the [a, b] forms of tokenizer.json). */
static int merge_str(const cJSON *m, char **out, const char *file) {
    if (cJSON_IsString(m)) return (*out = strdup(m->valuestring)) ? 0 : rl_err("%s: out of memory", file);
    const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
        return rl_err("%s: a BPE merge is neither \"a b\" nor [a, b]", file);
    size_t la = strlen(a->valuestring), lb = strlen(b->valuestring);
    if (!(*out = malloc(la + lb + 2))) return rl_err("%s: out of memory", file);
    memcpy(*out, a->valuestring, la);
    (*out)[la] = ' ';
    memcpy(*out + la + 1, b->valuestring, lb + 1);
    return 0;
}

/* The split regex of a byte-level pre-tokenizer (Sequence[Split, ByteLevel] or ByteLevel with its
 * own regex = GPT-2's); NULL + *gpt2 = 1 for the latter. */
/* The splits of a pre-tokenizer as regexes, in order (at most 3 kept; *n may exceed 3: no GGUF
 * name then): Split patterns, Digits (individual: \p{N}), and a ByteLevel that splits with GPT-2's
 * own regex. Any other step: *n = 99 (a form GGUF's pre names do not describe). */
static void split_regexes(const cJSON *pt, const char **rx, int *n) {
    static const char GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pt, "type");
    const char *r = NULL;
    if (!cJSON_IsString(ty)) { *n = 99; return; }
    if (!strcmp(ty->valuestring, "ByteLevel")) {
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pt, "use_regex"))) return;
        r = GPT2;
    } else if (!strcmp(ty->valuestring, "Split")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pt, "pattern"), "Regex");
        const cJSON *bh = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
        if (!cJSON_IsString(re) || (cJSON_IsString(bh) && strcmp(bh->valuestring, "Isolated")) ||
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "invert"))) { *n = 99; return; }
        r = re->valuestring;
    } else if (!strcmp(ty->valuestring, "Digits")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "individual_digits"))) { *n = 99; return; }
        r = "\\p{N}";
    } else if (!strcmp(ty->valuestring, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers")) split_regexes(e, rx, n);
        return;
    } else {
        *n = 99;
        return;
    }
    if (*n < 3) rx[*n] = r;
    if (*n < 99) (*n)++;
}

/* Whether the post-processor puts a special token first (adds bos). */
static int post_adds_bos(const cJSON *pp) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pp, "type");
    if (!cJSON_IsString(ty)) return 0;
    if (!strcmp(ty->valuestring, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pp, "processors")) if (post_adds_bos(e)) return 1;
        return 0;
    }
    if (strcmp(ty->valuestring, "TemplateProcessing")) return 0;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pp, "single"), 0);
    return cJSON_GetObjectItemCaseSensitive(first, "SpecialToken") != NULL;
}

/* tokenizer.json -> vocab (+ merges for byte-level BPE). *llama: byte-fallback BPE. */
static int from_tokenizer_json(const cJSON *j, const char *file, vocab *v, char ***merges, int64_t *n_merges,
                               int *llama, const char **pre, int *add_space, int *post_bos) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(model, "type"), *voc = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "BPE") || !cJSON_IsObject(voc))
        return rl_err("%s: tokenizer model %s cannot be written as GGUF (BPE only)", file,
                      cJSON_IsString(mt) ? mt->valuestring : "(none)");
    *llama = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    int64_t n = 0;
    const cJSON *e, *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    cJSON_ArrayForEach(e, voc) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e8) return rl_err("%s: bad id of token '%s'", file, e->string);
        if ((int64_t)e->valuedouble + 1 > n) n = (int64_t)e->valuedouble + 1;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8) return rl_err("%s: added token without a valid id", file);
        if ((int64_t)id->valuedouble + 1 > n) n = (int64_t)id->valuedouble + 1;
    }
    if (vocab_alloc(v, n, file)) return -1;
    cJSON_ArrayForEach(e, voc) {
        int type = *llama && is_byte_piece(e->string) ? TT_BYTE : TT_NORMAL;
        if (set_tok(v, (int64_t)e->valuedouble, e->string, strlen(e->string), type, file)) return -1;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    cJSON_ArrayForEach(e, added) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsString(c)) return rl_err("%s: added token without content", file);
        int sp = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special"));
        int type = cJSON_IsString(unk) && !strcmp(unk->valuestring, c->valuestring) ? TT_UNKNOWN : sp ? TT_CONTROL : TT_USER;
        if (set_tok(v, (int64_t)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble, c->valuestring, strlen(c->valuestring), type, file)) return -1;
    }
    if (cJSON_IsString(unk)) {
        int64_t u = vocab_find(v, unk->valuestring);
        if (u >= 0) v->type[u] = TT_UNKNOWN;
    }
    const cJSON *mg = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int64_t nm = cJSON_GetArraySize(mg);
    if (*llama) {
        /* scores: -(first merge rank producing the token); tokens no merge produces rank below all */
        for (int64_t i = 0; i < v->n; i++) v->score[i] = v->type[i] == TT_NORMAL && v->tok[i] && strlen(v->tok[i]) > 1 ? -(float)(nm + i) : 0.0f;
        int64_t r = 0;
        tok_index ix;
        if (index_build(&ix, v, file)) return -1;
        cJSON_ArrayForEach(e, mg) {
            const cJSON *a = cJSON_GetArrayItem(e, 0), *b = cJSON_GetArrayItem(e, 1);
            const char *sp = cJSON_IsString(e) ? strchr(e->valuestring, ' ') : NULL;
            int64_t id = -1;
            if (sp) id = index_find2(&ix, e->valuestring, (size_t)(sp - e->valuestring), sp + 1, strlen(sp + 1));
            else if (cJSON_IsString(a) && cJSON_IsString(b))
                id = index_find2(&ix, a->valuestring, strlen(a->valuestring), b->valuestring, strlen(b->valuestring));
            else { free(ix.slot); return rl_err("%s: a BPE merge is neither \"a b\" nor [a, b]", file); }
            if (id >= 0 && v->score[id] < -(float)r) v->score[id] = -(float)r;
            r++;
        }
        free(ix.slot);
        const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer"), *pt = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
        char *ns = norm ? cJSON_PrintUnformatted(norm) : NULL, *ps = pt ? cJSON_PrintUnformatted(pt) : NULL;
        *add_space = (ns && strstr(ns, "\"Prepend\"")) || (ps && strstr(ps, "\"Metaspace\"") && !strstr(ps, "\"never\""));
        free(ns);
        free(ps);
    } else {
        int nrx = 0;
        const char *rx[3] = {NULL, NULL, NULL};
        split_regexes(cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer"), rx, &nrx);
        const cJSON *nrm = cJSON_GetObjectItemCaseSensitive(j, "normalizer"), *nt = cJSON_GetObjectItemCaseSensitive(nrm, "type");
        int im = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "ignore_merges"));
        const char *nf = cJSON_IsString(nt) && !strcmp(nt->valuestring, "NFC") ? "NFC" : NULL;
        *pre = nrx >= 1 && nrx <= 3 ? rl_gguf_pre_for_regex(rx, nrx, im, nf) : NULL;
        if (!*pre)
            return rl_err("%s: byte-level BPE pre-tokenizer %s has no GGUF name (known splits: those of gpt-2, llama-bpe, qwen2, "
                          "gpt-4o, starcoder, tekken, deepseek-v3)", file, nrx >= 1 && nrx <= 3 ? rx[0] : nrx ? "(a step GGUF cannot name)" : "(none)");
        if (!(*merges = calloc((size_t)nm + 1, sizeof **merges))) return rl_err("%s: out of memory", file);
        *n_merges = 0;
        cJSON_ArrayForEach(e, mg) {
            if (merge_str(e, &(*merges)[*n_merges], file)) return -1;
            (*n_merges)++;
        }
    }
    *post_bos = post_adds_bos(cJSON_GetObjectItemCaseSensitive(j, "post_processor"));
    return 0;
}

/* tokenizer.model (SentencePiece) -> vocab. */
static int from_spm(const char *path, vocab *v, int *add_space) {
    size_t len;
    char *buf = rl_read_file(path, &len);
    if (!buf) return -1;
    rl_spm_proto m;
    if (rl_spm_proto_parse((const uint8_t *)buf, len, path, &m)) { free(buf); return -1; }
    int rc = 0;
    if (m.model_type != RL_SPM_BPE) rc = rl_err("%s: SentencePiece model type %d cannot be written as GGUF (BPE only)", path, m.model_type);
    if (!rc) rc = vocab_alloc(v, (int64_t)m.n_pieces, path);
    for (size_t i = 0; !rc && i < m.n_pieces; i++) {
        rc = set_tok(v, (int64_t)i, m.pieces[i].piece.p, m.pieces[i].piece.n, m.pieces[i].type, path);
        v->score[i] = m.pieces[i].score;
    }
    *add_space = m.norm.present ? m.norm.add_dummy_prefix : 1;
    rl_spm_proto_free(&m);
    free(buf);
    return rc;
}

/* Chat template source of model_dir (malloc'd) or NULL (none; rl_err only on a real error *bad). */
static char *chat_template(const char *dir, const cJSON *tc, int *bad) {
    *bad = 0;
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(tc, "chat_template");
    if (cJSON_IsString(ct)) return strdup(ct->valuestring);
    if (cJSON_IsArray(ct)) {
        const cJSON *e, *first = NULL;
        cJSON_ArrayForEach(e, ct) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name"), *t = cJSON_GetObjectItemCaseSensitive(e, "template");
            if (!cJSON_IsString(t)) continue;
            if (!first) first = t;
            if (cJSON_IsString(n) && !strcmp(n->valuestring, "default")) return strdup(t->valuestring);
        }
        if (first) return strdup(first->valuestring);
    }
    char p[PATH_MAX];
    if (!rl_path_join(p, sizeof p, dir, "chat_template.jinja") && rl_file_exists(p)) {
        char *s = rl_read_file(p, NULL);
        if (!s) *bad = 1;
        return s;
    }
    int absent;
    cJSON *j = read_json(dir, "chat_template.json", &absent);
    if (!j) { *bad = !absent; return NULL; }
    ct = cJSON_GetObjectItemCaseSensitive(j, "chat_template");
    char *s = cJSON_IsString(ct) ? strdup(ct->valuestring) : NULL;
    cJSON_Delete(j);
    return s;
}

int rl_gguf_export_vocab(rl_gguf_writer *w, const char *dir, const rl_model_desc *d, const char **kind) {
    vocab v = {0};
    char **merges = NULL, p[PATH_MAX];
    int64_t n_merges = 0;
    int llama = 0, add_space = 1, post_bos = 0, rc = -1, absent_tj, absent_tc;
    const char *pre = NULL, *model = "none";
    cJSON *tj = read_json(dir, "tokenizer.json", &absent_tj), *tc = NULL;
    if (!tj && !absent_tj) goto out;
    tc = read_json(dir, "tokenizer_config.json", &absent_tc);
    if (!tc && !absent_tc) goto out;
    if (tj) {
        if (rl_path_join(p, sizeof p, dir, "tokenizer.json")) { rl_err("%s: path too long", dir); goto out; }
        if (from_tokenizer_json(tj, p, &v, &merges, &n_merges, &llama, &pre, &add_space, &post_bos)) goto out;
        model = llama ? "llama" : "gpt2";
    } else if (!rl_path_join(p, sizeof p, dir, "tokenizer.model") && rl_file_exists(p)) {
        if (from_spm(p, &v, &add_space)) goto out;
        model = "llama";
        llama = 1;
    }
    if (kind) *kind = model;
    if (rl_gguf_w_str(w, "tokenizer.ggml.model", model)) goto out;
    if (!strcmp(model, "none")) { rc = 0; goto out; }
    if (vocab_pad(&v, d->vocab > v.n ? d->vocab : v.n, dir)) goto out;
    if (pre && rl_gguf_w_str(w, "tokenizer.ggml.pre", pre)) goto out;
    if (rl_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (uint64_t)v.n, (const char *const *)v.tok, NULL)) goto out;
    if (llama && rl_gguf_w_arr_f32(w, "tokenizer.ggml.scores", (uint64_t)v.n, v.score)) goto out;
    if (rl_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", (uint64_t)v.n, v.type)) goto out;
    if (merges && rl_gguf_w_arr_str(w, "tokenizer.ggml.merges", (uint64_t)n_merges, (const char *const *)merges, NULL)) goto out;
    /* special ids: tokenizer_config.json's strings, else the model config's ids */
    int64_t bos = vocab_find(&v, tok_str(tc, "bos_token")), eos = vocab_find(&v, tok_str(tc, "eos_token"));
    int64_t unk = vocab_find(&v, tok_str(tc, "unk_token")), pad = vocab_find(&v, tok_str(tc, "pad_token"));
    if (bos < 0) bos = d->bos_id;
    if (eos < 0 && d->n_eos > 0) eos = d->eos_ids[0];
    if (unk < 0) for (int64_t i = 0; i < v.n; i++) if (v.type[i] == TT_UNKNOWN) { unk = i; break; }
    if (bos >= 0 && bos < v.n && rl_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos)) goto out;
    if (eos >= 0 && eos < v.n && rl_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos)) goto out;
    for (int i = 0; i < d->n_eos; i++)
        if (d->eos_ids[i] != eos && d->eos_ids[i] >= 0 && d->eos_ids[i] < v.n) {
            if (rl_gguf_w_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)d->eos_ids[i])) goto out;
            break;
        }
    if (unk >= 0 && rl_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk)) goto out;
    if (pad >= 0 && rl_gguf_w_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad)) goto out;
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(tc, "add_bos_token"), *ae = cJSON_GetObjectItemCaseSensitive(tc, "add_eos_token");
    int add_bos = cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : tj ? post_bos : 1;
    if (rl_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", add_bos)) goto out;
    if (cJSON_IsBool(ae) && rl_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae))) goto out;
    if (llama && rl_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", add_space)) goto out;
    int bad;
    char *ct = chat_template(dir, tc, &bad);
    if (bad) goto out;
    if (ct) {
        int r = rl_gguf_w_str(w, "tokenizer.chat_template", ct);
        free(ct);
        if (r) goto out;
    }
    rc = 0;
out:
    for (int64_t i = 0; merges && i < n_merges; i++) free(merges[i]);
    free(merges);
    vocab_free(&v);
    cJSON_Delete(tj);
    cJSON_Delete(tc);
    return rc;
}
