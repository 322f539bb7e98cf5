/* serve's default --parallel (server/slots.h) on models/stories260K, planning only (nothing is
 * allocated): at a small context every slot fits, so the cap; at a context where one sequence's
 * KV cache takes about a quarter of what may be used, the count is one whose plan fits with the
 * weights resident and the KV type of one sequence, while a couple more slots do not. */
#include "test.h"
#include "engine/model.h"
#include "server/slots.h"
#include <cjson/cJSON.h>

#define M "models/stories260K"

/* plan for n sequences at ctx: fits, all weights resident, KV type name (in kv). */
static int plan_ok(int ctx, int n, const char *kv_type, char *kv, size_t kvsz) {
    rl_model_opts o = {.ctx = ctx, .n_seq = n, .kv_type = kv_type, .mem_budget = RL_MEM_BUDGET_AUTO};
    cJSON *p = rl_model_plan_json(M, &o);
    if (!p) return 0;
    int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "fits"));
    const cJSON *b;
    kv[0] = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(p, "buffers")) {
        const char *nm = cJSON_GetObjectItemCaseSensitive(b, "name")->valuestring;
        if (!strncmp(nm, "layer slots", 11) && cJSON_GetObjectItemCaseSensitive(b, "bytes")->valuedouble > 0) ok = 0;
        if (!kv[0] && !strncmp(nm, "kv cache ", 9)) snprintf(kv, kvsz, "%.*s", (int)strcspn(nm + 9, ":"), nm + 9);
    }
    cJSON_Delete(p);
    return ok;
}

static void test_small_context(void) {
    rl_model_opts o = {.ctx = 256, .mem_budget = RL_MEM_BUDGET_AUTO};
    char why[160];
    int n = rl_serve_default_slots(M, &o, 16, why, sizeof why);
    CHECK(n == 16 && strstr(why, "memory plan"), "small context: %d (%s)", n, why);
    CHECK(rl_serve_default_slots(M, &o, 3, why, sizeof why) == 3, "cap 3");
    CHECK(rl_serve_default_slots("models/no-such-model", &o, 16, why, sizeof why) == 0, "no model: 0");
}

static void test_kv_bound(void) {
    char kv[32], kv1[32];
    int lo = 1024, hi = 1 << 30;         /* the largest context whose one-sequence plan fits */
    while (hi - lo > lo / 64) {
        int mid = lo + (hi - lo) / 2;
        if (plan_ok(mid, 1, "f32", kv, sizeof kv)) lo = mid; else hi = mid;
    }
    int ctx = lo / 4;
    rl_model_opts o = {.ctx = ctx, .kv_type = "f32", .mem_budget = RL_MEM_BUDGET_AUTO};
    char why[160];
    int n = rl_serve_default_slots(M, &o, 16, why, sizeof why);
    CHECK(n >= 2 && n < 16, "context %d: %d slots (%s)", ctx, n, why);
    CHECK(plan_ok(ctx, n, "f32", kv, sizeof kv), "the plan for %d slots fits", n);
    CHECK(!plan_ok(ctx, n + 2, "f32", kv, sizeof kv), "the plan for %d slots should not fit", n + 2);
    /* kv type auto: the slots keep the type one sequence gets */
    o.kv_type = NULL;
    n = rl_serve_default_slots(M, &o, 16, why, sizeof why);
    CHECK(n >= 1 && plan_ok(ctx, 1, NULL, kv1, sizeof kv1) && plan_ok(ctx, n, NULL, kv, sizeof kv) && !strcmp(kv, kv1),
          "auto KV type: %d slots, %s vs %s", n, kv, kv1);
}

int main(void) {
    RUN(test_small_context);
    RUN(test_kv_bound);
    TEST_END();
}
