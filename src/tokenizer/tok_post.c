/* tokenizer.json post-processors for a single sequence (what add_special_tokens adds):
 * TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (ids unchanged), Sequence. */
#include "tokenizer/tok_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

#define SEQ_A INT32_MIN

struct rl_tkpost {
    int seq;          /* 1: Sequence of subs */
    rl_ivec tmpl;     /* template ids; SEQ_A marks the sequence; empty = no change */
    int has_tmpl;
    rl_tkpost **subs; size_t nsubs;
};

void rl_tkpost_free(rl_tkpost *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nsubs; i++) rl_tkpost_free(p->subs[i]);
    free(p->subs);
    free(p->tmpl.v);
    free(p);
}

rl_tkpost *rl_tkpost_bos_eos(int32_t bos, int32_t eos) {
    rl_tkpost *p = calloc(1, sizeof *p);
    if (!p) { rl_err("tokenizer: out of memory"); return NULL; }
    p->has_tmpl = 1;
    if ((bos >= 0 && rl_tkivec_push(&p->tmpl, bos)) || rl_tkivec_push(&p->tmpl, SEQ_A) || (eos >= 0 && rl_tkivec_push(&p->tmpl, eos))) {
        rl_tkpost_free(p);
        return NULL;
    }
    return p;
}

/* [token, id] pair of Bert/Roberta processors */
static int pair_id(const cJSON *j, const char *key, int32_t *id) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    const cJSON *v = cJSON_GetArrayItem(a, 1);
    if (!cJSON_IsNumber(v)) return rl_err("post_processor: \"%s\" must be [token, id]", key);
    *id = v->valueint;
    return 0;
}

static int parse_template(rl_tkpost *p, const cJSON *j) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
    if (!cJSON_IsArray(single)) return rl_err("post_processor TemplateProcessing: missing \"single\"");
    const cJSON *it;
    cJSON_ArrayForEach(it, single) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        if (sq) { if (rl_tkivec_push(&p->tmpl, SEQ_A)) return -1; continue; }
        const char *name = rl_tj_str(sp, "id");
        if (!name) return rl_err("post_processor TemplateProcessing: bad item in \"single\"");
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(specials, name);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(tok, "ids"), *e;
        if (!cJSON_IsArray(ids)) return rl_err("post_processor TemplateProcessing: special token \"%s\" has no ids", name);
        cJSON_ArrayForEach(e, ids) {
            if (!cJSON_IsNumber(e)) return rl_err("post_processor TemplateProcessing: bad id for \"%s\"", name);
            if (rl_tkivec_push(&p->tmpl, e->valueint)) return -1;
        }
    }
    return 0;
}

int rl_tkpost_parse(const cJSON *j, rl_tkpost **out) {
    *out = NULL;
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = rl_tj_str(j, "type");
    if (!type) return rl_err("post_processor: missing \"type\"");
    rl_tkpost *p = calloc(1, sizeof *p);
    if (!p) return rl_err("tokenizer: out of memory");
    int st = 0;
    if (!strcmp(type, "TemplateProcessing")) { p->has_tmpl = 1; st = parse_template(p, j); }
    else if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        int32_t cls = 0, sep = 0;
        p->has_tmpl = 1;
        st = pair_id(j, "cls", &cls) || pair_id(j, "sep", &sep) ||
             rl_tkivec_push(&p->tmpl, cls) || rl_tkivec_push(&p->tmpl, SEQ_A) || rl_tkivec_push(&p->tmpl, sep);
        if (st) st = -1;
    } else if (!strcmp(type, "ByteLevel")) {
        /* only offsets change */
    } else if (!strcmp(type, "Sequence")) {
        p->seq = 1;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors"), *e;
        if (!cJSON_IsArray(arr)) st = rl_err("post_processor Sequence: missing \"processors\"");
        else if (!(p->subs = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *p->subs))) st = rl_err("tokenizer: out of memory");
        else cJSON_ArrayForEach(e, arr) {
            rl_tkpost *sub;
            if ((st = rl_tkpost_parse(e, &sub))) break;
            if (sub) p->subs[p->nsubs++] = sub;
        }
    } else st = rl_err("post_processor: unsupported type \"%s\"", type);
    if (st) { rl_tkpost_free(p); return -1; }
    *out = p;
    return 0;
}

int rl_tkpost_apply(const rl_tkpost *p, rl_ivec *ids) {
    if (p->seq) {
        for (size_t i = 0; i < p->nsubs; i++) if (rl_tkpost_apply(p->subs[i], ids)) return -1;
        return 0;
    }
    if (!p->has_tmpl) return 0;
    rl_ivec r = {0};
    for (size_t i = 0; i < p->tmpl.n; i++) {
        int st = p->tmpl.v[i] == SEQ_A ? rl_tkivec_append(&r, ids->v, ids->n) : rl_tkivec_push(&r, p->tmpl.v[i]);
        if (st) { free(r.v); return -1; }
    }
    free(ids->v);
    *ids = r;
    return 0;
}
