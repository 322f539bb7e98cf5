/* SentencePiece ModelProto reader: protobuf wire format (varints, fixed32/64, length-delimited,
 * groups skipped) with every length checked against the buffer. Field numbers follow
 * sentencepiece_model.proto; unknown fields and unknown enum values are ignored as protobuf does. */
#include "tokenizer/spm_proto.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *base, *p, *end;
    const char *name;
} rd;

enum { W_VARINT = 0, W_I64 = 1, W_LEN = 2, W_SGROUP = 3, W_EGROUP = 4, W_I32 = 5 };

static int rd_varint(rd *r, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return rl_err("%s: truncated protobuf varint at byte %zu", r->name, (size_t)(r->p - r->base));
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) { *v = x; return 0; }
    }
    return rl_err("%s: malformed protobuf varint (over 10 bytes) at byte %zu", r->name, (size_t)(r->p - r->base));
}

static int rd_tag(rd *r, uint32_t *field, int *wire) {
    uint64_t t;
    if (rd_varint(r, &t)) return -1;
    *wire = (int)(t & 7);
    if ((t >> 3) == 0 || (t >> 3) > 0x1fffffff)
        return rl_err("%s: malformed protobuf field number at byte %zu", r->name, (size_t)(r->p - r->base));
    *field = (uint32_t)(t >> 3);
    return 0;
}

static int rd_len(rd *r, rd *sub) {
    uint64_t n;
    if (rd_varint(r, &n)) return -1;
    if (n > (uint64_t)(r->end - r->p))
        return rl_err("%s: protobuf length %llu at byte %zu runs past the end (%zu bytes left)", r->name,
                      (unsigned long long)n, (size_t)(r->p - r->base), (size_t)(r->end - r->p));
    sub->base = r->base;
    sub->p = r->p;
    sub->end = r->p + n;
    sub->name = r->name;
    r->p += n;
    return 0;
}

static int rd_fixed32(rd *r, uint32_t *v) {
    if (r->end - r->p < 4)
        return rl_err("%s: truncated protobuf fixed32 at byte %zu", r->name, (size_t)(r->p - r->base));
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

static int rd_skip(rd *r, uint32_t field, int wire, int depth) {
    uint64_t v;
    uint32_t v32;
    rd sub;
    switch (wire) {
    case W_VARINT: return rd_varint(r, &v);
    case W_I64:
        if (r->end - r->p < 8)
            return rl_err("%s: truncated protobuf fixed64 at byte %zu", r->name, (size_t)(r->p - r->base));
        r->p += 8;
        return 0;
    case W_LEN: return rd_len(r, &sub);
    case W_I32: return rd_fixed32(r, &v32);
    case W_SGROUP:
        if (depth > 64) return rl_err("%s: protobuf groups nested too deeply", r->name);
        for (;;) {
            uint32_t f;
            int w;
            if (r->p >= r->end) return rl_err("%s: truncated protobuf group (field %u)", r->name, field);
            if (rd_tag(r, &f, &w)) return -1;
            if (w == W_EGROUP) {
                if (f != field) return rl_err("%s: mismatched protobuf end-group (field %u)", r->name, f);
                return 0;
            }
            if (rd_skip(r, f, w, depth + 1)) return -1;
        }
    default:
        return rl_err("%s: malformed protobuf: wire type %d (field %u) at byte %zu", r->name, wire, field,
                      (size_t)(r->p - r->base));
    }
}

/* Reads the field's value if its wire type is the expected one; otherwise skips it as protobuf
 * treats a mismatched wire type as an unknown field. *got says whether the value was read. */
static int rd_varint_field(rd *r, uint32_t field, int wire, uint64_t *v, int *got) {
    *got = 0;
    if (wire != W_VARINT) return rd_skip(r, field, wire, 0);
    if (rd_varint(r, v)) return -1;
    *got = 1;
    return 0;
}

static int rd_str_field(rd *r, uint32_t field, int wire, rl_spm_str *s) {
    if (wire != W_LEN) return rd_skip(r, field, wire, 0);
    rd sub;
    if (rd_len(r, &sub)) return -1;
    s->p = (const char *)sub.p;
    s->n = (size_t)(sub.end - sub.p);
    return 0;
}

static int parse_piece(rd *r, rl_spm_proto_piece *pc) {
    pc->piece.p = "";
    pc->piece.n = 0;
    pc->score = 0.0f;
    pc->type = RL_SPM_NORMAL;
    while (r->p < r->end) {
        uint32_t f;
        int w, got;
        uint64_t v;
        if (rd_tag(r, &f, &w)) return -1;
        if (f == 1) {
            if (rd_str_field(r, f, w, &pc->piece)) return -1;
        } else if (f == 2 && w == W_I32) {
            uint32_t bits;
            if (rd_fixed32(r, &bits)) return -1;
            memcpy(&pc->score, &bits, sizeof bits);
        } else if (f == 3) {
            if (rd_varint_field(r, f, w, &v, &got)) return -1;
            if (got && v >= 1 && v <= 6) pc->type = (int)v;
        } else if (rd_skip(r, f, w, 0)) {
            return -1;
        }
    }
    return 0;
}

static int parse_trainer(rd *r, rl_spm_proto *m) {
    while (r->p < r->end) {
        uint32_t f;
        int w, got;
        uint64_t v;
        if (rd_tag(r, &f, &w)) return -1;
        switch (f) {
        case 3:
            if (rd_varint_field(r, f, w, &v, &got)) return -1;
            if (got && v >= 1 && v <= 4) m->model_type = (int)v;
            break;
        case 24: case 25: case 35:
            if (rd_varint_field(r, f, w, &v, &got)) return -1;
            if (got) {
                int b = v != 0;
                if (f == 24) m->treat_whitespace_as_suffix = b;
                else if (f == 25) m->split_digits = b;
                else m->byte_fallback = b;
            }
            break;
        case 44:
            if (w == W_LEN) m->has_unk_surface = 1;
            if (rd_str_field(r, f, w, &m->unk_surface)) return -1;
            break;
        case 45: if (rd_str_field(r, f, w, &m->unk_piece)) return -1; break;
        case 46: if (rd_str_field(r, f, w, &m->bos_piece)) return -1; break;
        case 47: if (rd_str_field(r, f, w, &m->eos_piece)) return -1; break;
        case 48: if (rd_str_field(r, f, w, &m->pad_piece)) return -1; break;
        default:
            if (rd_skip(r, f, w, 0)) return -1;
        }
    }
    return 0;
}

static int parse_norm(rd *r, rl_spm_normspec *ns) {
    ns->present = 1;
    while (r->p < r->end) {
        uint32_t f;
        int w, got;
        uint64_t v;
        if (rd_tag(r, &f, &w)) return -1;
        switch (f) {
        case 1: if (rd_str_field(r, f, w, &ns->name)) return -1; break;
        case 2: if (rd_str_field(r, f, w, &ns->charsmap)) return -1; break;
        case 3: case 4: case 5:
            if (rd_varint_field(r, f, w, &v, &got)) return -1;
            if (got) {
                int b = v != 0;
                if (f == 3) ns->add_dummy_prefix = b;
                else if (f == 4) ns->remove_extra_whitespaces = b;
                else ns->escape_whitespaces = b;
            }
            break;
        default:
            if (rd_skip(r, f, w, 0)) return -1;
        }
    }
    return 0;
}

static void norm_defaults(rl_spm_normspec *ns) {
    memset(ns, 0, sizeof *ns);
    ns->name.p = ns->charsmap.p = "";
    ns->add_dummy_prefix = ns->remove_extra_whitespaces = ns->escape_whitespaces = 1;
}

int rl_spm_proto_parse(const uint8_t *buf, size_t len, const char *name, rl_spm_proto *m) {
    memset(m, 0, sizeof *m);
    m->model_type = RL_SPM_UNIGRAM;
    m->unk_surface.p = m->unk_piece.p = m->bos_piece.p = m->eos_piece.p = m->pad_piece.p = "";
    norm_defaults(&m->norm);
    norm_defaults(&m->denorm);
    rd r = { buf, buf, buf + len, name };
    size_t cap = 0;
    while (r.p < r.end) {
        uint32_t f;
        int w;
        if (rd_tag(&r, &f, &w)) goto fail;
        if ((f == 1 || f == 2 || f == 3 || f == 5) && w == W_LEN) {
            rd sub;
            if (rd_len(&r, &sub)) goto fail;
            if (f == 1) {
                if (m->n_pieces == cap) {
                    size_t nc = cap ? cap * 2 : 1024;
                    rl_spm_proto_piece *np = realloc(m->pieces, nc * sizeof *np);
                    if (!np) { rl_err("%s: out of memory reading pieces", name); goto fail; }
                    m->pieces = np;
                    cap = nc;
                }
                if (parse_piece(&sub, &m->pieces[m->n_pieces])) goto fail;
                m->n_pieces++;
            } else if (f == 2) {
                if (parse_trainer(&sub, m)) goto fail;
            } else if (parse_norm(&sub, f == 3 ? &m->norm : &m->denorm)) {
                goto fail;
            }
        } else if (rd_skip(&r, f, w, 0)) {
            goto fail;
        }
    }
    return 0;
fail:
    rl_spm_proto_free(m);
    return -1;
}

void rl_spm_proto_free(rl_spm_proto *p) {
    if (!p) return;
    free(p->pieces);
    p->pieces = NULL;
    p->n_pieces = 0;
}
