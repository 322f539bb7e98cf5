/* Quantized synthetic weights (see synth_quant.h). Quantizers as the producers' reference code:
 * FP8: scale = amax(block) / 448 (f32), q = round-to-nearest-even e4m3(w / scale);
 * GPTQ: AutoGPTQ's find_params rule (xmin = min(x, 0), xmax = max(x, 0), sym scale
 * 2 max(|xmin|, xmax) / 15 rounded to f16, zero 8 stored as 7), q = clamp(round(w / s) + 8). */
#include "model/synth_quant.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP8_B 128
#define GPTQ_G 128

int rl_synth_qspecs(rl_quant_method m, const char *name, int64_t rows, int64_t cols, rl_st_spec *specs, char (*names)[192]) {
    size_t k = strlen(name);
    if (k < 7 || strcmp(name + k - 7, ".weight") || k + 16 > 192) return 0;
    if (m == RL_QM_CT_FP8_CHANNEL || m == RL_QM_CT_FP8_TENSOR) { /* compressed-tensors */
        int ch = m == RL_QM_CT_FP8_CHANNEL;
        snprintf(names[0], 192, "%s", name);
        snprintf(names[1], 192, "%s_scale", name);
        specs[0] = (rl_st_spec){.name = names[0], .dtype = RL_DT_F8_E4M3, .ndim = 2, .shape = {rows, cols}};
        specs[1] = ch ? (rl_st_spec){.name = names[1], .dtype = RL_DT_F32, .ndim = 2, .shape = {rows, 1}}
                      : (rl_st_spec){.name = names[1], .dtype = RL_DT_F32, .ndim = 1, .shape = {1}};
        if (ch) return 2;
        snprintf(names[2], 192, "%.*s.input_scale", (int)(k - 7), name); /* static activation scale (not applied) */
        specs[2] = (rl_st_spec){.name = names[2], .dtype = RL_DT_F32, .ndim = 1, .shape = {1}};
        return 3;
    }
    if (m == RL_QM_FP8) {
        snprintf(names[0], 192, "%s", name);
        snprintf(names[1], 192, "%s_scale_inv", name);
        specs[0] = (rl_st_spec){.name = names[0], .dtype = RL_DT_F8_E4M3, .ndim = 2, .shape = {rows, cols}};
        specs[1] = (rl_st_spec){.name = names[1], .dtype = RL_DT_F32, .ndim = 2,
                                .shape = {(rows + FP8_B - 1) / FP8_B, (cols + FP8_B - 1) / FP8_B}};
        return 2;
    }
    if (m != RL_QM_GPTQ || rows % 8 || cols % 8) return 0;
    int64_t G = (cols + GPTQ_G - 1) / GPTQ_G;
    static const char *sfx[4] = {".qweight", ".qzeros", ".scales", ".g_idx"};
    for (int j = 0; j < 4; j++) snprintf(names[j], 192, "%.*s%s", (int)(k - 7), name, sfx[j]);
    specs[0] = (rl_st_spec){.name = names[0], .dtype = RL_DT_I32, .ndim = 2, .shape = {cols / 8, rows}};
    specs[1] = (rl_st_spec){.name = names[1], .dtype = RL_DT_I32, .ndim = 2, .shape = {G, rows / 8}};
    specs[2] = (rl_st_spec){.name = names[2], .dtype = RL_DT_F16, .ndim = 2, .shape = {G, rows}};
    specs[3] = (rl_st_spec){.name = names[3], .dtype = RL_DT_I32, .ndim = 1, .shape = {cols}};
    return 4;
}

static uint8_t f32_to_e4m3(float v) { /* round to nearest even, saturating at 448 */
    uint8_t s = signbit(v) ? 0x80 : 0;
    float a = fabsf(v);
    if (a >= 448.0f) return s | 0x7e;
    if (a < ldexpf(1.0f, -6)) return s | (uint8_t)nearbyintf(ldexpf(a, 9)); /* subnormals (8 -> the smallest normal) */
    int ex;
    frexpf(a, &ex); /* a = f 2^ex, f in [0.5, 1): exponent e = ex - 1 */
    int e = ex - 1, mq = (int)nearbyintf(ldexpf(a, 3 - e)); /* 8 .. 16 */
    if (mq == 16) { mq = 8; e++; }
    if (e > 8) return s | 0x7e;
    return s | (uint8_t)(((e + 7) << 3) | (mq - 8));
}

static int put(rl_st_writer *wr, const void *p, size_t n) { return wr ? rl_st_writer_write(wr, p, n) : 0; }

/* FP8 with a scale per br x bc block (DeepSeek-V3 128 x 128; compressed-tensors per channel 1 x cols,
 * per tensor rows x cols; then with its input_scale when in_scale). */
static int fp8_write(rl_st_writer *wr, const float *w, int64_t rows, int64_t cols, float *deq, int64_t BR, int64_t BC, int in_scale) {
    int64_t sr = (rows + BR - 1) / BR, sc = (cols + BC - 1) / BC;
    float *s = malloc(sizeof(float) * (size_t)(sr * sc));
    uint8_t *q = malloc((size_t)(rows * cols));
    if (!s || !q) { free(s); free(q); return rl_err("out of memory"); }
    for (int64_t br = 0; br < sr; br++)
        for (int64_t bc = 0; bc < sc; bc++) {
            float amax = 0;
            for (int64_t r = br * BR; r < rows && r < (br + 1) * BR; r++)
                for (int64_t c = bc * BC; c < cols && c < (bc + 1) * BC; c++) amax = fmaxf(amax, fabsf(w[r * cols + c]));
            float sv = amax > 0 ? amax / 448.0f : 1.0f;
            s[br * sc + bc] = sv;
            for (int64_t r = br * BR; r < rows && r < (br + 1) * BR; r++)
                for (int64_t c = bc * BC; c < cols && c < (bc + 1) * BC; c++) {
                    uint8_t code = f32_to_e4m3(w[r * cols + c] / sv);
                    q[r * cols + c] = code;
                    if (deq) deq[r * cols + c] = rl_f8e4m3_to_f32(code) * sv;
                }
        }
    static const float input_scale = 0.0625f;
    int rc = put(wr, q, (size_t)(rows * cols)) || put(wr, s, sizeof(float) * (size_t)(sr * sc)) ||
             (in_scale && put(wr, &input_scale, sizeof input_scale)) ? -1 : 0;
    free(s); free(q);
    return rc;
}

static int gptq_write(rl_st_writer *wr, const float *w, int64_t rows, int64_t cols, float *deq) {
    int64_t G = (cols + GPTQ_G - 1) / GPTQ_G;
    uint32_t *qw = calloc((size_t)(cols / 8 * rows), 4), *qz = malloc((size_t)(G * rows / 8) * 4);
    uint16_t *sc = malloc((size_t)(G * rows) * 2);
    int32_t *gi = malloc((size_t)cols * 4);
    if (!qw || !qz || !sc || !gi) { free(qw); free(qz); free(sc); free(gi); return rl_err("out of memory"); }
    for (int64_t k = 0; k < G * rows / 8; k++) qz[k] = 0x77777777u; /* zero 8, stored - 1 */
    for (int64_t i = 0; i < cols; i++) gi[i] = (int32_t)(i / GPTQ_G);
    for (int64_t o = 0; o < rows; o++)
        for (int64_t g = 0; g < G; g++) {
            int64_t i0 = g * GPTQ_G, i1 = i0 + GPTQ_G < cols ? i0 + GPTQ_G : cols;
            float xmin = 0, xmax = 0;
            for (int64_t i = i0; i < i1; i++) { xmin = fminf(xmin, w[o * cols + i]); xmax = fmaxf(xmax, w[o * cols + i]); }
            float m = fmaxf(-xmin, xmax), s = m > 0 ? 2.0f * m / 15.0f : 1.0f;
            uint16_t sh = rl_f32_to_f16(s);
            float sf = rl_f16_to_f32(sh);
            sc[g * rows + o] = sh;
            for (int64_t i = i0; i < i1; i++) {
                float qf = nearbyintf(w[o * cols + i] / sf) + 8.0f;
                int q = qf < 0 ? 0 : qf > 15 ? 15 : (int)qf;
                qw[(i / 8) * rows + o] |= (uint32_t)q << (4 * (i % 8));
                if (deq) deq[o * cols + i] = sf * (float)(q - 8);
            }
        }
    int rc = put(wr, qw, (size_t)(cols / 8 * rows) * 4) || put(wr, qz, (size_t)(G * rows / 8) * 4) || put(wr, sc, (size_t)(G * rows) * 2) ||
             put(wr, gi, (size_t)cols * 4) ? -1 : 0;
    free(qw); free(qz); free(sc); free(gi);
    return rc;
}

int rl_synth_qwrite(rl_quant_method m, rl_st_writer *wr, const float *w, int64_t rows, int64_t cols, float *deq) {
    if (m == RL_QM_FP8) return fp8_write(wr, w, rows, cols, deq, FP8_B, FP8_B, 0);
    if (m == RL_QM_CT_FP8_CHANNEL) return fp8_write(wr, w, rows, cols, deq, 1, cols, 0);
    if (m == RL_QM_CT_FP8_TENSOR) return fp8_write(wr, w, rows, cols, deq, rows, cols, 1);
    return gptq_write(wr, w, rows, cols, deq);
}

char *rl_synth_qconfig(rl_quant_method m, const char *cfg, size_t len) {
    cJSON *root = cJSON_ParseWithLength(cfg, len), *q = cJSON_CreateObject();
    if (!root || !cJSON_IsObject(root) || !q) { cJSON_Delete(root); cJSON_Delete(q); rl_err("synth: config is not a JSON object"); return NULL; }
    cJSON_DeleteItemFromObject(root, "quantization_config");
    if (m == RL_QM_CT_FP8_CHANNEL || m == RL_QM_CT_FP8_TENSOR) { /* as llm-compressor writes FP8 / FP8_DYNAMIC */
        int ch = m == RL_QM_CT_FP8_CHANNEL;
        cJSON *gs = cJSON_AddObjectToObject(q, "config_groups"), *g = cJSON_AddObjectToObject(gs, "group_0");
        cJSON *t = cJSON_AddArrayToObject(g, "targets"), *w = cJSON_AddObjectToObject(g, "weights"), *a = cJSON_AddObjectToObject(g, "input_activations");
        cJSON_AddItemToArray(t, cJSON_CreateString("Linear"));
        cJSON_AddNumberToObject(w, "num_bits", 8);
        cJSON_AddStringToObject(w, "type", "float");
        cJSON_AddBoolToObject(w, "symmetric", 1);
        cJSON_AddStringToObject(w, "strategy", ch ? "channel" : "tensor");
        cJSON_AddBoolToObject(w, "dynamic", 0);
        cJSON_AddNullToObject(w, "group_size");
        cJSON_AddNullToObject(w, "block_structure");
        cJSON_AddNumberToObject(a, "num_bits", 8);
        cJSON_AddStringToObject(a, "type", "float");
        cJSON_AddBoolToObject(a, "symmetric", 1);
        cJSON_AddStringToObject(a, "strategy", ch ? "token" : "tensor");
        cJSON_AddBoolToObject(a, "dynamic", ch);
        cJSON_AddStringToObject(q, "format", "float-quantized");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(q, "ignore"), cJSON_CreateString("lm_head"));
        cJSON_AddNullToObject(q, "kv_cache_scheme");
        cJSON_AddStringToObject(q, "quant_method", "compressed-tensors");
        cJSON_AddStringToObject(q, "quantization_status", "compressed");
    } else if (m == RL_QM_FP8) {
        int b[2] = {FP8_B, FP8_B};
        cJSON_AddStringToObject(q, "activation_scheme", "dynamic");
        cJSON_AddStringToObject(q, "fmt", "e4m3");
        cJSON_AddStringToObject(q, "quant_method", "fp8");
        cJSON_AddItemToObject(q, "weight_block_size", cJSON_CreateIntArray(b, 2));
    } else {
        cJSON_AddNumberToObject(q, "bits", 4);
        cJSON_AddStringToObject(q, "checkpoint_format", "gptq");
        cJSON_AddBoolToObject(q, "desc_act", 0);
        cJSON_AddNumberToObject(q, "group_size", GPTQ_G);
        cJSON_AddStringToObject(q, "quant_method", "gptq");
        cJSON_AddBoolToObject(q, "sym", 1);
    }
    cJSON_AddItemToObject(root, "quantization_config", q);
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    if (!out) rl_err("out of memory");
    return out;
}
