/* Rotary embeddings: config parsing, scaled inverse frequencies, tables and rotation (see rope.h).
 * The scaling rules follow transformers' modeling_rope_utils. */
#include "model/rope.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

static int read_factor_list(const cJSON *sc, const char *key, double *out, int want, int *n, const char *file) {
    const cJSON *a = rl_json_get(sc, key);
    if (!a || !cJSON_IsArray(a)) return rl_err("%s: rope scaling \"%s\" must be a list", file, key);
    int k = cJSON_GetArraySize(a);
    if (k != want) return rl_err("%s: rope scaling \"%s\" has %d values, expected rotary dims/2 = %d", file, key, k, want);
    for (int i = 0; i < k; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v)) return rl_err("%s: rope scaling \"%s\"[%d] is not a number", file, key, i);
        out[i] = v->valuedouble;
    }
    *n = k;
    return 0;
}

int rl_rope_parse(const cJSON *cfg, const cJSON *params, rl_rope *r, double max_pos, const char *file) {
    const cJSON *sc = params;
    double theta = 10000.0;
    if (!sc) {
        sc = rl_json_get(cfg, "rope_parameters");
        if (sc && !cJSON_IsObject(sc)) return rl_err("%s: \"rope_parameters\" must be an object", file);
        if (!sc) {
            if (rl_json_num(cfg, "rope_theta", 10000.0, &theta, file)) return -1;
            sc = rl_json_get(cfg, "rope_scaling");
            if (sc && !cJSON_IsObject(sc)) return rl_err("%s: \"rope_scaling\" must be an object", file);
        }
    }
    if (sc && rl_json_num(sc, "rope_theta", theta, &theta, file)) return -1;
    r->theta = theta;
    r->max_pos = max_pos;
    r->scaling = RL_RS_NONE;
    r->factor = 1.0;
    if (!sc) return 0;

    const char *type = NULL;
    if (rl_json_str(sc, "rope_type", NULL, &type, file)) return -1;
    if (!type && rl_json_str(sc, "type", NULL, &type, file)) return -1;
    /* Qwen-VL's "mrope" / mrope_section (rotary sections per image axis): text positions make it the
     * default; the sections kept (rl_rope.mrope_sec) */
    const cJSON *ms = rl_json_get(sc, "mrope_section");
    if (ms && cJSON_IsArray(ms) && cJSON_GetArraySize(ms) <= 4) {
        for (int i = 0; i < cJSON_GetArraySize(ms); i++) {
            const cJSON *v = cJSON_GetArrayItem(ms, i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4096) return rl_err("%s: \"mrope_section\" must hold sizes", file);
            r->mrope_sec[i] = (int)v->valuedouble;
        }
        int il;
        if (rl_json_bool(sc, "mrope_interleaved", 0, &il, file)) return -1;
        r->mrope_il = il;
    }
    if (!type || !strcmp(type, "default") || !strcmp(type, "mrope")) return 0;
    if (rl_json_num(sc, "factor", 1.0, &r->factor, file)) return -1;
    if (rl_json_num(sc, "original_max_position_embeddings", 0, &r->orig_max_pos, file)) return -1;
    if (r->orig_max_pos == 0 && rl_json_num(cfg, "original_max_position_embeddings", 0, &r->orig_max_pos, file)) return -1;
    if (rl_json_num(sc, "attention_factor", 0, &r->attn_factor, file)) return -1;
    if (!strcmp(type, "linear")) {
        r->scaling = RL_RS_LINEAR;
    } else if (!strcmp(type, "dynamic")) {
        r->scaling = RL_RS_DYNAMIC;
        if (r->orig_max_pos == 0) r->orig_max_pos = max_pos;
    } else if (!strcmp(type, "llama3")) {
        r->scaling = RL_RS_LLAMA3;
        if (rl_json_num(sc, "low_freq_factor", 1.0, &r->low_freq_factor, file) ||
            rl_json_num(sc, "high_freq_factor", 4.0, &r->high_freq_factor, file)) return -1;
        if (r->orig_max_pos <= 0) return rl_err("%s: llama3 rope scaling needs original_max_position_embeddings", file);
        if (r->high_freq_factor < r->low_freq_factor) return rl_err("%s: llama3 rope scaling: high_freq_factor is below low_freq_factor", file);
    } else if (!strcmp(type, "yarn")) {
        r->scaling = RL_RS_YARN;
        if (rl_json_num(sc, "beta_fast", 32, &r->beta_fast, file) ||
            rl_json_num(sc, "beta_slow", 1, &r->beta_slow, file) ||
            rl_json_num(sc, "mscale", 0, &r->mscale, file) ||
            rl_json_num(sc, "mscale_all_dim", 0, &r->mscale_all_dim, file)) return -1;
        int trunc;
        if (rl_json_bool(sc, "truncate", 1, &trunc, file)) return -1;
        r->yarn_exact_range = !trunc;
        if (r->orig_max_pos <= 0) r->orig_max_pos = max_pos;
    } else if (!strcmp(type, "longrope") || !strcmp(type, "su")) {
        r->scaling = RL_RS_LONGROPE;
        int half = r->rot_dims / 2;
        if (half > RL_MAX_ROPE_FACTORS / 2) return rl_err("%s: rotary dims too large for longrope", file);
        if (read_factor_list(sc, "short_factor", r->short_factor, half, &r->n_short, file) ||
            read_factor_list(sc, "long_factor", r->long_factor, half, &r->n_long, file)) return -1;
        if (r->orig_max_pos <= 0) return rl_err("%s: longrope needs original_max_position_embeddings", file);
    } else {
        return rl_err("%s: unsupported rope scaling type \"%s\" (supported: default, linear, dynamic, llama3, yarn, longrope)", file, type);
    }
    return 0;
}

static double yarn_get_mscale(double scale, double m) {
    return scale <= 1.0 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

void rl_rope_inv_freq(const rl_rope *r, int seq_len, float *inv, float *mult) {
    int half = r->rot_dims / 2, dim = r->rot_dims;
    double base = r->theta;
    *mult = 1.0f;
    if (r->scaling == RL_RS_DYNAMIC && seq_len > r->orig_max_pos) {
        double f = r->factor;
        base = base * pow((f * seq_len / r->orig_max_pos) - (f - 1), (double)dim / (dim - 2));
    }
    for (int i = 0; i < half; i++) {
        /* transformers computes base ** (arange(0, dim, 2) / dim) in float32, then 1/x */
        float e = (float)(2 * i) / (float)dim;
        float f = 1.0f / powf((float)base, e);
        inv[i] = f;
    }
    switch (r->scaling) {
    case RL_RS_LINEAR:
        for (int i = 0; i < half; i++) inv[i] = (float)(inv[i] / r->factor);
        break;
    case RL_RS_LLAMA3: {
        double lo_wl = r->orig_max_pos / r->low_freq_factor, hi_wl = r->orig_max_pos / r->high_freq_factor;
        for (int i = 0; i < half; i++) {
            double f = inv[i], wl = 2 * M_PI / f;
            if (wl < hi_wl) continue;
            if (wl > lo_wl) { inv[i] = (float)(f / r->factor); continue; }
            if (r->high_freq_factor == r->low_freq_factor) continue; /* (Llama 4 Scout: 1, 1) no band between */
            double s = (r->orig_max_pos / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            inv[i] = (float)((1 - s) * f / r->factor + s * f);
        }
        break;
    }
    case RL_RS_YARN: {
        double f = r->factor, om = r->orig_max_pos;
        double att;
        if (r->attn_factor > 0) att = r->attn_factor;
        else if (r->mscale != 0 && r->mscale_all_dim != 0)
            att = yarn_get_mscale(f, r->mscale) / yarn_get_mscale(f, r->mscale_all_dim);
        else att = yarn_get_mscale(f, 1.0);
        double lo = dim * log(om / (r->beta_fast * 2 * M_PI)) / (2 * log(r->theta));
        double hi = dim * log(om / (r->beta_slow * 2 * M_PI)) / (2 * log(r->theta));
        if (!r->yarn_exact_range) { lo = floor(lo); hi = ceil(hi); } /* transformers' truncate (default true) */
        if (lo < 0) lo = 0;
        if (hi > dim - 1) hi = dim - 1;
        if (lo == hi) hi += 0.001;
        for (int i = 0; i < half; i++) {
            double extrap = inv[i], interp = inv[i] / f;
            double ramp = (i - lo) / (hi - lo);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            double ext_factor = 1 - ramp;
            inv[i] = (float)(interp * (1 - ext_factor) + extrap * ext_factor);
        }
        *mult = (float)att;
        break;
    }
    case RL_RS_LONGROPE: {
        const double *fac = seq_len > r->orig_max_pos ? r->long_factor : r->short_factor;
        for (int i = 0; i < half; i++) inv[i] = (float)(inv[i] / fac[i]);
        double att = r->attn_factor;
        if (att <= 0) {
            double s = r->max_pos / r->orig_max_pos;
            att = s <= 1.0 ? 1.0 : sqrt(1 + log(s) / log(r->orig_max_pos));
        }
        *mult = (float)att;
        break;
    }
    case RL_RS_FACTORS:
        for (int i = 0; i < half && i < r->n_short; i++) inv[i] = (float)(inv[i] / r->short_factor[i]);
        break;
    default:
        break;
    }
}

/* ggml's YaRN correction dimension for n_rot rotations over the original context, in f32. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

/* ggml's rope cache: the angle of pair i is (pos * s^i) / ff[i], s^i by repeated f32 products
 * (longrope: ff the long or the short factors as ggml_long says, cos / sin times attn_factor);
 * under YaRN (freq_scale = 1/factor, ext_factor 1) the angle mixes interpolated and extrapolated
 * angles by ggml's ramp over [corr_lo, corr_hi] and cos / sin are multiplied by
 * attn_factor * (1 + 0.1 ln(1/freq_scale)), all in f32 as ggml computes them. */
static void table_ggml(const rl_rope *r, const int *pos, int T, float *cos_out, float *sin_out) {
    int half = r->rot_dims / 2, n_dims = r->rot_dims;
    float s = powf((float)r->theta, -2.0f / (float)n_dims);
    int yarn = r->scaling == RL_RS_YARN && r->factor > 0;
    float freq_scale = yarn ? 1.0f / (float)r->factor : 1.0f, mscale = 1.0f, lo = 0, hi = 0;
    if (yarn) {
        int octx = (int)r->orig_max_pos;
        float start = floorf(yarn_corr_dim(n_dims, octx, (float)r->beta_fast, (float)r->theta));
        float end = ceilf(yarn_corr_dim(n_dims, octx, (float)r->beta_slow, (float)r->theta));
        lo = start > 0 ? start : 0;
        hi = end < (float)(n_dims - 1) ? end : (float)(n_dims - 1);
        mscale = (r->attn_factor > 0 ? (float)r->attn_factor : 1.0f) * (1.0f + 0.1f * logf(1.0f / freq_scale));
    }
    int lr = r->scaling == RL_RS_LONGROPE; /* llama.cpp's longrope: fixed factors, cos / sin times attn_factor */
    const double *fac = lr && r->ggml_long ? r->long_factor : r->short_factor;
    int nf = lr && r->ggml_long ? r->n_long : r->n_short;
    if (lr) mscale = r->attn_factor > 0 ? (float)r->attn_factor : 1.0f;
    for (int t = 0; t < T; t++) {
        float theta = (float)pos[t];
        for (int i = 0; i < half; i++) {
            float ff = (r->scaling == RL_RS_FACTORS || lr) && i < nf ? (float)fac[i] : 1.0f;
            float a = theta / ff;
            if (yarn) {
                float ext = a, interp = freq_scale * ext;
                float span = hi - lo > 0.001f ? hi - lo : 0.001f, y = ((float)i - lo) / span;
                float mix = 1 - (y < 0 ? 0 : y > 1 ? 1 : y);
                a = interp * (1 - mix) + ext * mix;
            }
            cos_out[t * half + i] = cosf(a) * mscale;
            sin_out[t * half + i] = sinf(a) * mscale;
            theta *= s;
        }
    }
}

void rl_rope_table(const rl_rope *r, const int *pos, int T, int seq_len, float *cos_out, float *sin_out) {
    if (r->ggml_angles && (r->scaling == RL_RS_NONE || r->scaling == RL_RS_FACTORS || r->scaling == RL_RS_YARN || r->scaling == RL_RS_LONGROPE)) {
        table_ggml(r, pos, T, cos_out, sin_out);
        return;
    }
    int half = r->rot_dims / 2;
    float inv[RL_MAX_ROPE_FACTORS / 2], mult;
    rl_rope_inv_freq(r, seq_len, inv, &mult);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float a = (float)pos[t] * inv[i];
            cos_out[t * half + i] = cosf(a) * mult;
            sin_out[t * half + i] = sinf(a) * mult;
        }
}

/* ggml's rotation (GGUF models): x0 cos - x1 sin and x0 sin + x1 cos with the first product fused,
 * as ggml-cpu's compiled rope computes them. */
static void apply_ggml(const rl_rope *r, float *x, int T, int n_heads, int head_dim, const float *cos_t, const float *sin_t) {
    int half = r->rot_dims / 2, neox = r->pairing == RL_ROPE_NEOX;
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + t * half, *s = sin_t + t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                float *p0 = neox ? v + i : v + 2 * i, *p1 = neox ? v + i + half : v + 2 * i + 1;
                float a = *p0, b = *p1;
                *p0 = fmaf(a, c[i], -(b * s[i]));
                *p1 = fmaf(a, s[i], b * c[i]);
            }
        }
    }
}

void rl_rope_apply(const rl_rope *r, float *x, int T, int n_heads, int head_dim, const float *cos_t, const float *sin_t) {
    int half = r->rot_dims / 2;
    if (r->pairing == RL_ROPE_NONE || half == 0) return;
    if (r->ggml_angles) { apply_ggml(r, x, T, n_heads, head_dim, cos_t, sin_t); return; }
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + t * half, *s = sin_t + t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            if (r->pairing == RL_ROPE_NEOX) {
                for (int i = 0; i < half; i++) {
                    float a = v[i], b = v[i + half];
                    v[i] = a * c[i] - b * s[i];
                    v[i + half] = b * c[i] + a * s[i];
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * c[i] - b * s[i];
                    v[2 * i + 1] = b * c[i] + a * s[i];
                }
            }
        }
    }
}
