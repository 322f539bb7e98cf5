// ggml's k-quants (super-blocks of 256 items) as the cpu decodes them (src/backend/cpu/gq_tmpl.h):
// item i of a block is an integer a[i], its group g = i / k_gsz(dt) has an integer scale sc[g] and
// min mn[g], and the value is (d sc[g]) a[i] - (dmin mn[g]). Needs common.glsl.
bool is_k(uint dt) { return dt >= DT_Q2_K && dt <= DT_Q6_K; }
uint k_bytes(uint dt) {
    return dt == DT_Q2_K ? 84u : dt == DT_Q3_K ? 110u : dt == DT_Q4_K ? 144u : dt == DT_Q5_K ? 176u : 210u;
}
uint k_gsz(uint dt) { return dt == DT_Q4_K || dt == DT_Q5_K ? 32u : 16u; }
float k_d(U32 w, uint bb, uint dt) {
    return f16v(rd_u16(w, bb + (dt == DT_Q2_K ? 80u : dt == DT_Q3_K ? 108u : dt == DT_Q6_K ? 208u : 0u)));
}
float k_dmin(U32 w, uint bb, uint dt) {
    return dt == DT_Q2_K ? f16v(rd_u16(w, bb + 82u)) : dt == DT_Q4_K || dt == DT_Q5_K ? f16v(rd_u16(w, bb + 2u)) : 0.0;
}
// integer item i (0..255)
int k_item(U32 w, uint bb, uint dt, uint i) {
    uint l = i & 31u;
    if (dt == DT_Q2_K) return int((rd_byte(w, bb + 16u + 32u * (i >> 7) + l) >> (2u * ((i >> 5) & 3u))) & 3u);
    if (dt == DT_Q3_K) {
        uint h = i >> 7, s = (i >> 5) & 3u;
        int q = int((rd_byte(w, bb + 32u + 32u * h + l) >> (2u * s)) & 3u);
        return (rd_byte(w, bb + l) & (1u << (4u * h + s))) != 0u ? q : q - 4;
    }
    if (dt == DT_Q4_K || dt == DT_Q5_K) {
        uint j = i >> 6, hi = (i >> 5) & 1u;
        uint by = rd_byte(w, bb + (dt == DT_Q4_K ? 16u : 48u) + 32u * j + l);
        uint q = hi != 0u ? by >> 4 : by & 15u;
        if (dt == DT_Q5_K) q += ((rd_byte(w, bb + 16u + l) >> (2u * j + hi)) & 1u) << 4;
        return int(q);
    }
    // Q6_K: halves of 128, runs of 32 (s): low nibbles of ql[l] / ql[l + 32], then high ones
    uint h = i >> 7, s = (i >> 5) & 3u;
    uint ql = rd_byte(w, bb + 64u * h + l + 32u * (s & 1u));
    uint lo = s >= 2u ? ql >> 4 : ql & 15u;
    uint qh = (rd_byte(w, bb + 128u + 32u * h + l) >> (2u * s)) & 3u;
    return int(lo | (qh << 4)) - 32;
}
// (scale, min) of group g
ivec2 k_scmn(U32 w, uint bb, uint dt, uint g) {
    if (dt == DT_Q2_K) { uint b = rd_byte(w, bb + g); return ivec2(int(b & 15u), int(b >> 4)); }
    if (dt == DT_Q3_K) {
        uint lo = g < 8u ? rd_byte(w, bb + 96u + g) & 15u : rd_byte(w, bb + 96u + g - 8u) >> 4;
        uint hi = (rd_byte(w, bb + 104u + (g & 3u)) >> (2u * (g >> 2))) & 3u;
        return ivec2(int(lo | (hi << 4)) - 32, 0);
    }
    if (dt == DT_Q6_K) return ivec2(int(rd_byte(w, bb + 192u + g) << 24) >> 24, 0);
    uint q = bb + 4u; // Q4_K / Q5_K: 12 bytes of 6-bit scales and mins
    if (g < 4u) return ivec2(int(rd_byte(w, q + g) & 63u), int(rd_byte(w, q + g + 4u) & 63u));
    uint a = rd_byte(w, q + g + 4u);
    return ivec2(int((a & 15u) | ((rd_byte(w, q + g - 4u) >> 6) << 4)), int((a >> 4) | ((rd_byte(w, q + g) >> 6) << 4)));
}
// element i of a row (any weight dtype) that starts at byte b: k-quants dequantised exactly as
// the cpu does (rl_ggml_dequant: dl = d sc, ml = dmin mn, dl a - ml, no fused steps)
float wval_any(U32 w, uint b, uint dt, uint i) {
    if (!is_k(dt)) return wval(w, b, dt, i);
    uint bb = b + (i >> 8) * k_bytes(dt), j = i & 255u;
    ivec2 sm = k_scmn(w, bb, dt, j / k_gsz(dt));
    precise float dl = k_d(w, bb, dt) * float(sm.x), ml = k_dmin(w, bb, dt) * float(sm.y);
    precise float v = dl * float(k_item(w, bb, dt, j)) - ml;
    return v;
}
