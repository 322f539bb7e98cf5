/* Runtime SIMD dispatch: picks AVX-512F, AVX2+FMA+F16C or scalar kernels once per process
 * (RL_SIMD=scalar|avx2|avxvnni|avx512|avx512vnni overrides); internal to src/kernels/cpu. */
#ifndef RL_SIMD_H
#define RL_SIMD_H
#include "format/dtype.h"
#include "backend/cpu/qact.h"
#include "backend/cpu/qgemm.h"
#include <stdint.h>

/* Arguments of one matmul call (see rl_matmul in matmul.h). */
typedef struct {
    float *y;
    const float *x;
    const void *w;
    rl_dtype wtype;
    const float *bias;
    int T, in, out;
} rl_mm_args;

/* One instruction-set implementation of the kernels. */
typedef struct {
    const char *name;
    /* y[t0..t1) x [o0..o1) of the matmul, streaming W rows directly (small T). */
    void (*gemv)(const rl_mm_args *a, int t0, int t1, int o0, int o1);
    /* Same result, converting W tiles to f32 once and reusing them for many tokens (large T). */
    void (*gemm)(const rl_mm_args *a, int t0, int t1, int o0, int o1);
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);
    /* s[i] = s[i] * a + b * x[i]; returns sum s[i] * c[i] (a Mamba-2 state row). */
    float (*decay_axpy_dot)(float *s, float a, float b, const float *x, const float *c, int n);
    /* s[i] = s[i] * exp(dt a[i]) + b * x[i]; returns sum s[i] * c[i] (a Mamba-1 state row: a decay per
     * state). Vector paths: Cephes' expf, its argument clamped to [-88, 88] (AVX2: 87); scalar: libm's. */
    float (*decay_exp_axpy_dot)(float *s, const float *a, float dt, float b, const float *x, const float *c, int n);
    void (*cvt)(float *dst, const void *src, rl_dtype t, int64_t n);
    /* Integer GEMV of Q8_0 / Q4_1 W against int8-quantised activation rows (qact.h). */
    rl_qgemv_fn qgemv;
    /* Integer GEMM of Q8_0 / Q4_1 W against quantised activation rows, for sweeps (qgemm.h). */
    rl_qgemm_fn qgemm;
    /* y[i][j] (= or, if accumulate, +=) sum_k x[i][k] * w[j][k], i < M, j < N (small f32 tiles). */
    void (*gemm_nt)(const float *x, int64_t ldx, const float *w, int64_t ldw, float *y, int64_t ldy, int M, int N,
                    int K, int accumulate);
    /* s[c] = exp(s[c] - mx) for c < n (0 where s[c] is -inf); returns their sum (the online
     * softmax of the tiled attention). mx >= every finite s[c]. Vector paths: Cephes' expf
     * (range reduction by ln 2, degree-6 polynomial, ~1 ulp); scalar: libm's expf. */
    float (*exp_shift)(float *s, int n, float mx);
    /* gate[i] = silu(gate[i]) * up[i] (up may be NULL: silu alone), silu(g) = g / (1 + exp(-g));
     * vector paths: the same Cephes expf, its argument clamped to +-88 (AVX2: +-87). */
    void (*silu_mul)(float *gate, const float *up, int64_t n);
    /* y[i][j] += sum_k x[i][k] * b[k][j], i < M, j < N, b row-major (no transposed copy). */
    void (*gemm_nn_acc)(const float *x, int64_t ldx, const float *b, int64_t ldb, float *y, int64_t ldy, int M, int N,
                        int K);
} rl_simd_impl;

extern const rl_simd_impl rl_simd_scalar, rl_simd_avx2, rl_simd_avx512;

/* The implementation in use (chosen on first call). */
const rl_simd_impl *rl_simd(void);

/* Forces a path by name ("scalar", "avx2", "avxvnni", "avx512", "avx512vnni"; the *vnni ones
 * are avx2 / avx512 with VNNI integer dot products for 8/4-bit weights) or NULL for the automatic choice.
 * Returns 0, or -1 (and keeps the current one) if the name is unknown or the CPU lacks it.
 * For tests; not meant to be called while kernels run on other threads. */
int rl_simd_force(const char *name);

/* Whether the CPU can run the named path ("avx512bf16": the --compute bf16 GEMM's instructions). */
int rl_simd_supported(const char *name);

#endif
