/* --gpu-mem (rl_model_opts.gpu_mem, engine/devres.c) on the backends with their own memory:
 * cpu-staged always, vulkan where it is built in and a device opens (release build only). On the
 * stories260K and gemma3 fixtures (5 and 6 layers, one head stage): no stage resident (0), a
 * prefix of the stages resident (a budget of the plan's fixed part, two slots of the largest
 * stage and the first two stages), every stage resident (no slots), and auto (the backend's free
 * memory less a margin: the whole fixture);
 * the logits of a prefill and two decode steps are identical to the streamed run's (the same
 * kernels over the same bytes) and the resident stages are not read again after open; a budget below the activations and two slots is a clear error. */
#include "test.h"
#include "rabbitllm.h"
#include "backend/backend.h"
#include "engine/devres.h"
#include "engine/model.h"
#include "io/loader.h"
#include <string.h>

#define A64(n) (((n) + 63) & ~(size_t)63)

/* logits of a 6-token prefill then 2 single-token steps (3 rows of V), the stages resident */
static float *run(const char *dir, const char *be, size_t gpu_mem, int *V, int *n_res, int *n_stages, size_t *dev_bytes) {
    rl_model_opts o = {.backend = be, .gpu_mem = gpu_mem, .ctx = 64};
    rl_model *m = rl_model_open(dir, &o);
    CHECK(m != NULL, "%s [%s] gpu_mem %zu: %s", dir, be, gpu_mem, rl_last_error());
    if (!m) return NULL;
    *V = rl_model_vocab(m);
    *n_res = rl_devres_count(m, NULL);
    *n_stages = m->n_stages;
    if (dev_bytes) *dev_bytes = m->plan.device_bytes;
    float *lg = malloc(sizeof(float) * 3 * (size_t)*V);
    rl_loader_reset_stats(m->ld);
    int32_t p[6] = {1, 5, 9, 13, 2, 7}, a = 3, b = 11;
    CHECK(rl_model_eval(m, p, 6, lg, 0) == 0, "prefill: %s", rl_last_error());
    CHECK(rl_model_eval(m, &a, 1, lg + *V, 0) == 0, "step: %s", rl_last_error());
    CHECK(rl_model_eval(m, &b, 1, lg + 2 * (size_t)*V, 0) == 0, "step: %s", rl_last_error());
    const rl_load_stats *st = rl_loader_stats(m->ld);
    for (int s = 0; s < m->n_stages; s++) /* resident stages are not read again after open */
        if (rl_devres_stage(m, s)) CHECK(st[s].bytes == 0, "resident stage %d was read again (%llu bytes)", s, (unsigned long long)st[s].bytes);
        else CHECK(st[s].bytes > 0, "streamed stage %d was not read", s);
    rl_model_close(m);
    return lg;
}

static void check(const char *name, const char *be) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", t_shared(), name);
    int V, nr, ns;
    size_t all_bytes;
    float *ref = run(dir, be, 0, &V, &nr, &ns, NULL);
    if (!ref) return;
    CHECK(nr == 0, "gpu_mem 0 keeps no stage on the device (%d)", nr);
    float *all = run(dir, be, (size_t)1 << 40, &V, &nr, &ns, &all_bytes);
    CHECK(all && nr == ns, "a budget above the model keeps every stage (%d of %d)", nr, ns);
    if (all) CHECK(!memcmp(all, ref, sizeof(float) * 3 * (size_t)V), "%s [%s]: all resident: logits differ", name, be);
    /* auto: the backend's free memory less a margin; these fixtures (< 10 MB) fit whole */
    float *au = run(dir, be, RL_GPU_MEM_AUTO, &V, &nr, &ns, NULL);
    CHECK(au && nr == ns, "--gpu-mem auto keeps every stage of a small model (%d of %d)", nr, ns);
    if (au) CHECK(!memcmp(au, ref, sizeof(float) * 3 * (size_t)V), "%s [%s]: auto: logits differ", name, be);
    free(au);
    /* the plan's fixed part = the all-resident total less the stages; then two slots and half */
    rl_model_opts o = {.backend = be, .ctx = 64};
    rl_model *m = rl_model_open(dir, &o);
    size_t stages = 0, largest = 0, first2 = 0;
    for (int s = 0; m && s < m->n_stages; s++) {
        stages += A64(m->stages[s].bytes);
        if (m->stages[s].bytes > largest) largest = m->stages[s].bytes;
        if (s < 2) first2 += A64(m->stages[s].bytes);
    }
    rl_model_close(m);
    size_t fixed = all_bytes - stages;
    float *part = run(dir, be, fixed + 2 * A64(largest) + first2, &V, &nr, &ns, NULL);
    CHECK(part && nr == 2 && nr < ns, "a partial budget keeps the first two stages (%d of %d)", nr, ns);
    if (part) CHECK(!memcmp(part, ref, sizeof(float) * 3 * (size_t)V), "%s [%s]: partly resident: logits differ", name, be);
    fprintf(stderr, "  %s [%s]: %d stages; resident 0, %d, all: logits identical\n", name, be, ns, nr);
    o.gpu_mem = fixed / 2;
    o.kv_type = "f32";
    m = rl_model_open(dir, &o);
    CHECK(!m && strstr(rl_last_error(), "--gpu-mem"), "a budget below the activations: %s", rl_last_error());
    rl_model_close(m);
    free(ref); free(all); free(part);
}

static void test_gpu_mem(void) {
    const char *be[] = {"cpu-staged", "vulkan"};
    int nb = 1;
#ifdef RL_VULKAN_BUILD
    if (!getenv("RL_SANITIZED")) {
        rl_backend *vk = rl_backend_open("vulkan", 1);
        if (vk) nb = 2;
        else fprintf(stderr, "  vulkan skipped: %s\n", rl_last_error());
        rl_backend_close(vk);
    }
#endif
    for (int b = 0; b < nb; b++) {
        check("stories260K", be[b]);
        check("gemma3", be[b]);
    }
}

int main(void) {
    RUN_SHARED(test_gpu_mem);
    TEST_END();
}
