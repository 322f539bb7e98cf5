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

/* tokenizer.ggml.pre -> the pre-tokenizer split regex and normalizer of the HF tokenizer it was
 * converted from. */
#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RX_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
static const struct { const char *pre, *regex[3], *norm; int ignore_merges; } PRES[] = {
    {"gpt-2", {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"}, NULL, 0},
    {"default", {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"}, NULL, 0},
    {"llama-bpe", {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, NULL, 1},
    {"llama3", {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, NULL, 1},
    {"qwen2", {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "NFC", 0},
    /* Qwen3.5: letters with their combining marks (\\p{M}) in one piece; llama.cpp's regex (no golden here) */
    {"qwen35", {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
                "\\s+(?!\\S)|\\s+"}, "NFC", 0},
    /* o200k (gpt-oss, GPT-4o): tokenizer.json's split regex, which llama.cpp rewrites without \p{Lu} classes */
    {"gpt-4o", {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
               "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
               "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, NULL, 0},
    /* DeepSeek V3 / R1: three splits in turn (digits, CJK runs, the rest), as their tokenizer.json */
    /* llama.cpp's other names for the same splits (its own copies of the HF regexes, equivalent) */
    {"mpt", {RX_GPT2}, NULL, 0}, {"olmo", {RX_GPT2}, NULL, 0}, {"jais", {RX_GPT2}, NULL, 0},
    {"glm4", {RX_LLAMA3}, NULL, 0}, {"chatglm-bpe", {RX_LLAMA3}, NULL, 0}, {"dbrx", {RX_LLAMA3}, NULL, 0},
    {"smaug-bpe", {RX_LLAMA3}, NULL, 0},
    /* digits one by one, then GPT-2's (HF: Digits individual_digits + ByteLevel use_regex) */
    {"starcoder", {"\\p{N}", RX_GPT2}, NULL, 0}, {"command-r", {"\\p{N}", RX_GPT2}, NULL, 0},
    {"refact", {"\\p{N}", RX_GPT2}, NULL, 0}, {"smollm", {"\\p{N}", RX_GPT2}, NULL, 0},
    {"codeshell", {"\\p{N}", RX_GPT2}, NULL, 0}, {"exaone", {"\\p{N}", RX_GPT2}, NULL, 0},
    {"minerva", {"\\p{N}", RX_GPT2}, NULL, 0},
    /* Mistral's tekken (Nemo, Small 3, Pixtral): tokenizer.json's regex; llama.cpp ignores merges for it */
    {"tekken", {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
                "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, NULL, 1},
    {"deepseek-v3", {"\\p{N}{1,3}", "[\xe4\xb8\x80" "-\xe9\xbe\xa5" "\xe3\x81\x80" "-\xe3\x82\x9f" "\xe3\x82\xa0" "-\xe3\x83\xbf" "]+",
                     "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|"
                     "\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, NULL, 0},
};

const char *rl_gguf_pre_for_regex(const char *const *regex, int n, int ignore_merges, const char *norm) {
    const char *loose = NULL; /* the same splits, another merge rule or normalizer */
    for (size_t k = 0; n > 0 && n <= 3 && k < sizeof PRES / sizeof *PRES; k++) {
        int i = 0;
        while (i < n && PRES[k].regex[i] && !strcmp(PRES[k].regex[i], regex[i])) i++;
        if (i != n || (n < 3 && PRES[k].regex[n])) continue;
        int same_norm = !PRES[k].norm == !norm && (!norm || !strcmp(PRES[k].norm, norm));
        if (same_norm && PRES[k].ignore_merges == ignore_merges) return PRES[k].pre;
        if (!loose) loose = PRES[k].pre;
    }
    return loose;
}

static cJSON *bytelevel(void) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddBoolToObject(b, "add_prefix_space", 0);
    cJSON_AddBoolToObject(b, "trim_offsets", 0);
    cJSON_AddBoolToObject(b, "use_regex", 0);
    return b;
}

/* The tokenizer.json object of a GGUF BPE ("gpt2") vocabulary. */
static cJSON *bpe_json(const rl_gguf *g) {
    const rl_gguf_kv *toks = arr(g, "tokenizer.ggml.tokens", RL_GGUF_STRING, 0);
    if (!toks) { rl_err("%s: no tokenizer.ggml.tokens (the file carries no vocabulary)", g->path); return NULL; }
    if (toks == (const rl_gguf_kv *)-1) return NULL;
    const rl_gguf_kv *ty = arr(g, "tokenizer.ggml.token_type", RL_GGUF_I32, toks->arr_n);
    const rl_gguf_kv *mg = arr(g, "tokenizer.ggml.merges", RL_GGUF_STRING, 0);
    if (ty == (const rl_gguf_kv *)-1 || mg == (const rl_gguf_kv *)-1) return NULL;
    if (!mg) { rl_err("%s: BPE vocabulary without tokenizer.ggml.merges", g->path); return NULL; }
    const char *pre = rl_gguf_strv(g, "tokenizer.ggml.pre");
    size_t k = 0;
    while (k < sizeof PRES / sizeof *PRES && (!pre || strcmp(PRES[k].pre, pre))) k++;
    if (!pre) k = 0; /* no pre-tokenizer named: GPT-2's */
    if (k == sizeof PRES / sizeof *PRES) {
        rl_err("%s: BPE pre-tokenizer \"%s\" is not supported (supported: gpt-2, default, mpt, olmo, jais, llama-bpe, llama3, glm4, chatglm-bpe, dbrx, smaug-bpe, qwen2, qwen35, gpt-4o, starcoder, command-r, refact, smollm, codeshell, exaone, minerva, tekken, deepseek-v3)", g->path, pre);
        return NULL;
    }
    cJSON *j = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", PRES[k].ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *merges = cJSON_AddArrayToObject(model, "merges");
    cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
    for (uint64_t i = 0; i < toks->arr_n; i++) {
        const char *s = ((const rl_gguf_str *)toks->arr)[i].s;
        int32_t type = RL_SPM_NORMAL;
        if (ty) memcpy(&type, (const char *)ty->arr + 4 * i, 4);
        cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber((double)i));
        if (type == RL_SPM_CONTROL || type == RL_SPM_USER_DEFINED) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", s);
            cJSON_AddBoolToObject(a, "single_word", 0);
            cJSON_AddBoolToObject(a, "lstrip", 0);
            cJSON_AddBoolToObject(a, "rstrip", 0);
            cJSON_AddBoolToObject(a, "normalized", 0);
            cJSON_AddBoolToObject(a, "special", type == RL_SPM_CONTROL);
            cJSON_AddItemToArray(added, a);
        }
    }
    for (uint64_t i = 0; i < mg->arr_n; i++) cJSON_AddItemToArray(merges, cJSON_CreateString(((const rl_gguf_str *)mg->arr)[i].s));
    if (PRES[k].norm) {
        cJSON *n = cJSON_AddObjectToObject(j, "normalizer");
        cJSON_AddStringToObject(n, "type", PRES[k].norm);
    } else cJSON_AddNullToObject(j, "normalizer");
    cJSON *pt = cJSON_AddObjectToObject(j, "pre_tokenizer"), *seq = cJSON_AddArrayToObject(pt, "pretokenizers");
    cJSON_AddStringToObject(pt, "type", "Sequence");
    for (int r = 0; r < 3 && PRES[k].regex[r]; r++) {
        cJSON *split = cJSON_CreateObject(), *pat = cJSON_AddObjectToObject(split, "pattern");
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(pat, "Regex", PRES[k].regex[r]);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddBoolToObject(split, "invert", 0);
        cJSON_AddItemToArray(seq, split);
    }
    cJSON_AddItemToArray(seq, bytelevel());
    cJSON_AddNullToObject(j, "post_processor");
    cJSON_AddItemToObject(j, "decoder", bytelevel());
    return j;
}

rl_hf *rl_hf_from_gguf(const rl_gguf *g) {
    cJSON *j = bpe_json(g);
    if (!j) return NULL;
    rl_hf *h = rl_hf_from_json(j, g->path);
    cJSON_Delete(j);
    if (!h) return NULL;
    int64_t bos;
    if (rl_gguf_tok_flag(g, "add_bos_token", 0) && rl_gguf_int(g, "tokenizer.ggml.bos_token_id", &bos) == 1) {
        rl_tkpost *p = rl_tkpost_bos_eos((int32_t)bos, -1);
        if (!p) { rl_hf_free(h); return NULL; }
        rl_hf_set_post(h, p);
    }
    return h;
}
