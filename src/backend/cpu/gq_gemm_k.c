/* GGUF sweeps over Q4_K and Q6_K weights with AVX512-VNNI (see gq_gemm.c for the orders): the
 * 16-row panels packed by 16 x 16 transposes, and their register tiles. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "backend/cpu/gq_gemm.h"
#include "backend/cpu/zmm_tr.h"

/* Q4_K panel of rows [o, o + n): per block (KPB bytes) code register 16c + i = items 64c + 4i..
 * (low nibbles of bytes 32c + 4i..), 16c + 8 + i = items 64c + 32 + 4i.. (their high nibbles);
 * scales sc[0..7] as int32 lanes (k4_scales' unpacking, per lane); min pairs; d and dmin as f32.
 * The 16 rows' 144-byte blocks go through three 16 x 16 dword transposes (gathers, one dword a
 * lane, ran at a fraction of that here). */
TGT static void pack_panel_q4k(const gq_job *j, int64_t o, int n, uint8_t *pk) {
    const int nb = j->in / GQ_QKK;
    const __m512i z = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(0x0F), ff = _mm512_set1_epi32(0xFF);
    const __m512i k1 = _mm512_set1_epi32(0x3f3f3f3f), k2 = _mm512_set1_epi32(0x0f0f0f0f), k3 = _mm512_set1_epi32(0x03030303);
    const uint8_t *base = j->w + (size_t)o * j->w_rb;
    for (int b = 0; b < nb; b++) {
        const uint8_t *bp = base + (size_t)b * j->bb;
        uint8_t *cb = pk + (size_t)b * KPB;
        __m512i hdr = z, u0 = z, u1 = z, u2 = z;
        for (int part = 0; part < 3; part++) { /* the block's dwords 16 part.. of the 16 rows, transposed */
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                const uint8_t *rp = bp + (size_t)i * j->w_rb + 64 * part;
                r[i] = i >= n ? z : part < 2 ? _mm512_loadu_si512((const void *)rp) : _mm512_maskz_loadu_epi32(0xF, rp);
            }
            zmm_tr16(r);
            for (int k = 0; k < (part < 2 ? 16 : 4); k++) {
                const int D = 16 * part + k; /* 0: d, dmin; 1..3: scales; 4..35: code bytes 4(D-4).. */
                if (D == 0) hdr = r[k];
                else if (D == 1) u0 = r[k];
                else if (D == 2) u1 = r[k];
                else if (D == 3) u2 = r[k];
                else {
                    const int c = (D - 4) / 8, q = (D - 4) % 8;
                    _mm512_storeu_si512(cb + 64 * (16 * c + q), _mm512_and_si512(r[k], m4));
                    _mm512_storeu_si512(cb + 64 * (16 * c + 8 + q), _mm512_and_si512(_mm512_srli_epi16(r[k], 4), m4));
                }
            }
        }
        _mm512_storeu_ps((float *)(void *)(cb + K_D), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(hdr)));
        _mm512_storeu_ps((float *)(void *)(cb + K_D + 64), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(hdr, 16))));
        const __m512i sc03 = _mm512_and_si512(u0, k1), mn03 = _mm512_and_si512(u1, k1);
        const __m512i sc47 = _mm512_or_si512(_mm512_and_si512(u2, k2), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), k3), 4));
        const __m512i mn47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), k2), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), k3), 4));
        for (int g = 0; g < 8; g++) {
            const __m512i v = g < 4 ? sc03 : sc47;
            _mm512_storeu_si512(cb + K_SC + 64 * g, _mm512_and_si512(_mm512_srli_epi32(v, 8 * (g & 3)), ff));
        }
        for (int c = 0; c < 4; c++) { /* (mn[2c], mn[2c+1]) as int16 pairs */
            const __m512i v = c < 2 ? mn03 : mn47;
            const int sh = 16 * (c & 1);
            const __m512i lo = _mm512_and_si512(_mm512_srli_epi32(v, sh), ff), hi = _mm512_and_si512(_mm512_srli_epi32(v, sh + 8), ff);
            _mm512_storeu_si512(cb + K_MN + 64 * c, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

/* Q4_K, MT_ (1..4) tokens from t; gemv: ggml's gemv order (one fma per block), else its gemm's. */
TGT static INL void tile_q4k(int MT_, int gemv, const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) {
    const gq_job *j = G->j;
    const int nb = j->in / GQ_QKK;
#define R4(M) M(0) M(1) M(2) M(3)
#define DECL(i) \
    __m512 f##i = _mm512_setzero_ps(), fm##i = _mm512_setzero_ps(); \
    const uint8_t *a##i = j->act + (size_t)((i) < MT_ ? t + (i) : t) * j->a_rb; \
    const int32_t *mp##i = G->mp + (size_t)((i) < MT_ ? t + (i) : t) * nb * 4;
    R4(DECL)
    for (int b = 0; b < nb; b++) {
        const uint8_t *pb = pk + (size_t)b * KPB;
        const __m512 dr = _mm512_load_ps((const float *)(const void *)(pb + K_D));
        const __m512 mr = _mm512_load_ps((const float *)(const void *)(pb + K_D + 64));
#define YD(i) float yd##i; memcpy(&yd##i, a##i + (size_t)b * j->ab, 4); \
        const uint8_t *x##i = a##i + (size_t)b * j->ab + 4; \
        __m512i st##i = _mm512_setzero_si512(), mt##i = _mm512_setzero_si512();
        R4(YD)
        for (int c = 0; c < 4; c++) {
#define Z(i) __m512i lo##i = _mm512_setzero_si512(), hi##i = _mm512_setzero_si512();
            R4(Z)
#pragma GCC unroll 8
            for (int q = 0; q < 8; q++) {
                const __m512i wl = _mm512_load_si512((const void *)(pb + 64 * (16 * c + q)));
                const __m512i wh = _mm512_load_si512((const void *)(pb + 64 * (16 * c + 8 + q)));
#define DOT(i) if ((i) < MT_) { \
                    lo##i = _mm512_dpbusd_epi32(lo##i, wl, _mm512_set1_epi32(quad(x##i - 2 + 64 * c, q))); \
                    hi##i = _mm512_dpbusd_epi32(hi##i, wh, _mm512_set1_epi32(quad(x##i - 2 + 64 * c + 32, q))); }
                R4(DOT)
            }
            const __m512i s0 = _mm512_load_si512((const void *)(pb + K_SC + 64 * (2 * c)));
            const __m512i s1 = _mm512_load_si512((const void *)(pb + K_SC + 64 * (2 * c + 1)));
            const __m512i mn = _mm512_load_si512((const void *)(pb + K_MN + 64 * c));
#define CH(i) if ((i) < MT_) { \
                const __m512i S = _mm512_add_epi32(_mm512_mullo_epi32(lo##i, s0), _mm512_mullo_epi32(hi##i, s1)); \
                const __m512i M = _mm512_madd_epi16(mn, _mm512_set1_epi32(mp##i[(size_t)b * 4 + c])); \
                if (gemv) { st##i = _mm512_add_epi32(st##i, S); mt##i = _mm512_add_epi32(mt##i, M); } \
                else { \
                    f##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S), _mm512_mul_ps(dr, _mm512_set1_ps(yd##i)), f##i); \
                    fm##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(M), _mm512_mul_ps(mr, _mm512_set1_ps(yd##i)), fm##i); } }
            R4(CH)
        }
#define GV(i) if (gemv && (i) < MT_) { \
            f##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(st##i), _mm512_mul_ps(dr, _mm512_set1_ps(yd##i)), f##i); \
            fm##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mt##i), _mm512_mul_ps(mr, _mm512_set1_ps(yd##i)), fm##i); }
        R4(GV)
    }
    const __mmask16 m = nv >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nv) - 1);
    const __m512 bv = j->bias ? _mm512_maskz_loadu_ps(m, j->bias + o) : _mm512_setzero_ps();
#define ST(i) if ((i) < MT_) _mm512_mask_storeu_ps(j->y + (size_t)(t + (i)) * j->out + o, m, _mm512_add_ps(_mm512_sub_ps(f##i, fm##i), bv));
    R4(ST)
#undef R4
#undef DECL
#undef YD
#undef Z
#undef DOT
#undef CH
#undef GV
#undef ST
}
TGT static void q4k4(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_q4k(4, 0, G, pk, t, o, nv); }
TGT static void q4k_gemv(const gg_job *G, const uint8_t *pk, int t, int n, int64_t o, int nv) {
    switch (n) {
    case 1: tile_q4k(1, 1, G, pk, t, o, nv); break;
    case 2: tile_q4k(2, 1, G, pk, t, o, nv); break;
    case 3: tile_q4k(3, 1, G, pk, t, o, nv); break;
    default: break;
    }
}

/* Q6_K panel of rows [o, o + n): per row the 256 items (6-bit, unsigned) times their 16-item
 * group's scale as int16, then 16 x 16 transposes of the rows' dword pairs. */
TGT static void pack_panel_q6k(const gq_job *j, int64_t o, int n, uint8_t *pk) {
    const int nb = j->in / GQ_QKK;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
    const uint8_t *base = j->w + (size_t)o * j->w_rb;
    _Alignas(64) int16_t rows[16][GQ_QKK];
    for (int b = 0; b < nb; b++) {
        uint8_t *cb = pk + (size_t)b * SPB;
        _Alignas(64) float dr[16];
        _Alignas(64) int32_t sp[8][16];
        for (int i = 0; i < 16; i++) {
            if (i >= n) {
                memset(rows[i], 0, sizeof rows[i]);
                dr[i] = 0;
                for (int l = 0; l < 8; l++) sp[l][i] = 0;
                continue;
            }
            const uint8_t *bp = base + (size_t)i * j->w_rb + (size_t)b * j->bb;
            uint16_t h;
            memcpy(&h, bp + 208, 2);
            dr[i] = _cvtsh_ss(h);
            const int8_t *sc = (const int8_t *)(bp + 192);
            for (int l = 0; l < 8; l++) sp[l][i] = (int32_t)(((uint32_t)(uint16_t)(int16_t)sc[2 * l + 1] << 16) | (uint16_t)(int16_t)sc[2 * l]);
            const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc)));
            for (int hh = 0; hh < 2; hh++) {
                const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 64 * hh));
                const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 64 * hh + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 128 + 32 * hh));
                __m256i u[4];
                u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
                u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
                u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
                u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
                for (int k = 0; k < 4; k++) { /* items 128hh + 32k..: groups 8hh + 2k (first 16), 8hh + 2k + 1 */
                    const int g = 8 * hh + 2 * k;
                    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)g), _mm256_set1_epi16((short)(g + 1)), 1);
                    _mm512_store_si512((void *)(rows[i] + 128 * hh + 32 * k),
                                       _mm512_mullo_epi16(_mm512_cvtepu8_epi16(u[k]), _mm512_permutexvar_epi16(idx, sc16)));
                }
            }
        }
        for (int v = 0; v < 8; v++) { /* pairs 16v..16v+15 */
            __m512i r[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_load_si512((const void *)(rows[i] + 32 * v));
            zmm_tr16(r);
            for (int d = 0; d < 16; d++) _mm512_storeu_si512(cb + 64 * (16 * v + d), r[d]);
        }
        for (int l = 0; l < 8; l++) _mm512_storeu_si512(cb + S_SC + 64 * l, _mm512_load_si512((const void *)sp[l]));
        _mm512_storeu_ps((float *)(void *)(cb + S_D), _mm512_load_ps(dr));
    }
}

/* Q6_K, MT_ (1 or 2) tokens from t. */
TGT static INL void tile_q6k(int MT_, const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) {
    const gq_job *j = G->j;
    const int nb = j->in / GQ_QKK;
    __m512 c0[8], c1[8];
    for (int l = 0; l < 8; l++) c0[l] = c1[l] = _mm512_setzero_ps();
    const uint8_t *a0 = j->act + (size_t)t * j->a_rb, *a1 = MT_ > 1 ? a0 + j->a_rb : a0;
    const int16_t *x0 = G->x16 + (size_t)t * j->in, *x1 = MT_ > 1 ? x0 + j->in : x0;
    for (int b = 0; b < nb; b++) {
        const uint8_t *pb = pk + (size_t)b * SPB;
        const int16_t *xb0 = x0 + (size_t)b * GQ_QKK, *xb1 = x1 + (size_t)b * GQ_QKK;
#define R8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define Z(l) __m512i p##l = _mm512_setzero_si512(), q##l = _mm512_setzero_si512();
        R8(Z)
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) {
#define LANE(l) { \
                const __m512i wa = _mm512_load_si512((const void *)(pb + 64 * (16 * v + 2 * (l)))); \
                const __m512i wb = _mm512_load_si512((const void *)(pb + 64 * (16 * v + 2 * (l) + 1))); \
                int32_t xa, xb; \
                memcpy(&xa, xb0 + 32 * v + 4 * (l), 4); memcpy(&xb, xb0 + 32 * v + 4 * (l) + 2, 4); \
                p##l = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(p##l, wa, _mm512_set1_epi32(xa)), wb, _mm512_set1_epi32(xb)); \
                if (MT_ > 1) { \
                    memcpy(&xa, xb1 + 32 * v + 4 * (l), 4); memcpy(&xb, xb1 + 32 * v + 4 * (l) + 2, 4); \
                    q##l = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(q##l, wa, _mm512_set1_epi32(xa)), wb, _mm512_set1_epi32(xb)); } }
            R8(LANE)
        }
        const __m512 dw = _mm512_load_ps((const float *)(const void *)(pb + S_D));
        float yd0, yd1;
        memcpy(&yd0, a0 + (size_t)b * j->ab, 4);
        memcpy(&yd1, a1 + (size_t)b * j->ab, 4);
        const __m512 d0 = _mm512_mul_ps(_mm512_set1_ps(yd0), dw), d1 = _mm512_mul_ps(_mm512_set1_ps(yd1), dw);
        const uint8_t *bs0 = a0 + (size_t)b * j->ab + 4 + GQ_QKK, *bs1 = a1 + (size_t)b * j->ab + 4 + GQ_QKK;
#define FIN(l) { \
            const __m512i sp = _mm512_load_si512((const void *)(pb + S_SC + 64 * (l))); \
            c0[l] = _mm512_fmadd_ps(d0, _mm512_cvtepi32_ps(_mm512_sub_epi32(p##l, _mm512_slli_epi32(_mm512_madd_epi16(sp, _mm512_set1_epi32(quad(bs0 - 2, l))), 5))), c0[l]); \
            if (MT_ > 1) \
                c1[l] = _mm512_fmadd_ps(d1, _mm512_cvtepi32_ps(_mm512_sub_epi32(q##l, _mm512_slli_epi32(_mm512_madd_epi16(sp, _mm512_set1_epi32(quad(bs1 - 2, l))), 5))), c1[l]); }
        R8(FIN)
#undef R8
#undef Z
#undef LANE
#undef FIN
    }
    const __mmask16 m = nv >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nv) - 1);
    const __m512 bv = j->bias ? _mm512_maskz_loadu_ps(m, j->bias + o) : _mm512_setzero_ps();
#define HSUM8(c) _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c[0], c[4]), _mm512_add_ps(c[2], c[6])), \
                               _mm512_add_ps(_mm512_add_ps(c[1], c[5]), _mm512_add_ps(c[3], c[7])))
    _mm512_mask_storeu_ps(j->y + (size_t)t * j->out + o, m, _mm512_add_ps(HSUM8(c0), bv));
    if (MT_ > 1) _mm512_mask_storeu_ps(j->y + (size_t)(t + 1) * j->out + o, m, _mm512_add_ps(HSUM8(c1), bv));
#undef HSUM8
}
TGT static void q6k2(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_q6k(2, G, pk, t, o, nv); }
TGT static void q6k1(const gg_job *G, const uint8_t *pk, int t, int64_t o, int nv) { tile_q6k(1, G, pk, t, o, nv); }

void rl_gqg_panel_q4k(const gg_job *G, int64_t o, int nv, uint8_t *pk) {
    const gq_job *j = G->j;
    pack_panel_q4k(j, o, nv, pk);
    const int tg = j->T - j->T % 4; /* ggml's gemm before tg, its gemv after */
    pf_cursor pf = pf_start(j, o + 16, (j->T + 3) / 4);
    int t = 0;
    for (; t < tg; t += 4) { pf_step(&pf); q4k4(G, pk, t, o, nv); }
    if (t < j->T) { pf_step(&pf); q4k_gemv(G, pk, t, j->T - t, o, nv); }
}

void rl_gqg_panel_q6k(const gg_job *G, int64_t o, int nv, uint8_t *pk) {
    const gq_job *j = G->j;
    pack_panel_q6k(j, o, nv, pk);
    pf_cursor pf = pf_start(j, o + 16, (j->T + 1) / 2);
    int t = 0;
    for (; t + 2 <= j->T; t += 2) { pf_step(&pf); q6k2(G, pk, t, o, nv); }
    if (t < j->T) { pf_step(&pf); q6k1(G, pk, t, o, nv); }
}

/* Q4_K activations (Q8_K blocks): per block the four (2c, 2c+1) pairs of 32-item sums as int16
 * pairs (|sum| <= 32 x 127). */
void rl_gqg_prep_q8k(const gq_job *j, int32_t *mp) {
    const int nb = j->in / GQ_QKK;
    for (int t = 0; t < j->T; t++)
        for (int b = 0; b < nb; b++) {
            int16_t bs[16];
            memcpy(bs, j->act + (size_t)t * j->a_rb + (size_t)b * j->ab + 4 + GQ_QKK, sizeof bs);
            for (int c = 0; c < 4; c++) {
                const int p0 = bs[4 * c] + bs[4 * c + 1], p1 = bs[4 * c + 2] + bs[4 * c + 3];
                mp[((size_t)t * nb + b) * 4 + c] = (int32_t)(((uint32_t)(uint16_t)p1 << 16) | (uint16_t)p0);
            }
        }
}

#else
typedef int rl_gq_gemm_k_unused; /* x86 only */
#endif
