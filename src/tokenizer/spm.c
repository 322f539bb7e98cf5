/* SentencePiece tokenizer.model support, following sentencepiece 0.1.97: loading and validating
 * the model (model_interface.cc), the encode pipeline (normalize, model encode, byte fallback /
 * unknown merging as PopulateSentencePieceText does) and DecodeIds. */
#include "tokenizer/spm_internal.h"
#include "util/err.h"
#include "util/fileio.h"
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- maps ---- */

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h;
}

static int map_init(rl_spm_map *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot) return -1;
    for (size_t i = 0; i < cap; i++) m->slot[i] = -1;
    m->mask = cap - 1;
    return 0;
}

int rl_spm_map_get(const rl_spm *s, const rl_spm_map *m, const char *p, size_t n) {
    for (size_t i = hash_bytes(p, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        const rl_spm_piece *pc = &s->pieces[id];
        if (pc->len == n && memcmp(pc->text, p, n) == 0) return id;
    }
}

/* Inserts id unless its text is present: 0 inserted, 1 duplicate. */
static int map_put(rl_spm *s, rl_spm_map *m, int32_t id) {
    const rl_spm_piece *pc = &s->pieces[id];
    size_t i = hash_bytes(pc->text, pc->len) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        int32_t o = m->slot[i];
        if (o < 0) break;
        if (s->pieces[o].len == pc->len && memcmp(s->pieces[o].text, pc->text, pc->len) == 0) return 1;
    }
    m->slot[i] = id;
    return 0;
}

int rl_spm_lookup(const rl_spm *s, const char *p, size_t n) {
    int id = rl_spm_map_get(s, &s->reserved, p, n);
    if (id >= 0) return id;
    id = rl_spm_map_get(s, &s->normal, p, n);
    return id >= 0 ? id : s->unk_id;
}

size_t rl_spm_user_prefix(const void *sv, const char *p, size_t n) {
    const rl_spm *s = sv;
    size_t l = s->max_user_len < n ? s->max_user_len : n;
    for (; l > 0; l--) {
        int id = rl_spm_map_get(s, &s->normal, p, l);
        if (id >= 0 && s->pieces[id].type == RL_SPM_USER_DEFINED) return l;
    }
    return 0;
}

int rl_spm_segs_push(rl_spm_segs *s, size_t off, size_t len, int32_t id) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        rl_spm_seg *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return rl_err("spm: out of memory");
        s->v = nv;
        s->cap = nc;
    }
    rl_spm_seg g = { off, len, id };
    s->v[s->n++] = g;
    return 0;
}

/* "<0xNN>" with upper-case hex, as ByteToPiece writes it: the byte, or -1. */
static int piece_to_byte(const char *p, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    const char *h = memchr(hex, p[3], 16), *l = memchr(hex, p[4], 16);
    if (!h || !l || !p[3] || !p[4]) return -1;
    return (int)((h - hex) * 16 + (l - hex));
}

/* ---- load ---- */

static int str_or(const rl_spm_str *v, const char *def, const char **p, size_t *n) {
    if (v->n) { *p = v->p; *n = v->n; } else { *p = def; *n = strlen(def); }
    return 0;
}

/* Id of a trainer_spec piece name if it is a CONTROL piece, else -1 (bos_id()/eos_id()). */
static int control_id(const rl_spm *s, const rl_spm_str *v, const char *def) {
    const char *p;
    size_t n;
    str_or(v, def, &p, &n);
    int id = rl_spm_lookup(s, p, n);
    return id >= 0 && s->pieces[id].type == RL_SPM_CONTROL ? id : -1;
}

static int build(rl_spm *s, const rl_spm_proto *m) {
    const char *path = s->path;
    if (m->n_pieces == 0) return rl_err("%s: the model has no pieces", path);
    if (m->n_pieces > INT32_MAX / 2) return rl_err("%s: too many pieces", path);
    size_t total = 0;
    for (size_t i = 0; i < m->n_pieces; i++) total += m->pieces[i].piece.n + 1;
    s->pieces = calloc(m->n_pieces, sizeof *s->pieces);
    char *arena = malloc(total);
    if (!s->pieces || !arena || map_init(&s->normal, m->n_pieces) || map_init(&s->reserved, m->n_pieces)) {
        free(arena);
        return rl_err("%s: out of memory", path);
    }
    s->n_pieces = m->n_pieces;
    s->model_type = m->model_type;
    s->byte_fallback = m->byte_fallback;
    s->treat_ws_suffix = m->treat_whitespace_as_suffix;
    s->unk_id = -1;
    s->min_score = FLT_MAX;
    s->max_score = FLT_MIN;
    for (int b = 0; b < 256; b++) s->byte_id[b] = -1;
    for (size_t i = 0; i < m->n_pieces; i++) {
        const rl_spm_proto_piece *pp = &m->pieces[i];
        rl_spm_piece *pc = &s->pieces[i];
        pc->text = arena;
        memcpy(arena, pp->piece.p, pp->piece.n);
        arena[pp->piece.n] = '\0';
        arena += pp->piece.n + 1;
        pc->len = pp->piece.n;
        pc->score = pp->score;
        pc->type = pp->type;
    }
    for (size_t i = 0; i < m->n_pieces; i++) {
        rl_spm_piece *pc = &s->pieces[i];
        if (pc->len == 0) return rl_err("%s: piece %zu is empty", path, i);
        int normal = pc->type == RL_SPM_NORMAL || pc->type == RL_SPM_USER_DEFINED || pc->type == RL_SPM_UNUSED;
        if (map_put(s, normal ? &s->normal : &s->reserved, (int32_t)i))
            return rl_err("%s: piece %zu (\"%s\") is already defined", path, i, pc->text);
        if (normal && pc->len > s->max_piece_len) s->max_piece_len = pc->len;
        if (pc->type == RL_SPM_USER_DEFINED && pc->len > s->max_user_len) s->max_user_len = pc->len;
        if (pc->type == RL_SPM_NORMAL) {
            if (pc->score < s->min_score) s->min_score = pc->score;
            if (pc->score > s->max_score) s->max_score = pc->score;
        }
        if (pc->type == RL_SPM_UNKNOWN) {
            if (s->unk_id >= 0) return rl_err("%s: unk is defined twice (pieces %d and %zu)", path, s->unk_id, i);
            s->unk_id = (int)i;
        }
        if (pc->type == RL_SPM_BYTE) {
            if (!s->byte_fallback)
                return rl_err("%s: byte piece %s found although byte_fallback is false", path, pc->text);
            int b = piece_to_byte(pc->text, pc->len);
            if (b < 0) return rl_err("%s: byte piece \"%s\" is invalid", path, pc->text);
            s->byte_id[b] = (int)i;
        }
    }
    if (s->unk_id < 0) return rl_err("%s: no unk piece is defined", path);
    if (s->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (s->byte_id[b] < 0) return rl_err("%s: byte_fallback is set but piece <0x%02X> is missing", path, b);
    if (s->model_type == RL_SPM_UNIGRAM && s->max_piece_len == 0)
        return rl_err("%s: unigram model has no normal pieces", path);
    s->bos_id = control_id(s, &m->bos_piece, "<s>");
    s->eos_id = control_id(s, &m->eos_piece, "</s>");
    if (m->has_unk_surface) s->unk_surface = m->unk_surface;
    else { s->unk_surface.p = " \xE2\x81\x87 "; s->unk_surface.n = 5; }
    s->add_dummy_prefix = m->norm.add_dummy_prefix;
    s->remove_extra_ws = m->norm.remove_extra_whitespaces;
    if (rl_spm_norm_init(&s->norm, &m->norm, s->treat_ws_suffix, path)) return -1;
    s->norm.prefix = rl_spm_user_prefix;
    s->norm.prefix_ctx = s;
    if (m->denorm.present && m->denorm.charsmap.n) {
        if (rl_spm_norm_init(&s->denorm, &m->denorm, 0, path)) return -1;
        s->has_denorm = 1;
    }
    return 0;
}

rl_spm *rl_spm_load(const char *path) {
    size_t len = 0;
    uint8_t *buf = (uint8_t *)rl_read_file(path, &len);
    if (!buf) return NULL;
    rl_spm *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        free(buf);
        rl_err("%s: out of memory", path);
        return NULL;
    }
    s->file = buf;
    rl_spm_proto m;
    if (rl_spm_proto_parse(buf, len, path, &m)) { rl_spm_free(s); return NULL; }
    int rc = build(s, &m);
    rl_spm_proto_free(&m);
    if (rc) { rl_spm_free(s); return NULL; }
    return s;
}

rl_spm *rl_spm_build(const char *name, const rl_spm_proto *m) {
    rl_spm *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(name))) {
        free(s);
        rl_err("%s: out of memory", name);
        return NULL;
    }
    if (build(s, m)) { rl_spm_free(s); return NULL; }
    return s;
}

void rl_spm_free(rl_spm *s) {
    if (!s) return;
    if (s->pieces) free(s->pieces[0].text);
    free(s->pieces);
    free(s->normal.slot);
    free(s->reserved.slot);
    rl_spm_norm_free(&s->norm);
    rl_spm_norm_free(&s->denorm);
    free(s->file);
    free(s->path);
    free(s);
}

/* ---- encode ---- */

static int ids_push(int32_t **v, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int32_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return rl_err("spm: out of memory");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = id;
    return 0;
}

int rl_spm_encode(const rl_spm *s, const char *text, size_t len, int add_bos, int32_t **ids, size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if (add_bos && s->bos_id < 0) return rl_err("%s: add_bos requested but the model has no BOS piece", s->path);
    rl_spm_buf nb = { NULL, 0, 0 };
    rl_spm_segs sg = { NULL, 0, 0 };
    int32_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    if (rl_spm_normalize(&s->norm, text, len, &nb)) goto done;
    int r;
    switch (s->model_type) {
    case RL_SPM_BPE: r = rl_spm_encode_bpe(s, nb.p, nb.n, &sg); break;
    case RL_SPM_WORD: r = rl_spm_encode_word(s, nb.p, nb.n, &sg); break;
    case RL_SPM_CHAR: r = rl_spm_encode_char(s, nb.p, nb.n, &sg); break;
    default: r = rl_spm_encode_unigram(s, nb.p, nb.n, &sg); break;
    }
    if (r) goto done;
    if (add_bos && ids_push(&v, &n, &cap, s->bos_id)) goto done;
    int prev_unk = 0;
    for (size_t i = 0; i < sg.n; i++) {
        const rl_spm_seg *g = &sg.v[i];
        int type = s->pieces[g->id].type;
        int is_unk = type == RL_SPM_UNKNOWN;
        if (type == RL_SPM_CONTROL) {
            if (ids_push(&v, &n, &cap, g->id)) goto done;
        } else if (is_unk && s->byte_fallback) {
            for (size_t k = 0; k < g->len; k++)
                if (ids_push(&v, &n, &cap, s->byte_id[(unsigned char)nb.p[g->off + k]])) goto done;
        } else if (!(prev_unk && is_unk)) { /* a run of unknowns stays one piece */
            if (ids_push(&v, &n, &cap, g->id)) goto done;
        }
        prev_unk = is_unk;
    }
    *ids = v;
    *n_ids = n;
    v = NULL;
    rc = 0;
done:
    free(v);
    free(nb.p);
    free(sg.v);
    return rc;
}

/* ---- decode ---- */

/* Appends the text of the byte pieces ids[b..e): each valid UTF-8 character as is, each byte
 * that does not start one as U+FFFD. */
static int flush_bytes(const rl_spm *s, const int32_t *ids, size_t b, size_t e, rl_spm_buf *o) {
    if (b >= e) return 0;
    char stackbuf[64];
    char *bytes = e - b <= sizeof stackbuf ? stackbuf : malloc(e - b);
    if (!bytes) return rl_err("spm: out of memory");
    for (size_t i = b; i < e; i++) {
        const rl_spm_piece *pc = &s->pieces[ids[i]];
        bytes[i - b] = (char)piece_to_byte(pc->text, pc->len);
    }
    int rc = 0;
    for (size_t off = 0, n = e - b; off < n && rc == 0;) {
        size_t l;
        if (rl_spm_utf8_valid(bytes + off, n - off, &l)) rc = rl_spm_buf_put(o, bytes + off, l);
        else rc = rl_spm_buf_put(o, "\xEF\xBF\xBD", 3);
        off += l;
    }
    if (bytes != stackbuf) free(bytes);
    return rc;
}

/* Appends piece text with U+2581 turned into spaces. */
static int put_unescaped(rl_spm_buf *o, const char *p, size_t n) {
    size_t i = 0, from = 0;
    while (i + 3 <= n) {
        if (memcmp(p + i, "\xe2\x96\x81", 3) == 0) {
            if (rl_spm_buf_put(o, p + from, i - from) || rl_spm_buf_put(o, " ", 1)) return -1;
            i += 3;
            from = i;
        } else {
            i++;
        }
    }
    return rl_spm_buf_put(o, p + from, n - from);
}

int rl_spm_decode(const rl_spm *s, const int32_t *ids_in, size_t n, int skip_special, char **text, size_t *len) {
    *text = NULL;
    if (len) *len = 0;
    rl_spm_buf o = { NULL, 0, 0 };
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids || rl_spm_buf_put(&o, "", 0)) { free(ids); return rl_err("spm: out of memory"); }
    for (size_t i = 0; i < n; i++) {
        if (ids_in[i] < 0 || (size_t)ids_in[i] >= s->n_pieces) {
            free(ids);
            free(o.p);
            return rl_err("%s: invalid id %d in decode (vocab size %zu)", s->path, (int)ids_in[i], s->n_pieces);
        }
        /* Decode goes through the piece text, as sentencepiece's Decode(pieces) does. */
        const rl_spm_piece *pc = &s->pieces[ids_in[i]];
        ids[i] = rl_spm_lookup(s, pc->text, pc->len);
    }
    size_t byte_start = 0;
    int bos_ws = 1, bos_ws_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const rl_spm_piece *pc = &s->pieces[ids[i]];
        const rl_spm_piece *orig = &s->pieces[ids_in[i]];
        if (pc->type == RL_SPM_BYTE) continue;
        if (flush_bytes(s, ids, byte_start, i, &o)) goto fail;
        if (bos_ws_seen || o.n) bos_ws = 0;
        byte_start = i + 1;
        bos_ws_seen = 0;
        if (pc->type == RL_SPM_CONTROL) {
            if (!skip_special && rl_spm_buf_put(&o, orig->text, orig->len)) goto fail;
        } else if (pc->type == RL_SPM_UNKNOWN) {
            const char *p = orig->text;
            size_t l = orig->len;
            if (l == pc->len && memcmp(p, pc->text, l) == 0) { p = s->unk_surface.p; l = s->unk_surface.n; }
            if (rl_spm_buf_put(&o, p, l)) goto fail;
        } else {
            const char *p = orig->text;
            size_t l = orig->len;
            if (bos_ws && (s->add_dummy_prefix || s->remove_extra_ws)) {
                if (l >= 3 && memcmp(p, "\xe2\x96\x81", 3) == 0) {
                    p += 3;
                    l -= 3;
                    bos_ws_seen = 1;
                }
                if (s->remove_extra_ws) bos_ws_seen = 0;
            }
            if (put_unescaped(&o, p, l)) goto fail;
        }
    }
    if (flush_bytes(s, ids, byte_start, n, &o)) goto fail;
    free(ids);
    if (s->has_denorm) {
        rl_spm_buf d = { NULL, 0, 0 };
        if (rl_spm_normalize(&s->denorm, o.p, o.n, &d)) { free(o.p); free(d.p); return -1; }
        free(o.p);
        o = d;
    }
    *text = o.p;
    if (len) *len = o.n;
    return 0;
fail:
    free(ids);
    free(o.p);
    return -1;
}

/* ---- accessors ---- */

size_t rl_spm_vocab_size(const rl_spm *s) { return s ? s->n_pieces : 0; }

int rl_spm_piece_id(const rl_spm *s, const char *piece) {
    if (!s || !piece) return -1;
    size_t n = strlen(piece);
    int id = rl_spm_map_get(s, &s->reserved, piece, n);
    return id >= 0 ? id : rl_spm_map_get(s, &s->normal, piece, n);
}

const char *rl_spm_id_to_piece(const rl_spm *s, int id) {
    if (!s || id < 0 || (size_t)id >= s->n_pieces) return NULL;
    return s->pieces[id].text;
}

int rl_spm_bos_id(const rl_spm *s) { return s ? s->bos_id : -1; }
int rl_spm_eos_id(const rl_spm *s) { return s ? s->eos_id : -1; }
int rl_spm_unk_id(const rl_spm *s) { return s ? s->unk_id : -1; }

int rl_spm_is_control(const rl_spm *s, int id) {
    return s && id >= 0 && (size_t)id < s->n_pieces && s->pieces[id].type == RL_SPM_CONTROL;
}
