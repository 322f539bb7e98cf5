/* `serve --parallel` from the memory plan (slots.h): a binary search over the sequence count with
 * the engine's plan (rl_model_plan, public API: nothing is read but the description). */
#include "server/slots.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

typedef struct { int fits, all_resident; char kv[24]; } plan_facts;

/* 0 and the facts of the plan for n sequences; -1 when it cannot be made. */
static int facts(const char *dir, const rl_model_opts *base, int n, plan_facts *f) {
    rl_model_opts o = *base;
    o.n_seq = n;
    char *text = rl_model_plan(dir, &o);
    cJSON *p = text ? cJSON_Parse(text) : NULL;
    rl_release(text);
    if (!p) return -1;
    memset(f, 0, sizeof *f);
    f->fits = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "fits"));
    f->all_resident = 1;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(p, "buffers")) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(b, "name"), *by = cJSON_GetObjectItemCaseSensitive(b, "bytes");
        if (!cJSON_IsString(nm)) continue;
        if (!strncmp(nm->valuestring, "layer slots", 11) && cJSON_IsNumber(by) && by->valuedouble > 0) f->all_resident = 0;
        if (!f->kv[0] && !strncmp(nm->valuestring, "kv cache ", 9)) {   /* "kv cache F32: ..." */
            const char *t = nm->valuestring + 9;
            size_t l = strcspn(t, ":");
            snprintf(f->kv, sizeof f->kv, "%.*s", (int)(l < sizeof f->kv - 1 ? l : sizeof f->kv - 1), t);
        }
    }
    cJSON_Delete(p);
    return 0;
}

static int allowed(const char *dir, const rl_model_opts *o, int n, const plan_facts *one) {
    plan_facts f;
    if (facts(dir, o, n, &f) || !f.fits || strcmp(f.kv, one->kv)) return 0;
    return !one->all_resident || f.all_resident;
}

int rl_serve_default_slots(const char *dir, const rl_model_opts *opts, int cap, char *why, size_t whysz) {
    plan_facts one;
    if (cap < 1) cap = 1;
    if (facts(dir, opts, 1, &one) || !one.fits) return 0;
    int lo = 1, hi = cap;                /* lo is allowed; find the largest */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (allowed(dir, opts, mid, &one)) lo = mid;
        else hi = mid - 1;
    }
    snprintf(why, whysz, " from the memory plan: %s%s", lo == cap ? "the cap" : "the most whose KV cache fits",
             one.all_resident ? ", weights resident" : ", weights streamed");
    return lo;
}
