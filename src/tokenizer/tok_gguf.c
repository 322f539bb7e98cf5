/* GGUF SentencePiece vocabulary -> rl_spm (see tok_gguf.h). llama.cpp's "llama" vocabulary is a
 * SentencePiece BPE model: token types use SentencePiece's numbering, the normalizer is the
 * identity with a dummy "▁" prefix (tokenizer.ggml.add_space_prefix) and no whitespace folding,
 * and byte pieces <0xNN> give byte fallback. */
#include "tokenizer/tok_gguf.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rl_gguf_tok_flag(const rl_gguf *g, const char *key, int def) {
    char k[128];
    snprintf(k, sizeof k, "tokenizer.ggml.%s", key);
    int64_t v;
    return rl_gguf_int(g, k, &v) == 1 ? v != 0 : def;
}

static const rl_gguf_kv *arr(const rl_gguf *g, const char *key, rl_gguf_type t, uint64_t n) {
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (!kv) return NULL;
    if (kv->type != RL_GGUF_ARRAY || kv->arr_type != t || (n && kv->arr_n != n)) {
        rl_err("%s: %s must be an array of %llu %s", g->path, key, (unsigned long long)n, rl_gguf_type_name(t));
        return (const rl_gguf_kv *)-1;
    }
    return kv;
}

static void piece_of(const rl_gguf *g, const char *key, const rl_gguf_kv *toks, rl_spm_str *out) {
    int64_t id;
    if (rl_gguf_int(g, key, &id) == 1 && id >= 0 && (uint64_t)id < toks->arr_n) {
        const rl_gguf_str *s = &((const rl_gguf_str *)toks->arr)[id];
        out->p = s->s;
        out->n = s->len;
    }
}

rl_spm *rl_spm_from_gguf(const rl_gguf *g) {
    const rl_gguf_kv *toks = arr(g, "tokenizer.ggml.tokens", RL_GGUF_STRING, 0);
    if (!toks) { rl_err("%s: no tokenizer.ggml.tokens (the file carries no vocabulary)", g->path); return NULL; }
    if (toks == (const rl_gguf_kv *)-1) return NULL;
    const rl_gguf_kv *sc = arr(g, "tokenizer.ggml.scores", RL_GGUF_F32, toks->arr_n);
    const rl_gguf_kv *ty = arr(g, "tokenizer.ggml.token_type", RL_GGUF_I32, toks->arr_n);
    if (sc == (const rl_gguf_kv *)-1 || ty == (const rl_gguf_kv *)-1) return NULL;
    rl_spm_proto m;
    memset(&m, 0, sizeof m);
    m.pieces = calloc(toks->arr_n + 1, sizeof *m.pieces);
    if (!m.pieces) { rl_err("%s: out of memory", g->path); return NULL; }
    m.n_pieces = toks->arr_n;
    for (uint64_t i = 0; i < toks->arr_n; i++) {
        const rl_gguf_str *s = &((const rl_gguf_str *)toks->arr)[i];
        float score = 0;
        int32_t type = RL_SPM_NORMAL;
        if (sc) memcpy(&score, (const char *)sc->arr + 4 * i, 4);
        if (ty) memcpy(&type, (const char *)ty->arr + 4 * i, 4);
        if (type < RL_SPM_NORMAL || type > RL_SPM_BYTE) {
            rl_err("%s: token %llu has unknown type %d", g->path, (unsigned long long)i, (int)type);
            free(m.pieces);
            return NULL;
        }
        if (type == RL_SPM_BYTE) m.byte_fallback = 1;
        m.pieces[i] = (rl_spm_proto_piece){{s->s, s->len}, score, type};
    }
    m.model_type = RL_SPM_BPE;
    m.norm.present = 1;
    m.norm.add_dummy_prefix = rl_gguf_tok_flag(g, "add_space_prefix", 1);
    m.norm.remove_extra_whitespaces = 0;
    m.norm.escape_whitespaces = 1;
    m.unk_surface.p = m.unk_piece.p = m.bos_piece.p = m.eos_piece.p = m.pad_piece.p = "";
    piece_of(g, "tokenizer.ggml.bos_token_id", toks, &m.bos_piece);
    piece_of(g, "tokenizer.ggml.eos_token_id", toks, &m.eos_piece);
    piece_of(g, "tokenizer.ggml.unknown_token_id", toks, &m.unk_piece);
    rl_spm *s = rl_spm_build(g->path, &m);
    free(m.pieces);
    return s;
}

static void add_token(cJSON *o, const rl_gguf *g, const char *key, const char *json_key) {
    const rl_gguf_kv *toks = rl_gguf_get(g, "tokenizer.ggml.tokens");
    int64_t id;
    if (toks && toks->type == RL_GGUF_ARRAY && toks->arr_type == RL_GGUF_STRING && rl_gguf_int(g, key, &id) == 1 &&
        id >= 0 && (uint64_t)id < toks->arr_n)
        cJSON_AddStringToObject(o, json_key, ((const rl_gguf_str *)toks->arr)[id].s);
}

cJSON *rl_gguf_tokenizer_config(const char *path) {
    rl_gguf *g = rl_gguf_open(path, -1);
    if (!g) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) { rl_gguf_free(g); rl_err("%s: out of memory", path); return NULL; }
    add_token(o, g, "tokenizer.ggml.bos_token_id", "bos_token");
    add_token(o, g, "tokenizer.ggml.eos_token_id", "eos_token");
    add_token(o, g, "tokenizer.ggml.unknown_token_id", "unk_token");
    add_token(o, g, "tokenizer.ggml.padding_token_id", "pad_token");
    const char *ct = rl_gguf_strv(g, "tokenizer.chat_template");
    if (ct) cJSON_AddStringToObject(o, "chat_template", ct);
    rl_gguf_free(g);
    return o;
}
