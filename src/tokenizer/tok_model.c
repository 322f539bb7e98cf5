/* tokenizer.json "model" section: parses BPE / Unigram / WordPiece / WordLevel vocabularies and dispatches
 * encoding to the model's algorithm. */
#include "tokenizer/tok_model.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void rl_tkmodel_free(rl_tkmodel *m) {
    if (!m) return;
    rl_tkmap_free(&m->vocab);
    free(m->tokoff); free(m->toklen);
    rl_tkbuf_free(&m->tokbuf);
    rl_tku64_free(&m->merges);
    free(m->prefix); free(m->suffix);
    rl_tkmap_free(&m->cache);
    free(m->cache_ids.v);
    free(m->scores);
    if (m->type == RL_TKMODEL_BPE) pthread_mutex_destroy(&m->cache_mu);
    free(m);
}

/* Registers token text for an id (first registration wins for id -> token). */
static int add_token(rl_tkmodel *m, const char *s, size_t n, int32_t id, size_t cap) {
    if (id < 0 || (size_t)id >= cap) return rl_err("model: token id %d out of range", (int)id);
    if (rl_tkmap_put(&m->vocab, s, n, id)) return -1;
    if (m->toklen[id] == UINT32_MAX) {
        m->tokoff[id] = (uint32_t)m->tokbuf.n;
        m->toklen[id] = (uint32_t)n;
        if (rl_tkbuf_put(&m->tokbuf, s, n) || rl_tkbuf_put(&m->tokbuf, "", 0)) return -1;
        m->tokbuf.n++;   /* keep the NUL */
    }
    if ((size_t)id + 1 > m->nids) m->nids = (size_t)id + 1;
    return 0;
}

static int alloc_ids(rl_tkmodel *m, size_t cap) {
    m->tokoff = malloc(cap * sizeof *m->tokoff);
    m->toklen = malloc(cap * sizeof *m->toklen);
    if (!m->tokoff || !m->toklen) return rl_err("tokenizer: out of memory");
    memset(m->toklen, 0xff, cap * sizeof *m->toklen);
    return 0;
}

static int vocab_object(rl_tkmodel *m, const cJSON *v) {
    if (!cJSON_IsObject(v)) return rl_err("model: \"vocab\" must be an object");
    size_t cap = 0, n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2e9) return rl_err("model: vocab entry \"%s\" has a bad id", e->string);
        if ((size_t)e->valueint + 1 > cap) cap = (size_t)e->valueint + 1;
        n++;
    }
    /* ids are (nearly) dense: a few entries with a huge id would make the id tables huge (fuzzing:
     * 193 bytes asking for 2.6 GB), so the largest id is bounded by the entry count */
    if (cap > 4 * n + 4096) return rl_err("model: vocab ids go up to %zu for %zu entries (ids must be dense)", cap - 1, n);
    if (alloc_ids(m, cap ? cap : 1)) return -1;
    cJSON_ArrayForEach(e, v)
        if (add_token(m, e->string, strlen(e->string), e->valueint, cap)) return -1;
    return 0;
}

static void byte_ids(rl_tkmodel *m) {
    for (int b = 0; b < 256; b++) {
        char t[8];
        snprintf(t, sizeof t, "<0x%02X>", b);
        m->byte_ids[b] = rl_tkmap_get(&m->vocab, t, 6);
    }
}

static int opt_str(const cJSON *j, const char *key, char **out) {
    const char *s = rl_tj_str(j, key);
    *out = NULL;
    if (s && !(*out = dupstr(s))) return rl_err("tokenizer: out of memory");
    return 0;
}

static int parse_bpe(rl_tkmodel *m, const cJSON *j) {
    if (vocab_object(m, cJSON_GetObjectItemCaseSensitive(j, "vocab"))) return -1;
    if (opt_str(j, "continuing_subword_prefix", &m->prefix) || opt_str(j, "end_of_word_suffix", &m->suffix)) return -1;
    m->fuse_unk = rl_tj_bool(j, "fuse_unk", 0);
    m->byte_fallback = rl_tj_bool(j, "byte_fallback", 0);
    m->ignore_merges = rl_tj_bool(j, "ignore_merges", 0);
    const char *unk = rl_tj_str(j, "unk_token");
    m->unk_id = unk ? rl_tkmap_get(&m->vocab, unk, strlen(unk)) : -1;
    byte_ids(m);
    const cJSON *mg = cJSON_GetObjectItemCaseSensitive(j, "merges");
    if (!mg || cJSON_IsNull(mg)) return 0;
    return rl_tkbpe_load_merges(m, mg);
}

static int parse_unigram(rl_tkmodel *m, const cJSON *j) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(v)) return rl_err("model Unigram: \"vocab\" must be an array");
    size_t cap = (size_t)cJSON_GetArraySize(v);
    if (alloc_ids(m, cap ? cap : 1)) return -1;
    if (!(m->scores = malloc((cap ? cap : 1) * sizeof *m->scores))) return rl_err("tokenizer: out of memory");
    double mn = 0;
    int32_t id = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        const cJSON *p = cJSON_GetArrayItem(e, 0), *s = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsString(p) || !cJSON_IsNumber(s)) return rl_err("model Unigram: vocab entry %d is not [piece, score]", (int)id);
        size_t n = strlen(p->valuestring);
        if (add_token(m, p->valuestring, n, id, cap)) return -1;
        m->scores[id] = s->valuedouble;
        if (id == 0 || s->valuedouble < mn) mn = s->valuedouble;
        if (n > m->max_piece) m->max_piece = n;
        id++;
    }
    m->unk_score = mn - 10.0;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "unk_id");
    m->unk_id = cJSON_IsNumber(u) ? u->valueint : -1;
    if (m->unk_id >= (int32_t)cap) return rl_err("model Unigram: unk_id %d out of range", (int)m->unk_id);
    m->byte_fallback = rl_tj_bool(j, "byte_fallback", 0);
    byte_ids(m);
    return 0;
}

static int parse_wordpiece(rl_tkmodel *m, const cJSON *j) {
    if (vocab_object(m, cJSON_GetObjectItemCaseSensitive(j, "vocab"))) return -1;
    const char *unk = rl_tj_str(j, "unk_token");
    if (!unk) unk = "[UNK]";
    m->unk_id = rl_tkmap_get(&m->vocab, unk, strlen(unk));
    const char *pre = rl_tj_str(j, "continuing_subword_prefix");
    if (!(m->prefix = dupstr(pre ? pre : "##"))) return rl_err("tokenizer: out of memory");
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(j, "max_input_chars_per_word");
    /* range-checked before the conversion (negative or huge doubles do not fit a size_t) */
    m->max_chars = !cJSON_IsNumber(mx) ? 100 : mx->valuedouble <= 0 ? 0 : mx->valuedouble >= 1e15 ? (size_t)1e15 : (size_t)mx->valuedouble;
    return 0;
}

static int parse_wordlevel(rl_tkmodel *m, const cJSON *j) {
    if (vocab_object(m, cJSON_GetObjectItemCaseSensitive(j, "vocab"))) return -1;
    const char *unk = rl_tj_str(j, "unk_token");
    m->unk_id = unk ? rl_tkmap_get(&m->vocab, unk, strlen(unk)) : -1;
    return 0;
}

int rl_tkmodel_parse(const cJSON *j, rl_tkmodel **out) {
    *out = NULL;
    if (!cJSON_IsObject(j)) return rl_err("missing \"model\" object");
    const char *type = rl_tj_str(j, "type");
    rl_tkmodel *m = calloc(1, sizeof *m);
    if (!m) return rl_err("tokenizer: out of memory");
    m->unk_id = -1;
    int st;
    if (!type) {   /* older files omit the type: infer it */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "vocab");
        type = cJSON_IsArray(v) ? "Unigram" : cJSON_GetObjectItemCaseSensitive(j, "merges") ? "BPE" : "WordPiece";
    }
    if (!strcmp(type, "BPE")) {
        if (pthread_mutex_init(&m->cache_mu, NULL)) { free(m); return rl_err("model: mutex init failed"); }
        m->type = RL_TKMODEL_BPE;
        st = parse_bpe(m, j);
    }
    else if (!strcmp(type, "Unigram")) { m->type = RL_TKMODEL_UNIGRAM; st = parse_unigram(m, j); }
    else if (!strcmp(type, "WordPiece")) { m->type = RL_TKMODEL_WORDPIECE; st = parse_wordpiece(m, j); }
    else if (!strcmp(type, "WordLevel")) { m->type = RL_TKMODEL_WORDLEVEL; st = parse_wordlevel(m, j); }
    else { free(m); return rl_err("model: unsupported type \"%s\"", type); }
    if (st) {
        rl_tkmodel_free(m);
        return rl_err_prefix("model %s: ", type);
    }
    *out = m;
    return 0;
}

int rl_tkmodel_type(const rl_tkmodel *m) { return m->type; }
size_t rl_tkmodel_size(const rl_tkmodel *m) { return m->nids; }

int32_t rl_tkmodel_token_id(const rl_tkmodel *m, const char *s, size_t n) { return rl_tkmap_get(&m->vocab, s, n); }

const char *rl_tkmodel_id_token(const rl_tkmodel *m, int32_t id, size_t *len) {
    if (id < 0 || (size_t)id >= m->nids || m->toklen[id] == UINT32_MAX) return NULL;
    *len = m->toklen[id];
    return m->tokbuf.p + m->tokoff[id];
}

int rl_tkmodel_encode(const rl_tkmodel *m, const char *w, size_t n, rl_ivec *out) {
    if (!n) return 0;
    switch (m->type) {
    case RL_TKMODEL_BPE: return rl_tkbpe_encode(m, w, n, out);
    case RL_TKMODEL_UNIGRAM: return rl_tkunigram_encode(m, w, n, out);
    case RL_TKMODEL_WORDPIECE: return rl_tkwordpiece_encode(m, w, n, out);
    case RL_TKMODEL_WORDLEVEL: {
        int32_t id = rl_tkmap_get(&m->vocab, w, n);
        if (id < 0) id = m->unk_id;
        if (id < 0) return rl_err("model WordLevel: \"%.*s\" is not in the vocab and there is no unk_token", (int)(n > 64 ? 64 : n), w);
        return rl_tkivec_push(out, id);
    }
    }
    return rl_err("model: bad type");
}
