/* Dense-family extras called from the block and the head (see dense_ext.h): InternLM2's grouped
 * qkv layout and Baichuan 2's row-normalised lm_head (NormHead). No allocation: callers pass
 * buffers sized at open. */
#include "engine/dense_ext.h"
#include "backend/cpu/matmul.h"
#include <math.h>
#include <string.h>

void rl_qkv_grouped_split(const float *qkv, int T, int nkv, int group, int hd, float *q, float *k, float *v) {
    size_t width = (size_t)nkv * (group + 2) * hd, qd = (size_t)nkv * group * hd, kvd = (size_t)nkv * hd;
    size_t gb = (size_t)group * hd * sizeof(float), hb = (size_t)hd * sizeof(float);
    for (int t = 0; t < T; t++) {
        const float *row = qkv + t * width;
        for (int g = 0; g < nkv; g++) {
            const float *src = row + (size_t)g * (group + 2) * hd;
            memcpy(q + t * qd + (size_t)g * group * hd, src, gb);
            memcpy(k + t * kvd + (size_t)g * hd, src + (size_t)group * hd, hb);
            memcpy(v + t * kvd + (size_t)g * hd, src + (size_t)(group + 1) * hd, hb);
        }
    }
}

void rl_head_normalize(float *out, int T, int rows, const void *w, rl_dtype dt, int cols, float *tmp) {
    size_t rb = rl_dtype_row_bytes(dt, cols);
    for (int r = 0; r < rows; r++) {
        rl_convert_to_f32(tmp, (const uint8_t *)w + (size_t)r * rb, dt, cols);
        double ss = 0;
        for (int i = 0; i < cols; i++) ss += (double)tmp[i] * tmp[i];
        double n = sqrt(ss);
        float inv = (float)(1.0 / (n > 1e-12 ? n : 1e-12));
        for (int t = 0; t < T; t++) out[(size_t)t * rows + r] *= inv;
    }
}
