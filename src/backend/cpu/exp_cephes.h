/* Constants of Cephes' expf (range reduction by ln 2 split in two, degree-6 polynomial, ~1 ulp),
 * shared by the vector exp of the AVX2 and AVX-512 kernels (mm_avx2.c, mm_avx512.c: exp_shift). */
#ifndef RL_EXP_CEPHES_H
#define RL_EXP_CEPHES_H
#define EXP_LOG2E 1.44269504088896341f
#define EXP_C1 0.693359375f
#define EXP_C2 -2.12194440e-4f
#define EXP_P0 1.9875691500E-4f
#define EXP_P1 1.3981999507E-3f
#define EXP_P2 8.3334519073E-3f
#define EXP_P3 4.1665795894E-2f
#define EXP_P4 1.6666665459E-1f
#define EXP_P5 5.0000001201E-1f
/* Given fx = round(x * log2(e)): the reduced argument r = x - fx ln 2 (ln 2 in two parts) and the
 * polynomial 1 + r + r^2 p(r) = exp(r), on any vector width (the ops passed in). */
#define EXP_CEPHES_REDUCE(x, fx, FNMA, SET1) FNMA((fx), SET1(EXP_C2), FNMA((fx), SET1(EXP_C1), (x)))
#define EXP_CEPHES_POLY(r, FMA, MUL, ADD, SET1) \
    FMA(FMA(FMA(FMA(FMA(FMA(SET1(EXP_P0), (r), SET1(EXP_P1)), (r), SET1(EXP_P2)), (r), SET1(EXP_P3)), (r), SET1(EXP_P4)), \
            (r), SET1(EXP_P5)), MUL((r), (r)), ADD((r), SET1(1.0f)))
#endif
