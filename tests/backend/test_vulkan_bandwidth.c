/* Copy bandwidths of the vulkan backend, the limits the device check (tests/vulkan/
 * device_check.sh) compares streaming and resident decode with: host -> device from host_alloc
 * memory (the loader's slots) and from plain memory (through the staging ring), device ->
 * device (copy2d: read + write of the bytes) and device -> host; upload_async (the transfer
 * queue) joined before a device copy. By default a 4 MiB check that every path moves the bytes
 * intact; RL_VK_BANDWIDTH_MB=N times N MiB (best of 3) and prints
 * "vulkan bandwidth: ..." GB/s. Skipped where vulkan is not built in or no device opens. */
#include "test.h"
#include "backend/backend.h"
#include "util/err.h"
#include "util/timer.h"
#include <stdint.h>

static rl_backend *VK;

static double best_of_3(int what, uint8_t *dst, const uint8_t *src, size_t n) {
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = rl_now_s();
        int rc = 0;
        if (what == 0) rc = VK->ops->upload(VK, dst, src, n);
        else if (what == 1) VK->ops->copy2d(VK, dst, n, src, n, n, 1);
        else rc = VK->ops->download(VK, dst, src, n);
        if (!rc) rc = VK->ops->wait(VK, VK->ops->fence(VK));
        CHECK(rc == 0, "copy %d: %s", what, rl_errmsg());
        double t = rl_now_s() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void test_bandwidth(void) {
    const char *env = getenv("RL_VK_BANDWIDTH_MB");
    size_t mb = env && atoi(env) > 0 ? (size_t)atoi(env) : 4, n = mb << 20;
    uint8_t *pinned = VK->ops->host_alloc(VK, n), *plain = malloc(n), *back = malloc(n);
    uint8_t *a = VK->ops->arena_new(VK, 2 * n);
    CHECK(pinned && plain && back && a, "allocations of %zu MiB: %s", mb, rl_errmsg());
    if (!pinned || !plain || !back || !a) return;
    for (size_t i = 0; i < n; i++) { pinned[i] = (uint8_t)(i * 131 + 7); plain[i] = (uint8_t)(i * 17 + 3); }
    double h2d = best_of_3(0, a, pinned, n), h2d_plain = best_of_3(0, a + n, plain, n);
    double d2h = best_of_3(2, back, a + n, n);
    CHECK(!memcmp(back, plain, n), "plain upload / download round trip");
    /* upload_async from host_alloc memory: a ticket, and the ops after the join see the bytes */
    for (size_t i = 0; i < n; i++) pinned[i] = (uint8_t)(i * 29 + 1);
    uint64_t tk = 0;
    double t0 = rl_now_s();
    CHECK(VK->ops->upload_async(VK, a + n, pinned, n, &tk) == 0 && tk > 0, "upload_async: %s", rl_errmsg());
    CHECK(VK->ops->upload_join(VK, tk) == 0, "upload_join: %s", rl_errmsg());
    VK->ops->copy2d(VK, a, n, a + n, n, n, 1);
    CHECK(VK->ops->wait(VK, VK->ops->fence(VK)) == 0, "wait: %s", rl_errmsg());
    double h2d_async = rl_now_s() - t0;
    CHECK(VK->ops->download(VK, back, a, n) == 0 && !memcmp(back, pinned, n), "upload_async + join + device copy");
    for (size_t i = 0; i < n; i++) pinned[i] = (uint8_t)(i * 131 + 7);
    CHECK(VK->ops->upload(VK, a, pinned, n) == 0, "upload: %s", rl_errmsg());
    double d2d = best_of_3(1, a + n, a, n);
    CHECK(VK->ops->download(VK, back, a + n, n) == 0 && !memcmp(back, pinned, n), "host_alloc upload + device copy");
    if (env) printf("vulkan bandwidth (%zu MiB): H2D from host_alloc %.2f GB/s, H2D from malloc %.2f GB/s, "
                    "D2D copy %.2f GB/s (read + write %.2f), D2H %.2f GB/s; upload_async + join + copy %.3f s\n", mb,
                    n / h2d / 1e9, n / h2d_plain / 1e9,
                    n / d2d / 1e9, 2 * n / d2d / 1e9, n / d2h / 1e9, h2d_async);
    VK->ops->arena_free(VK, a, 2 * n);
    VK->ops->host_free(VK, pinned);
    free(plain); free(back);
}

int main(void) {
#ifdef RL_VULKAN_BUILD
    if ((VK = rl_backend_open("vulkan", 1))) {
        fprintf(stderr, "%s\n", VK->ops->describe(VK));
        RUN(test_bandwidth);
        rl_backend_close(VK);
        TEST_END();
    }
    fprintf(stderr, "skip: %s\n", rl_errmsg());
#else
    fprintf(stderr, "skip: vulkan is not built in\n");
#endif
    printf("RESULT 0 0 1\n");
    return 0;
}
