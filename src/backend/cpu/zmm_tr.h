/* A 16 x 16 transpose of 32-bit lanes in 512-bit registers, shared by the CPU kernels that pack
 * rows into lane-per-row (or lane-per-token) layouts (x86 only; include after <immintrin.h>). */
#ifndef RL_ZMM_TR_H
#define RL_ZMM_TR_H
#include <immintrin.h>

/* In place: r[j] lane i <- r[i] lane j (16 x 16 dwords). */
static inline __attribute__((always_inline, target("avx512f"))) void zmm_tr16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i+j], 128-bit lane L: rows 4i..4i+3, dword 4L+j */
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        __m512i a0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), a1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
        __m512i b0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), b1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
        r[j] = _mm512_shuffle_i32x4(a0, b0, 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(a0, b0, 0xdd);
        r[4 + j] = _mm512_shuffle_i32x4(a1, b1, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(a1, b1, 0xdd);
    }
}

#endif
