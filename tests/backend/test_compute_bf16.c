/* --compute bf16 (backend/cpu/matmul.h): sweeps over BF16 weights multiply activations rounded to
 * bf16 (round to nearest even) with f32 accumulation, on every backend that implements it: the
 * cpu where it has AVX512-BF16, cuda (tensor cores, cublasGemmEx) where it is built and a GPU is
 * present. Checked against a double-precision reference over the rounded activations. */
#include "test.h"
#include "rabbitllm.h"
#include "backend/backend.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/simd.h"
#include "format/dtype.h"
#include <math.h>
#include <stdint.h>

static float frand(uint32_t *s) { *s = *s * 1664525u + 1013904223u; return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f; }

static void check_backend(const char *name, int T, int in, int out) {
    rl_backend *be = rl_backend_open(name, 2);
    if (!be) { t_skipped++; fprintf(stderr, "  %s skipped: %s\n", name, rl_last_error()); return; }
    uint32_t s = 7;
    size_t nx = (size_t)T * in, nw = (size_t)out * in, ny = (size_t)T * out;
    float *x = malloc(nx * sizeof(float)), *y = malloc(ny * sizeof(float));
    uint16_t *w = malloc(nw * sizeof(uint16_t));
    for (size_t i = 0; i < nx; i++) x[i] = frand(&s) * 3.0f;
    for (size_t i = 0; i < nw; i++) w[i] = rl_f32_to_bf16(frand(&s));
    size_t bytes = (nx + ny) * sizeof(float) + nw * 2 + 256;
    uint8_t *a = be->ops->arena_new(be, bytes);
    CHECK(a != NULL, "%s: arena", name);
    if (a) {
        float *dx = (float *)a, *dy = dx + nx;
        uint16_t *dw = (uint16_t *)(dy + ny);
        be->ops->upload(be, dx, x, nx * sizeof(float));
        be->ops->upload(be, dw, w, nw * 2);
        be->ops->matmul(be, dy, dx, dw, RL_DT_BF16, NULL, T, in, out);
        CHECK(be->ops->download(be, y, dy, ny * sizeof(float)) == 0, "%s: download: %s", name, rl_last_error());
        double worst = 0;
        for (int t = 0; t < T; t++)
            for (int o = 0; o < out; o++) {
                double ref = 0, mag = 0;
                for (int i = 0; i < in; i++) {
                    double p = (double)rl_bf16_to_f32(rl_f32_to_bf16(x[(size_t)t * in + i])) * rl_bf16_to_f32(w[(size_t)o * in + i]);
                    ref += p; mag += fabs(p);
                }
                double e = fabs(y[(size_t)t * out + o] - ref) / (mag + 1e-30);
                if (e > worst) worst = e;
            }
        /* f32 accumulation of `in` products: relative error ~ in * 2^-24; f32 activations
         * instead of bf16 ones would be off by ~2^-9 */
        CHECK(worst < 2e-5, "%s: T %d in %d out %d: relative error %.3g against bf16 activations", name, T, in, out, worst);
        fprintf(stderr, "  %s: T %d in %d out %d: relative error %.2g\n", name, T, in, out, worst);
        be->ops->arena_free(be, a, bytes);
    }
    free(x); free(y); free(w);
    rl_backend_close(be);
}

static void test_compute_bf16(void) {
    rl_matmul_set_compute(RL_COMPUTE_BF16);
    if (rl_simd_supported("avx512bf16") && !getenv("RL_SIMD")) { /* a forced level may lack it */
        check_backend("cpu", 40, 300, 70);
        check_backend("cpu", 130, 1025, 33);
    } else fprintf(stderr, "  cpu: no AVX512-BF16 here (sweeps stay f32): not checked\n");
    if (strstr(rl_backend_available(), "cuda")) {
        check_backend("cuda", 40, 300, 70);
        check_backend("cuda", 130, 1025, 33);
    }
    rl_matmul_set_compute(RL_COMPUTE_F32);
}

int main(void) {
    RUN(test_compute_bf16);
    TEST_END();
}
