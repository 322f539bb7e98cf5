/* Portable instantiation of the GGUF-type kernel template (gq_tmpl.h). */
#include <math.h>
#include <stdint.h>

#define SFX(n) n##_scalar
#define TGT

static inline int gq_idot(const int8_t *a, const int8_t *q, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += a[i] * q[i];
    return s;
}
#define GQ_IDOT32(a, q) gq_idot((a), (q), 32)
#define GQ_LANES8(a, q, p) do { for (int l_ = 0; l_ < 8; l_++) (p)[l_] = gq_idot((a) + 4 * l_, (q) + 4 * l_, 4); } while (0)
#define GQ_IDOT16X2(a, q, s0, s1) (*(s0) = gq_idot((a), (q), 16), *(s1) = gq_idot((a) + 16, (q) + 16, 16))

#include "backend/cpu/gq_tmpl.h"
