/* Integer GEMM of Q8_0 / Q4_1 weights against int8-quantised activation rows (qact.h), for
 * sweeps of several rows (prefill, batches, trees): a panel of weight rows is repacked once so
 * that one vector holds 4 consecutive codes of each of P rows (P = int32 lanes), and a
 * register-tiled micro-kernel (tokens x 2 panels) runs dpbusd / maddubs on it, so each weight
 * block is read once per tile. Internal to the CPU backend. */
#ifndef RL_QGEMM_H
#define RL_QGEMM_H
#include "backend/cpu/qact.h"
#include <stddef.h>
#include <stdint.h>

/* The quantised activations of one sweep: T rows of n items (rl_qrow), and per row and block the
 * integer sum of the codes (nb = n / 32 per row; the VNNI Q8_0 kernel's +128 correction). */
typedef struct {
    const rl_qrow *rows;
    const int32_t *qsum;
    int nb;
} rl_qacts;

/* y[t*out + o] = bias[o] + rl_qdot_ref(W row o, rows[t]) (up to f32 summation order) for t in
 * [t0,t1), o in [o0,o1); pack: a scratch buffer of rl_qgemm_pack_bytes(in) bytes (64-aligned). */
typedef void (*rl_qgemm_fn)(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y,
                            const float *bias, int t0, int t1, int o0, int o1, void *pack);

/* Bytes of the packing scratch for rows of n items (the widest kernel's panel pair). */
static inline size_t rl_qgemm_pack_bytes(int64_t n) { return (size_t)(n / 32) * (32 * 32 + 32 * 8); }

void rl_qgemm_avx2(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y, const float *bias,
                   int t0, int t1, int o0, int o1, void *pack);
void rl_qgemm_avxvnni(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y, const float *bias,
                      int t0, int t1, int o0, int o1, void *pack);
void rl_qgemm_avx512vnni(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y,
                         const float *bias, int t0, int t1, int o0, int o1, void *pack);
/* The scalar path: the exact reference per element (rl_qdot_ref). */
void rl_qgemm_scalar(rl_dtype wt, const uint8_t *w, int in, int out, const rl_qacts *xa, float *y,
                     const float *bias, int t0, int t1, int o0, int o1, void *pack);

#endif
