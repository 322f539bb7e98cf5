/* HuggingFace tokenizer.json: loads every component and runs the encode pipeline
 * (added tokens on raw text, normalizer, added tokens on normalized text, pre-tokenizer,
 * model, post-processor) and the decode pipeline (id -> token, skip specials, decoder). */
#include "tokenizer/tok_hf.h"
#include "util/err.h"
#include "util/fileio.h"
#include <stdlib.h>
#include <string.h>

struct rl_hf {
    rl_tknorm *norm;
    rl_pretok *pre;
    rl_tkmodel *model;
    rl_tkpost *post;
    rl_tkdec *dec;
    rl_added added;
};

void rl_hf_free(rl_hf *h) {
    if (!h) return;
    rl_tknorm_free(h->norm);
    rl_pretok_free(h->pre);
    rl_tkmodel_free(h->model);
    rl_tkpost_free(h->post);
    rl_tkdec_free(h->dec);
    rl_added_free(&h->added);
    free(h);
}

rl_hf *rl_hf_load(const char *path) {
    size_t len;
    char *txt = rl_read_file(path, &len);
    if (!txt) return NULL;
    cJSON *j = cJSON_ParseWithLength(txt, len);
    if (!j) {
        const char *e = cJSON_GetErrorPtr();
        size_t off = e && e >= txt && e <= txt + len ? (size_t)(e - txt) : 0;
        free(txt);
        rl_err("%s: invalid JSON near byte %zu", path, off);
        return NULL;
    }
    free(txt);
    rl_hf *h = rl_hf_from_json(j, path);
    cJSON_Delete(j);
    return h;
}

rl_hf *rl_hf_from_json(const cJSON *j, const char *path) {
    rl_hf *h = calloc(1, sizeof *h);
    if (!h) { rl_err("tokenizer: out of memory"); return NULL; }
    int st = cJSON_IsObject(j) ? 0 : rl_err("top level is not a JSON object");
    if (!st) st = rl_tkmodel_parse(cJSON_GetObjectItemCaseSensitive(j, "model"), &h->model);
    if (!st) st = rl_tknorm_parse(cJSON_GetObjectItemCaseSensitive(j, "normalizer"), &h->norm);
    if (!st) st = rl_pretok_parse(cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer"), &h->pre);
    if (!st) st = rl_tkpost_parse(cJSON_GetObjectItemCaseSensitive(j, "post_processor"), &h->post);
    if (!st) st = rl_tkdec_parse(cJSON_GetObjectItemCaseSensitive(j, "decoder"), &h->dec);
    if (!st) st = rl_added_parse(cJSON_GetObjectItemCaseSensitive(j, "added_tokens"), h->norm, &h->added);
    if (st) {
        rl_err_prefix("%s: ", path);
        rl_hf_free(h);
        return NULL;
    }
    return h;
}

void rl_hf_set_post(rl_hf *h, rl_tkpost *p) {
    rl_tkpost_free(h->post);
    h->post = p;
}

int rl_hf_encode(const rl_hf *h, const char *text, size_t len, int add_special, rl_ivec *out) {
    rl_buf arena = {0}, tmp = {0};
    rl_pieces a = {0}, b = {0};
    rl_ivec ids = {0};
    int st = rl_tkbuf_put(&arena, text, len) || rl_tkpieces_push(&a, 0, len, -1, 1) ||
             rl_added_split(&h->added, 0, &arena, &a, &b);
    if (!st && h->norm) {
        a.n = 0;
        for (size_t i = 0; i < b.n && !st; i++) {
            rl_piece p = b.v[i];
            if (p.id >= 0) { st = rl_tkpieces_push(&a, p.off, p.len, p.id, p.first); continue; }
            tmp.n = 0;
            st = rl_tknorm_apply(h->norm, arena.p + p.off, p.len, &tmp);
            size_t off = arena.n;
            if (!st && tmp.n) st = rl_tkbuf_put(&arena, tmp.p, tmp.n) || rl_tkpieces_push(&a, off, tmp.n, -1, p.first);
        }
        b.n = 0;
        if (!st) st = rl_added_split(&h->added, 1, &arena, &a, &b);
    }
    if (!st && h->pre) st = rl_pretok_apply(h->pre, &arena, &b);
    for (size_t i = 0; i < b.n && !st; i++) {
        const rl_piece *p = &b.v[i];
        st = p->id >= 0 ? rl_tkivec_push(&ids, p->id) : rl_tkmodel_encode(h->model, arena.p + p->off, p->len, &ids);
    }
    if (!st && add_special && h->post) st = rl_tkpost_apply(h->post, &ids);
    if (!st) st = rl_tkivec_append(out, ids.v, ids.n);
    free(ids.v); free(a.v); free(b.v);
    rl_tkbuf_free(&arena); rl_tkbuf_free(&tmp);
    return st ? -1 : 0;
}

static const char *id_text(const rl_hf *h, int32_t id, size_t *len, int *special) {
    const rl_added_tok *t = rl_added_by_id(&h->added, id);
    if (t) { *len = t->len; *special = t->special; return t->content; }
    *special = 0;
    return rl_tkmodel_id_token(h->model, id, len);
}

int rl_hf_decode(const rl_hf *h, const int32_t *ids, size_t n, int skip_special, rl_buf *out) {
    rl_strlist l = {0};
    int st = 0;
    for (size_t i = 0; i < n && !st; i++) {
        size_t len; int special;
        const char *s = id_text(h, ids[i], &len, &special);
        if (!s) { st = rl_err("decode: token id %d is not in the vocabulary (size %zu)", (int)ids[i], rl_hf_vocab_size(h)); break; }
        if (skip_special && special) continue;
        st = rl_tkstr_push(&l, s, len);
    }
    if (!st && h->dec) st = rl_tkdec_apply(h->dec, &l);
    for (size_t i = 0; i + 1 < l.se.n && !st; i += 2) {
        if (!h->dec && i) st = rl_tkbuf_put(out, " ", 1);
        if (!st) st = rl_tkbuf_put(out, l.text.p + l.se.v[i], l.se.v[i + 1]);
    }
    if (!st) st = rl_tkbuf_put(out, "", 0);
    rl_tkstr_free(&l);
    return st ? -1 : 0;
}

size_t rl_hf_vocab_size(const rl_hf *h) {
    size_t n = rl_tkmodel_size(h->model);
    return h->added.by_id_n > n ? h->added.by_id_n : n;
}

int32_t rl_hf_token_id(const rl_hf *h, const char *s, size_t n) {
    int32_t i = rl_tkmap_get(&h->added.by_content, s, n);
    if (i >= 0) return h->added.toks[i].id;
    return rl_tkmodel_token_id(h->model, s, n);
}

int rl_hf_is_special(const rl_hf *h, int32_t id) {
    const rl_added_tok *t = rl_added_by_id(&h->added, id);
    return t && t->special;
}

int rl_hf_model_type(const rl_hf *h) { return rl_tkmodel_type(h->model); }
