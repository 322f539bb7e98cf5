/* Backend selection: by name, $RL_BACKEND, or the default cpu (see backend.h). */
#include "backend/backend.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

const char *rl_backend_available(void) {
#if defined(RL_CUDA_BUILD) && defined(RL_VULKAN_BUILD)
    return "cpu, cuda, vulkan";
#elif defined(RL_CUDA_BUILD)
    return "cpu, cuda";
#elif defined(RL_VULKAN_BUILD)
    return "cpu, vulkan";
#else
    return "cpu";
#endif
}

/* A device backend that fails to open: no driver, no device, a device lacking a feature (class
 * RL_EC_DEVICE, exit status 6), unless the failure said it was memory or I/O. */
static inline rl_backend *device_class(rl_backend *be) {
    if (!be && rl_errclass_get() == RL_EC_INPUT) rl_errclass_set(RL_EC_DEVICE);
    return be;
}

rl_backend *rl_backend_open(const char *name, int n_threads) {
    if (!name || !*name) name = getenv("RL_BACKEND");
    if (!name || !*name) name = "cpu";
    if (!strcmp(name, "cpu")) return rl_backend_cpu_open(n_threads);
    if (!strcmp(name, "auto")) { /* a GPU where one answers, else the cpu; what failed is not an error */
        static const char *gpus[] = {"cuda", "vulkan"};
        for (int i = 0; i < 2; i++) {
            if (!strstr(rl_backend_available(), gpus[i])) continue;
            rl_backend *be = rl_backend_open(gpus[i], n_threads);
            if (be && !be->soft) return be;
            rl_backend_close(be);
        }
        return rl_backend_cpu_open(n_threads);
    }
    if (!strcmp(name, "cpu-staged")) return rl_backend_staged_open(n_threads); /* testing the device paths */
    if (!strcmp(name, "cuda")) {
#ifdef RL_CUDA_BUILD
        return device_class(rl_backend_cuda_open(n_threads));
#else
        rl_err_c(RL_EC_DEVICE, "backend cuda is not built in (this build has: %s; rebuild with make CUDA=1)", rl_backend_available());
        return NULL;
#endif
    }
    if (!strcmp(name, "vulkan")) {
#ifdef RL_VULKAN_BUILD
        return device_class(rl_backend_vulkan_open(n_threads));
#else
        rl_err_c(RL_EC_DEVICE, "backend vulkan is not built in (this build has: %s; install libvulkan-dev and glslc, then rebuild)",
               rl_backend_available());
        return NULL;
#endif
    }
    rl_err("unknown backend '%s' (this build has: %s)", name, rl_backend_available());
    return NULL;
}

void rl_backend_close(rl_backend *be) {
    if (be) be->ops->close(be);
}
