/* Tests for the SentencePiece tokenizer.model support: every llama2_spm golden row (encode and
 * decode, from python3-sentencepiece 0.1.97), synthetic models written here (BPE ties and UNUSED
 * resegmentation, Unigram, user-defined symbols, unknown merging, a hand-built charsmap trie,
 * whitespace options) and malformed files (truncated, corrupted, inconsistent). */
#include "test.h"
#include "tokenizer/spm.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>

static char g_tmp[64];

static char *golden_path(const char *file) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/tokenizers/llama2_spm/%s", t_shared(), file);
    return buf;
}

static rl_spm *load_llama(void) {
    rl_spm *s = rl_spm_load(golden_path("tokenizer.model"));
    CHECK(s != NULL, "load: %s", rl_errmsg());
    return s;
}

static int ids_from_json(const cJSON *arr, int32_t **out) {
    int n = cJSON_GetArraySize(arr);
    *out = malloc((n ? n : 1) * sizeof **out);
    for (int i = 0; i < n; i++) (*out)[i] = (int32_t)cJSON_GetArrayItem(arr, i)->valuedouble;
    return n;
}

/* The JSON string value of "key" in a jsonl line, decoded with its true length (cJSON stops at
 * an embedded U+0000). Malloc'd; NULL if absent or malformed. */
static char *json_str(const char *line, const char *key, size_t *len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p) return NULL;
    p += strlen(pat);
    char *out = malloc(strlen(p) + 1);
    size_t n = 0;
    while (*p && *p != '"') {
        if (*p != '\\') { out[n++] = *p++; continue; }
        p++;
        char c = *p++;
        if (c == 'u') {
            unsigned cp = (unsigned)strtoul((char[]){ p[0], p[1], p[2], p[3], 0 }, NULL, 16);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[]){ p[2], p[3], p[4], p[5], 0 }, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (cp < 0x80) out[n++] = (char)cp;
            else if (cp < 0x800) { out[n++] = (char)(0xC0 | cp >> 6); out[n++] = (char)(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) {
                out[n++] = (char)(0xE0 | cp >> 12);
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[n++] = (char)(0xF0 | cp >> 18);
                out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (cp & 0x3F));
            }
        } else {
            out[n++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
        }
    }
    if (*p != '"') { free(out); return NULL; }
    out[n] = '\0';
    *len = n;
    return out;
}

/* The "text" field: bytes and length; checked against cJSON's value where that has no NUL. */
static char *row_text(const char *line, const cJSON *j, size_t *len) {
    char *t = json_str(line, "text", len);
    const cJSON *v = cJSON_GetObjectItem(j, "text");
    CHECK(t && cJSON_IsString(v), "no text field");
    if (t && cJSON_IsString(v) && memchr(t, 0, *len) == NULL)
        CHECK(strcmp(t, v->valuestring) == 0, "text decoding disagrees with cJSON");
    return t;
}

static void print_ids(const char *tag, const int32_t *v, size_t n) {
    fprintf(stderr, "    %s:", tag);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", v[i]);
    fputc('\n', stderr);
}

static void test_llama_encode(void) {
    rl_spm *s = load_llama();
    if (!s) return;
    char *data = rl_read_file(golden_path("encode.jsonl"), NULL);
    CHECK(data != NULL, "%s", rl_errmsg());
    if (!data) { rl_spm_free(s); return; }
    int total = 0, pass = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "bad jsonl line");
        if (!j) continue;
        size_t tlen = 0;
        char *text = row_text(line, j, &tlen);
        if (!text) { cJSON_Delete(j); continue; }
        int add = cJSON_IsTrue(cJSON_GetObjectItem(j, "add_special_tokens"));
        int32_t *want;
        int nw = ids_from_json(cJSON_GetObjectItem(j, "ids"), &want);
        int32_t *got = NULL;
        size_t ng = 0;
        total++;
        int rc = rl_spm_encode(s, text, tlen, add, &got, &ng);
        if (rc == 0 && ng == (size_t)nw && (nw == 0 || memcmp(got, want, nw * sizeof *got) == 0)) {
            pass++;
        } else if (total - pass <= 5) {
            fprintf(stderr, "  encode mismatch %s (add=%d) rc=%d %s\n", cJSON_GetObjectItem(j, "case")->valuestring,
                    add, rc, rc ? rl_errmsg() : "");
            print_ids("want", want, nw);
            print_ids("got ", got, ng);
        }
        free(got);
        free(want);
        free(text);
        cJSON_Delete(j);
    }
    fprintf(stderr, "  llama2_spm encode: %d/%d rows pass\n", pass, total);
    CHECK(total == 562 && pass == total, "encode %d/%d", pass, total);
    free(data);
    rl_spm_free(s);
}

static void test_llama_decode(void) {
    rl_spm *s = load_llama();
    if (!s) return;
    char *data = rl_read_file(golden_path("decode.jsonl"), NULL);
    CHECK(data != NULL, "%s", rl_errmsg());
    if (!data) { rl_spm_free(s); return; }
    int total = 0, pass = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "bad jsonl line");
        if (!j) continue;
        int32_t *ids;
        int n = ids_from_json(cJSON_GetObjectItem(j, "ids"), &ids);
        int skip = cJSON_IsTrue(cJSON_GetObjectItem(j, "skip_special_tokens"));
        size_t wl = 0;
        char *want = row_text(line, j, &wl);
        if (!want) { free(ids); cJSON_Delete(j); continue; }
        char *got = NULL;
        size_t gl = 0;
        total++;
        int rc = rl_spm_decode(s, ids, n, skip, &got, &gl);
        if (rc == 0 && gl == wl && memcmp(got, want, gl) == 0) {
            pass++;
        } else if (total - pass <= 5) {
            fprintf(stderr, "  decode mismatch %s rc=%d: want \"%s\" got \"%s\"\n",
                    cJSON_GetObjectItem(j, "case")->valuestring, rc, want, got ? got : rl_errmsg());
        }
        free(got);
        free(ids);
        free(want);
        cJSON_Delete(j);
    }
    fprintf(stderr, "  llama2_spm decode: %d/%d rows pass\n", pass, total);
    CHECK(total == 328 && pass == total, "decode %d/%d", pass, total);
    free(data);
    rl_spm_free(s);
}

static void test_llama_basics(void) {
    rl_spm *s = load_llama();
    if (!s) return;
    CHECK(rl_spm_vocab_size(s) == 32000, "vocab %zu", rl_spm_vocab_size(s));
    CHECK(rl_spm_bos_id(s) == 1 && rl_spm_eos_id(s) == 2, "bos %d eos %d", rl_spm_bos_id(s), rl_spm_eos_id(s));
    CHECK(rl_spm_piece_id(s, "<unk>") == 0 && rl_spm_unk_id(s) == 0, "unk");
    CHECK(rl_spm_is_control(s, 1) && rl_spm_is_control(s, 2) && !rl_spm_is_control(s, 0) &&
          !rl_spm_is_control(s, 15043) && !rl_spm_is_control(s, 32000), "control pieces");
    CHECK(rl_spm_piece_id(s, "<0x0A>") == 13, "newline byte piece");
    CHECK(rl_spm_piece_id(s, "no such piece") == -1, "missing piece");
    const char *p = rl_spm_id_to_piece(s, 29871);
    CHECK(p && strcmp(p, "\xe2\x96\x81") == 0, "id 29871 is U+2581");
    CHECK(rl_spm_id_to_piece(s, 32000) == NULL && rl_spm_id_to_piece(s, -1) == NULL, "out of range piece");
    /* "<s>" in text is plain text, never the control token */
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(rl_spm_encode(s, "<s>", 3, 0, &ids, &n) == 0, "%s", rl_errmsg());
    for (size_t i = 0; i < n; i++) CHECK(ids[i] != 1, "<s> became BOS");
    free(ids);
    /* empty input: nothing, or BOS alone */
    CHECK(rl_spm_encode(s, "", 0, 0, &ids, &n) == 0 && n == 0, "empty encode");
    free(ids);
    CHECK(rl_spm_encode(s, "", 0, 1, &ids, &n) == 0 && n == 1 && ids[0] == 1, "empty encode with bos");
    free(ids);
    /* special tokens kept as text when not skipped; unk surface; invalid ids rejected */
    int32_t in[] = { 1, 15043, 2 };
    char *t = NULL;
    size_t tl = 0;
    CHECK(rl_spm_decode(s, in, 3, 0, &t, &tl) == 0 && strcmp(t, "<s> Hello</s>") == 0, "decode keep: %s", t);
    free(t);
    CHECK(rl_spm_decode(s, in, 3, 1, &t, &tl) == 0 && strcmp(t, "Hello") == 0, "decode skip: %s", t);
    free(t);
    int32_t unk[] = { 0, 15043 };
    CHECK(rl_spm_decode(s, unk, 2, 1, &t, &tl) == 0 && strcmp(t, " \xE2\x81\x87  Hello") == 0, "unk: %s", t);
    free(t);
    int32_t bad[] = { 15043, 32000 };
    t = NULL;
    CHECK(rl_spm_decode(s, bad, 2, 1, &t, &tl) == -1 && t == NULL, "invalid id accepted");
    CHECK(strstr(rl_errmsg(), "32000") != NULL, "error names the id: %s", rl_errmsg());
    /* invalid UTF-8 input: each bad byte becomes U+FFFD (then byte pieces) */
    CHECK(rl_spm_encode(s, "a\xff" "b", 3, 0, &ids, &n) == 0, "%s", rl_errmsg());
    CHECK(rl_spm_decode(s, ids, n, 1, &t, &tl) == 0 && strcmp(t, "a\xEF\xBF\xBD" "b") == 0, "bad utf8: %s", t);
    free(t);
    free(ids);
    rl_spm_free(s);
}

/* ---- a tiny protobuf writer for synthetic models ---- */

typedef struct { uint8_t *p; size_t n, cap; } pb;

static void pb_raw(pb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void pb_varint(pb *b, uint64_t v) {
    uint8_t c;
    do { c = v & 0x7f; v >>= 7; if (v) c |= 0x80; pb_raw(b, &c, 1); } while (v);
}
static void pb_bytes(pb *b, int field, const void *d, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, d, n);
}
static void pb_int(pb *b, int field, uint64_t v) { pb_varint(b, (uint64_t)field << 3); pb_varint(b, v); }
static void pb_float(pb *b, int field, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t le[4] = { u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff, u >> 24 };
    pb_varint(b, (uint64_t)field << 3 | 5);
    pb_raw(b, le, 4);
}

typedef struct { const char *text; float score; int type; } spec_piece;
typedef struct {
    int model_type, byte_fallback;
    int add_dummy_prefix, remove_extra_ws; /* -1: leave unset (defaults true) */
    const void *charsmap;
    size_t charsmap_len;
} spec_model;

static void add_piece(pb *m, const char *text, float score, int type) {
    pb p = { 0 };
    pb_bytes(&p, 1, text, strlen(text));
    pb_float(&p, 2, score);
    pb_int(&p, 3, (uint64_t)type);
    pb_bytes(m, 1, p.p, p.n);
    free(p.p);
}

static pb build_model(const spec_piece *pcs, size_t n, const spec_model *o) {
    pb m = { 0 }, t = { 0 }, ns = { 0 };
    for (size_t i = 0; i < n; i++) add_piece(&m, pcs[i].text, pcs[i].score, pcs[i].type);
    if (o->byte_fallback)
        for (int b = 0; b < 256; b++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            add_piece(&m, name, 0.0f, 6);
        }
    pb_int(&t, 3, (uint64_t)o->model_type);
    if (o->byte_fallback) pb_int(&t, 35, 1);
    pb_bytes(&m, 2, t.p, t.n);
    pb_bytes(&ns, 1, "test", 4);
    if (o->charsmap) pb_bytes(&ns, 2, o->charsmap, o->charsmap_len);
    if (o->add_dummy_prefix >= 0) pb_int(&ns, 3, (uint64_t)o->add_dummy_prefix);
    if (o->remove_extra_ws >= 0) pb_int(&ns, 4, (uint64_t)o->remove_extra_ws);
    pb_bytes(&m, 3, ns.p, ns.n);
    free(t.p);
    free(ns.p);
    return m;
}

static const char *write_tmp(const char *name, const void *d, size_t n) {
    static char path[160];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    if (f) { if (n) fwrite(d, 1, n, f); fclose(f); }
    return path;
}

static rl_spm *load_spec(const spec_piece *pcs, size_t n, const spec_model *o) {
    pb m = build_model(pcs, n, o);
    rl_spm *s = rl_spm_load(write_tmp("synthetic.model", m.p, m.n));
    free(m.p);
    return s;
}

/* Encodes text and compares with the expected id list (terminated by -1). */
static int enc_is(const rl_spm *s, const char *text, const int *want) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (rl_spm_encode(s, text, strlen(text), 0, &ids, &n)) {
        fprintf(stderr, "    encode \"%s\": %s\n", text, rl_errmsg());
        return 0;
    }
    size_t k = 0;
    while (want[k] >= 0) k++;
    int ok = k == n;
    for (size_t i = 0; ok && i < n; i++) ok = ids[i] == want[i];
    if (!ok) {
        fprintf(stderr, "    encode \"%s\" got:", text);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
    }
    free(ids);
    return ok;
}

static int dec_is(const rl_spm *s, const int32_t *ids, size_t n, const char *want) {
    char *t = NULL;
    size_t l = 0;
    if (rl_spm_decode(s, ids, n, 1, &t, &l)) return 0;
    int ok = strcmp(t, want) == 0;
    if (!ok) fprintf(stderr, "    decode got \"%s\" want \"%s\"\n", t, want);
    free(t);
    return ok;
}

#define SP "\xe2\x96\x81"

static void test_bpe_synthetic(void) {
    spec_piece v[] = {
        { "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 },       /* 0 1 2 */
        { "a", -5, 1 }, { "b", -5, 1 }, { "c", -5, 1 },              /* 3 4 5 */
        { "ab", -1, 1 }, { "bc", -1, 1 }, { "abc", -0.5f, 5 },       /* 6 7 8: abc UNUSED */
        { "cd", -1, 1 }, { "d", -5, 1 }, { SP, -2, 1 },              /* 9 10 11 */
        { "<sep>", 0, 4 }, { "ep", -0.1f, 1 }, { "e", -6, 1 }, { "p", -6, 1 }, /* 12..15 */
    };
    spec_model o = { 2, 0, 0, 0, NULL, 0 };
    rl_spm *s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s != NULL, "load: %s", rl_errmsg());
    if (!s) return;
    /* tie between bc and cd: the leftmost pair merges first */
    CHECK(enc_is(s, "bcd", (int[]){ 7, 10, -1 }), "tie leftmost");
    /* ab, then ab + c -> abc (UNUSED, yet merged) beats cd; resegmented into ab, c */
    CHECK(enc_is(s, "abcd", (int[]){ 6, 5, 10, -1 }), "unused merged then resegmented");
    /* ab + c -> abc is UNUSED: resegmented into ab, c */
    CHECK(enc_is(s, "abc", (int[]){ 6, 5, -1 }), "unused resegment");
    /* user-defined symbols are frozen: no merge across <sep> although "ep" is a piece */
    CHECK(enc_is(s, "a<sep>p", (int[]){ 3, 12, 15, -1 }), "user-defined frozen");
    /* unknown characters without byte fallback: a run of them is one unk id */
    CHECK(enc_is(s, "axyzb", (int[]){ 3, 0, 4, -1 }), "unk run merged");
    CHECK(enc_is(s, "a b", (int[]){ 3, 11, 4, -1 }), "space escaped");
    int32_t d[] = { 1, 6, 11, 0, 12, 2 };
    CHECK(dec_is(s, d, 6, "ab  \xE2\x81\x87 <sep>"), "decode");
    rl_spm_free(s);
}

static void test_unigram_synthetic(void) {
    spec_piece v[] = {
        { "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 },          /* 0 1 2 */
        { SP, -2, 1 }, { SP "a", -1, 1 }, { "b", -3, 1 },              /* 3 4 5 */
        { SP "ab", -2.5f, 1 }, { "a", -4, 1 }, { "<sep>", 0, 4 },      /* 6 7 8 */
        { "ab", -0.5f, 5 },                                           /* 9 UNUSED: ignored */
    };
    spec_model o = { 1, 0, -1, -1, NULL, 0 };
    rl_spm *s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s != NULL, "load: %s", rl_errmsg());
    if (!s) return;
    CHECK(enc_is(s, "ab", (int[]){ 6, -1 }), "best path");
    CHECK(enc_is(s, "ab b", (int[]){ 6, 3, 5, -1 }), "two words");
    CHECK(enc_is(s, "  ab   x  ", (int[]){ 6, 3, 0, -1 }), "extra whitespace removed, unk");
    CHECK(enc_is(s, "xy", (int[]){ 3, 0, -1 }), "unk run merged");
    CHECK(enc_is(s, "a<sep>b", (int[]){ 4, 8, 5, -1 }), "user-defined symbol");
    CHECK(enc_is(s, "   ", (int[]){ -1 }), "all whitespace");
    int32_t d[] = { 6, 3, 5 };
    CHECK(dec_is(s, d, 3, "ab b"), "decode");
    rl_spm_free(s);
}

/* A darts-clone double array (256 units) mapping "A" -> "a", "AB" -> "x y", "C" -> "". */
static size_t make_charsmap(uint8_t *out) {
    uint32_t u[256] = { 0 };
    const char strs[] = "a\0x y\0";
    u[0] = 1u << 10;                                   /* root: base 1 */
    /* 'A' at 1^0x41 = 64, base 64^200 (leaf at 200), children from base: 'B' */
    u[64] = (uint32_t)(64 ^ 200) << 10 | 1u << 8 | 0x41;
    u[200] = 1u << 31 | 0;                             /* "A" -> strs[0] */
    /* 'B' under 'A': at 200 ^ 0x42 = 138, leaf at 138 ^ off */
    u[138] = (uint32_t)(138 ^ 150) << 10 | 1u << 8 | 0x42;
    u[150] = 1u << 31 | 2;                             /* "AB" -> strs[2] */
    /* 'C' at 1^0x43 = 66 */
    u[66] = (uint32_t)(66 ^ 201) << 10 | 1u << 8 | 0x43;
    u[201] = 1u << 31 | 5;                             /* "C" -> strs[5] = "" */
    uint32_t tsz = sizeof u;
    size_t n = 0;
    for (int i = 0; i < 4; i++) out[n++] = (uint8_t)(tsz >> (8 * i));
    for (int k = 0; k < 256; k++)
        for (int i = 0; i < 4; i++) out[n++] = (uint8_t)(u[k] >> (8 * i));
    memcpy(out + n, strs, sizeof strs);
    return n + sizeof strs;
}

static void test_charsmap(void) {
    spec_piece v[] = {
        { "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 },     /* 0 1 2 */
        { SP, -2, 1 }, { "a", -1, 1 }, { "x", -1, 1 }, { "y", -1, 1 }, { "B", -1, 1 }, /* 3..7 */
    };
    uint8_t cm[1100];
    size_t cml = make_charsmap(cm);
    spec_model o = { 2, 0, 1, 1, cm, cml };
    rl_spm *s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s != NULL, "load: %s", rl_errmsg());
    if (!s) return;
    /* A->a; AB -> "x y" (longest match); C deleted; B alone unchanged */
    CHECK(enc_is(s, "A", (int[]){ 3, 4, -1 }), "A");
    CHECK(enc_is(s, "AB", (int[]){ 3, 5, 3, 6, -1 }), "AB");
    CHECK(enc_is(s, "CBC", (int[]){ 3, 7, -1 }), "C deleted");
    CHECK(enc_is(s, "ACB", (int[]){ 3, 4, 7, -1 }), "A C B");
    rl_spm_free(s);
    /* a value pointing outside the strings is an error, not a read past the blob */
    cm[4 + 4 * 200] = 200;
    o.charsmap_len = cml;
    s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s != NULL, "load: %s", rl_errmsg());
    if (s) {
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(rl_spm_encode(s, "A", 1, 0, &ids, &n) == -1, "bad charsmap value accepted");
        CHECK(strstr(rl_errmsg(), "synthetic.model") != NULL, "message names the file: %s", rl_errmsg());
        free(ids);
        rl_spm_free(s);
    }
    /* trie size larger than the blob */
    uint8_t small[8] = { 0xff, 0xff, 0, 0, 1, 2, 3, 4 };
    o.charsmap = small;
    o.charsmap_len = sizeof small;
    s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s == NULL && strstr(rl_errmsg(), "charsmap"), "oversized trie: %s", rl_errmsg());
}

static void test_byte_fallback_synthetic(void) {
    spec_piece v[] = { { "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 }, { SP, -1, 1 }, { "a", -1, 1 } };
    spec_model o = { 2, 1, 1, 0, NULL, 0 };
    rl_spm *s = load_spec(v, sizeof v / sizeof *v, &o);
    CHECK(s != NULL, "load: %s", rl_errmsg());
    if (!s) return;
    /* byte pieces follow the 5 listed: <0xNN> has id 5 + NN. "é" = C3 A9 */
    CHECK(enc_is(s, "a\xc3\xa9", (int[]){ 3, 4, 5 + 0xC3, 5 + 0xA9, -1 }), "byte fallback");
    int32_t d1[] = { 5 + 0xE4, 5 + 0xBD };                 /* truncated 3-byte char: two U+FFFD */
    CHECK(dec_is(s, d1, 2, "\xEF\xBF\xBD\xEF\xBF\xBD"), "invalid bytes");
    int32_t d2[] = { 5 + 0xEF, 5 + 0xBB, 5 + 0xBF, 4 };     /* BOM kept */
    CHECK(dec_is(s, d2, 4, "\xEF\xBB\xBF" "a"), "bom");
    int32_t d3[] = { 5 + 0x20, 3, 4 };                     /* a leading byte space keeps the next ▁ */
    CHECK(dec_is(s, d3, 3, "  a"), "leading byte space");
    rl_spm_free(s);
}

/* Loading must fail with a message naming the file. */
static int fails_naming(const char *path) {
    rl_spm *s = rl_spm_load(path);
    if (s) { rl_spm_free(s); return 0; }
    return strstr(rl_errmsg(), path) != NULL;
}

static void test_invalid_models(void) {
    spec_model o = { 2, 0, 1, 0, NULL, 0 };
    spec_piece nounk[] = { { "<s>", 0, 3 }, { "a", 0, 1 } };
    pb m = build_model(nounk, 2, &o);
    CHECK(fails_naming(write_tmp("nounk.model", m.p, m.n)) && strstr(rl_errmsg(), "unk"), "no unk: %s", rl_errmsg());
    free(m.p);
    spec_piece dup[] = { { "<unk>", 0, 2 }, { "a", 0, 1 }, { "a", 0, 4 } };
    m = build_model(dup, 3, &o);
    CHECK(fails_naming(write_tmp("dup.model", m.p, m.n)) && strstr(rl_errmsg(), "already"), "dup: %s", rl_errmsg());
    free(m.p);
    spec_piece empty[] = { { "<unk>", 0, 2 }, { "", 0, 1 } };
    m = build_model(empty, 2, &o);
    CHECK(fails_naming(write_tmp("empty_piece.model", m.p, m.n)), "empty piece: %s", rl_errmsg());
    free(m.p);
    spec_piece bytes[] = { { "<unk>", 0, 2 }, { "<0x41>", 0, 6 } };
    m = build_model(bytes, 2, &o);
    CHECK(fails_naming(write_tmp("bytes.model", m.p, m.n)) && strstr(rl_errmsg(), "byte_fallback"), "byte: %s",
          rl_errmsg());
    free(m.p);
    CHECK(fails_naming(write_tmp("empty.model", "", 0)), "empty file: %s", rl_errmsg());
    char missing[200];
    snprintf(missing, sizeof missing, "%s/does_not_exist.model", g_tmp);
    CHECK(fails_naming(missing), "missing file: %s", rl_errmsg());
    const char junk[] = "this is not a protobuf at all \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
    CHECK(fails_naming(write_tmp("junk.model", junk, sizeof junk - 1)), "junk: %s", rl_errmsg());
}

static void test_truncated_and_corrupted(void) {
    size_t len = 0;
    char *orig = rl_read_file(golden_path("tokenizer.model"), &len);
    CHECK(orig != NULL, "%s", rl_errmsg());
    if (!orig) return;
    /* cuts inside a length-delimited field must fail, naming the file */
    size_t cuts[] = { 1, 2, 5, 100, 4096, len / 2, len - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *p = write_tmp("cut.model", orig, cuts[i]);
        CHECK(fails_naming(p), "cut at %zu: %s", cuts[i], rl_errmsg());
    }
    /* a sweep of cuts: each either fails cleanly or loads a usable model (a protobuf cut at a
     * field boundary is still valid) */
    for (size_t c = 0; c < len; c += len / 97 + 1) {
        const char *p = write_tmp("cut.model", orig, c);
        rl_spm *s = rl_spm_load(p);
        if (!s) { CHECK(strstr(rl_errmsg(), p) != NULL, "cut %zu message: %s", c, rl_errmsg()); continue; }
        int32_t *ids = NULL;
        size_t n = 0;
        if (rl_spm_encode(s, "Hello world", 11, 1, &ids, &n) == 0) {
            char *t = NULL;
            if (rl_spm_decode(s, ids, n, 1, &t, NULL) == 0) free(t);
        }
        free(ids);
        rl_spm_free(s);
    }
    /* an absurd length prefix */
    char *bad = malloc(len + 16);
    memcpy(bad, orig, len);
    bad[1] = (char)0xff; bad[2] = (char)0xff; bad[3] = (char)0xff; bad[4] = 0x7f;
    CHECK(fails_naming(write_tmp("biglen.model", bad, len)), "big length: %s", rl_errmsg());
    /* deterministic byte corruption: never a crash or an out-of-bounds read (ASan checks) */
    uint32_t rng = 12345;
    for (int round = 0; round < 24; round++) {
        memcpy(bad, orig, len);
        for (int k = 0; k < 8; k++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 4) % (round < 12 ? 2048 : len);
            rng = rng * 1103515245u + 12345u;
            bad[at] = (char)(rng >> 16);
        }
        const char *p = write_tmp("corrupt.model", bad, len);
        rl_spm *s = rl_spm_load(p);
        if (!s) { CHECK(strstr(rl_errmsg(), p) != NULL, "corrupt message: %s", rl_errmsg()); continue; }
        int32_t *ids = NULL;
        size_t n = 0;
        if (rl_spm_encode(s, "Hello wörld \xe4\xbd\xa0", 16, 1, &ids, &n) == 0) {
            char *t = NULL;
            if (rl_spm_decode(s, ids, n, 1, &t, NULL) == 0) free(t);
        }
        free(ids);
        rl_spm_free(s);
    }
    free(bad);
    free(orig);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rl_spm_test_XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    RUN_SHARED(test_llama_basics);
    RUN_SHARED(test_llama_encode);
    RUN_SHARED(test_llama_decode);
    RUN(test_bpe_synthetic);
    RUN(test_unigram_synthetic);
    RUN(test_charsmap);
    RUN(test_byte_fallback_synthetic);
    RUN(test_invalid_models);
    RUN_SHARED(test_truncated_and_corrupted);
    const char *names[] = { "synthetic.model", "nounk.model", "dup.model", "empty_piece.model", "bytes.model",
                            "empty.model", "junk.model", "cut.model", "biglen.model", "corrupt.model" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/%s", g_tmp, names[i]);
        unlink(p);
    }
    rmdir(g_tmp);
    TEST_END();
}
