/* 512-bit helpers shared by gq_tmpl.h's AVX-512 instantiation and gq_vnni.c (x86 only; include
 * after <immintrin.h>). */
#ifndef RL_GQ_ZMM_H
#define RL_GQ_ZMM_H

/* Four rows' 16 int32 lanes to one register: 128-bit part s holds the four rows' sums of their
 * part s (integers: exact in any order). */
static inline __attribute__((target("avx512f"))) __m512i gq_red4(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
    __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1));
    __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(s2, s3), _mm512_unpackhi_epi32(s2, s3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

#endif
