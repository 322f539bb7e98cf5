/* Added vocabulary (tokenizer.json "added_tokens"): matched in the text before the model,
 * leftmost-longest like HF's AhoCorasick, with single_word / lstrip / rstrip; non-normalized
 * tokens match the raw text, normalized ones the normalized text. */
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define RL_MAX_ADDED_ID (1 << 22)

static int trie_add(rl_trie *t, const char *s, size_t n, int32_t tok) {
    if (!n) return 0;
    if (!t->nodes) for (int i = 0; i < 256; i++) t->root[i] = -1;
    int32_t cur = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t nx = i == 0 ? t->root[c] : t->nodes[cur].child;
        if (i > 0) while (nx >= 0 && t->nodes[nx].byte != c) nx = t->nodes[nx].sib;
        if (nx < 0) {
            if (t->n == t->cap) {
                size_t nc = t->cap ? t->cap * 2 : 64;
                rl_trie_node *nn = realloc(t->nodes, nc * sizeof *nn);
                if (!nn) return rl_err("tokenizer: out of memory");
                t->nodes = nn; t->cap = nc;
            }
            nx = (int32_t)t->n++;
            t->nodes[nx] = (rl_trie_node){-1, -1, -1, c};
            if (i == 0) t->root[c] = nx;
            else { t->nodes[nx].sib = t->nodes[cur].child; t->nodes[cur].child = nx; }
        }
        cur = nx;
    }
    if (t->nodes[cur].tok < 0) t->nodes[cur].tok = tok;  /* first token with this text wins */
    return 0;
}

/* Longest token starting at s (or -1); *len gets its length. */
static int32_t trie_match(const rl_trie *t, const char *s, size_t n, size_t *len) {
    if (!t->nodes || !n) return -1;
    int32_t cur = t->root[(unsigned char)s[0]], best = -1;
    size_t i = 0;
    while (cur >= 0) {
        if (t->nodes[cur].tok >= 0) { best = t->nodes[cur].tok; *len = i + 1; }
        if (++i >= n) break;
        unsigned char c = (unsigned char)s[i];
        cur = t->nodes[cur].child;
        while (cur >= 0 && t->nodes[cur].byte != c) cur = t->nodes[cur].sib;
    }
    return best;
}

void rl_added_free(rl_added *a) {
    for (size_t i = 0; i < a->n; i++) { free(a->toks[i].content); free(a->toks[i].norm); }
    free(a->toks);
    rl_tkmap_free(&a->by_content);
    free(a->by_id);
    free(a->raw.nodes); free(a->normed.nodes);
    memset(a, 0, sizeof *a);
}

int rl_added_parse(const cJSON *arr, const rl_tknorm *nm, rl_added *a) {
    memset(a, 0, sizeof *a);
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr)) return rl_err("\"added_tokens\" must be an array");
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    a->toks = calloc(cnt + 1, sizeof *a->toks);
    if (!a->toks) return rl_err("tokenizer: out of memory");
    const cJSON *e;
    int32_t maxid = -1;
    cJSON_ArrayForEach(e, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const char *c = rl_tj_str(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 2e9 || !c)
            return rl_err("added_tokens[%zu]: needs \"id\" and \"content\"", a->n);
        /* the id table is indexed by id: bounded (real vocabularies stay far below 4M ids) */
        if (id->valuedouble >= RL_MAX_ADDED_ID)
            return rl_err("added_tokens[%zu]: id %.0f is past the largest supported id %d", a->n, id->valuedouble, RL_MAX_ADDED_ID - 1);
        rl_added_tok *t = &a->toks[a->n];
        t->id = id->valueint;
        t->len = strlen(c);
        if (!(t->content = malloc(t->len + 1))) return rl_err("tokenizer: out of memory");
        memcpy(t->content, c, t->len + 1);
        t->special = rl_tj_bool(e, "special", 0);
        t->lstrip = rl_tj_bool(e, "lstrip", 0);
        t->rstrip = rl_tj_bool(e, "rstrip", 0);
        t->single_word = rl_tj_bool(e, "single_word", 0);
        t->normalized = rl_tj_bool(e, "normalized", !t->special);
        if (t->normalized && nm) {
            rl_buf b = {0};
            if (rl_tknorm_apply(nm, t->content, t->len, &b) || rl_tkbuf_put(&b, "", 0)) { rl_tkbuf_free(&b); return -1; }
            t->norm = b.p; t->normlen = b.n;
        }
        if (t->id > maxid) maxid = t->id;
        a->n++;
    }
    a->by_id_n = (size_t)(maxid + 1);
    if (a->by_id_n && !(a->by_id = malloc(a->by_id_n * sizeof *a->by_id))) return rl_err("tokenizer: out of memory");
    for (size_t i = 0; i < a->by_id_n; i++) a->by_id[i] = -1;
    for (size_t i = 0; i < a->n; i++) {
        rl_added_tok *t = &a->toks[i];
        if (a->by_id[t->id] < 0) a->by_id[t->id] = (int32_t)i;
        if (rl_tkmap_get(&a->by_content, t->content, t->len) < 0 && rl_tkmap_put(&a->by_content, t->content, t->len, (int32_t)i)) return -1;
        int r = t->normalized ? trie_add(&a->normed, t->norm ? t->norm : t->content, t->norm ? t->normlen : t->len, (int32_t)i)
                              : trie_add(&a->raw, t->content, t->len, (int32_t)i);
        if (r) return -1;
    }
    return 0;
}

const rl_added_tok *rl_added_by_id(const rl_added *a, int32_t id) {
    if (id < 0 || (size_t)id >= a->by_id_n || a->by_id[id] < 0) return NULL;
    return &a->toks[a->by_id[id]];
}

/* Rust regex \w: Alphabetic (~ letters, Nl), marks, decimal digits, connector punctuation. */
static int is_word_char(int32_t c) {
    if (c < 0x80) return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME) ||
           k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D;
}

static int32_t last_cp(const char *s, size_t n) {
    size_t k = 1;
    while (k < n && ((unsigned char)s[n - k] & 0xC0) == 0x80) k++;
    int32_t cp; rl_tku8_dec(s + n - k, k, &cp);
    return cp;
}

static int split_piece(const rl_added *a, const rl_trie *t, const char *s, const rl_piece *p, rl_pieces *out) {
    size_t n = p->len, start_off = 0, i = 0;
    while (i < n) {
        size_t len = 0;
        int32_t ti = t->root[(unsigned char)s[i]] >= 0 ? trie_match(t, s + i, n - i, &len) : -1;
        if (ti < 0) { i++; continue; }
        const rl_added_tok *tok = &a->toks[ti];
        size_t start = i, stop = i + len;
        if (tok->single_word) {
            int32_t cp;
            int sp_start = start == 0 || !is_word_char(last_cp(s, start));
            int sp_stop = stop == n || (rl_tku8_dec(s + stop, n - stop, &cp), !is_word_char(cp));
            if (!sp_start || !sp_stop) { i = stop; continue; }
        }
        if (tok->lstrip) {
            size_t ns = start;
            while (ns > start_off) {
                size_t k = 1;
                while (k < ns && ((unsigned char)s[ns - k] & 0xC0) == 0x80) k++;
                int32_t cp; rl_tku8_dec(s + ns - k, k, &cp);
                if (!rl_tk_is_space(cp)) break;
                ns -= k;
            }
            start = ns;
        }
        if (tok->rstrip) {
            while (stop < n) {
                int32_t cp; size_t k = rl_tku8_dec(s + stop, n - stop, &cp);
                if (!rl_tk_is_space(cp)) break;
                stop += k;
            }
        }
        if (start_off < start && rl_tkpieces_push(out, p->off + start_off, start - start_off, -1, p->first && start_off == 0)) return -1;
        if (rl_tkpieces_push(out, p->off + start, stop - start, tok->id, 0)) return -1;
        start_off = i = stop;
    }
    if (start_off < n && rl_tkpieces_push(out, p->off + start_off, n - start_off, -1, p->first && start_off == 0)) return -1;
    return 0;
}

int rl_added_split(const rl_added *a, int normalized, const rl_buf *arena, rl_pieces *in, rl_pieces *out) {
    const rl_trie *t = normalized ? &a->normed : &a->raw;
    for (size_t i = 0; i < in->n; i++) {
        const rl_piece *p = &in->v[i];
        if (p->id >= 0 || !t->nodes) {
            if (p->len && rl_tkpieces_push(out, p->off, p->len, p->id, p->first)) return -1;
            continue;
        }
        if (split_piece(a, t, arena->p + p->off, p, out)) return -1;
    }
    return 0;
}
