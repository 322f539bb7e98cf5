/* Runtime SIMD dispatch: CPU feature detection, the RL_SIMD override and rl_simd_name. */
#include "backend/cpu/simd.h"
#include "backend/cpu/matmul.h"
#include <pthread.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

static _Atomic(const rl_simd_impl *) g_impl;

/* The VNNI paths: the avx2 / avx512 kernels with the VNNI integer GEMV (filled on first use). */
static rl_simd_impl g_avxvnni, g_avx512vnni;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_vnni(void) {
    g_avxvnni = rl_simd_avx2;
    g_avxvnni.name = "avxvnni";
    g_avxvnni.qgemv = rl_qgemv_avxvnni;
    g_avxvnni.qgemm = rl_qgemm_avxvnni;
    g_avx512vnni = rl_simd_avx512;
    g_avx512vnni.name = "avx512vnni";
    g_avx512vnni.qgemv = rl_qzmm_usable() ? rl_qgemv_avx512vbmi : rl_qgemv_avx512vnni;
    g_avx512vnni.qgemm = rl_qgemm_avx512vnni;
}

static const rl_simd_impl *by_name(const char *name) {
    pthread_once(&g_once, init_vnni);
    if (!strcmp(name, "scalar")) return &rl_simd_scalar;
    if (!strcmp(name, "avx2")) return &rl_simd_avx2;
    if (!strcmp(name, "avxvnni")) return &g_avxvnni;
    if (!strcmp(name, "avx512")) return &rl_simd_avx512;
    if (!strcmp(name, "avx512vnni")) return &g_avx512vnni;
    return NULL;
}

#if defined(__x86_64__) || defined(__i386__)
/* F16C via CPUID leaf 1 (clang's __builtin_cpu_supports does not know "f16c"). */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

/* AVX-VNNI via CPUID leaf 7 subleaf 1, EAX bit 4 (older compilers do not know the name). */
static int has_avxvnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
}
#endif

int rl_simd_supported(const char *name) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
    int avx512 = avx2 && __builtin_cpu_supports("avx512f");
    if (!strcmp(name, "avx512")) return avx512;
    if (!strcmp(name, "avx512vnni"))
        return avx512 && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    if (!strcmp(name, "avx2")) return avx2;
    if (!strcmp(name, "avxvnni")) return avx2 && has_avxvnni();
    if (!strcmp(name, "avx512bf16")) /* not a path of its own: the --compute bf16 GEMM */
        return avx512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
#endif
    return !strcmp(name, "scalar");
}

static const rl_simd_impl *detect(void) {
    const char *env = getenv("RL_SIMD");
    if (env && *env && by_name(env) && rl_simd_supported(env)) return by_name(env);
    static const char *const order[] = {"avx512vnni", "avx512", "avxvnni", "avx2"};
    for (int i = 0; i < 4; i++)
        if (rl_simd_supported(order[i])) return by_name(order[i]);
    return &rl_simd_scalar;
}

const rl_simd_impl *rl_simd(void) {
    const rl_simd_impl *s = atomic_load_explicit(&g_impl, memory_order_acquire);
    if (!s) {
        s = detect();
        atomic_store_explicit(&g_impl, s, memory_order_release);
    }
    return s;
}

int rl_simd_force(const char *name) {
    if (!name) { atomic_store(&g_impl, detect()); return 0; }
    const rl_simd_impl *s = by_name(name);
    if (!s || !rl_simd_supported(name)) return -1;
    atomic_store(&g_impl, s);
    return 0;
}

const char *rl_simd_name(void) { return rl_simd()->name; }
