/* Mamba-2 mixer settings shared by the families with Mamba-2 layers (see mamba2_config.h). */
#include "model/mamba2_config.h"
#include "util/err.h"
#include "util/json.h"
#include <math.h>
#include <string.h>

/* time_step_limit [min, max] (max may be "inf"); absent or null: (0, inf). */
static int dt_limit(const cJSON *cfg, const char *alt_key, double *lo, double *hi, const char *file) {
    const cJSON *tl = rl_json_get(cfg, "time_step_limit");
    if (!tl && alt_key) tl = rl_json_get(cfg, alt_key);
    *lo = 0;
    *hi = INFINITY;
    if (!tl || cJSON_IsNull(tl)) return 0;
    const cJSON *a = cJSON_IsArray(tl) && cJSON_GetArraySize(tl) == 2 ? cJSON_GetArrayItem(tl, 0) : NULL;
    const cJSON *b = a ? cJSON_GetArrayItem(tl, 1) : NULL;
    if (!a || !cJSON_IsNumber(a) || !b || !(cJSON_IsNumber(b) || cJSON_IsString(b)))
        return rl_err("%s: \"time_step_limit\" must be a list of two numbers", file);
    *lo = a->valuedouble;
    *hi = cJSON_IsNumber(b) ? b->valuedouble : !strcmp(b->valuestring, "inf") || !strcmp(b->valuestring, "Infinity") ? INFINITY : NAN;
    if (!(*lo >= 0) || !(*hi >= *lo)) return rl_err("%s: \"time_step_limit\" must be [min, max] with 0 <= min <= max", file);
    return 0;
}

int rl_mamba_only_layers(rl_model_desc *d, const char *act, double eps, const char *file) {
    if (strcmp(act, "silu") && strcmp(act, "swish")) return rl_err("%s: hidden_act \"%s\" is not supported (silu)", file, act);
    d->norm_eps = (float)eps;
    d->ropes[0].pairing = RL_ROPE_NONE;
    for (int l = 0; l < d->n_layers; l++) {
        d->layers[l].kind = RL_LAYER_LINEAR;
        d->layers[l].no_mlp = 1;
    }
    return 0;
}

int rl_mamba2_setup(rl_model_desc *d, const cJSON *cfg, const char *file, int heads, int head_dim, int state, int groups, int conv,
                    int conv_bias, int norm_groups, const char *alt_key) {
    if (heads <= 0 || head_dim <= 0 || state <= 0 || state > 1024 || groups <= 0 || conv <= 0 || conv > 64)
        return rl_err("%s: Mamba-2 dims out of range (heads %d x %d, state %d, groups %d, conv %d)", file, heads, head_dim, state, groups, conv);
    if (heads % groups) return rl_err("%s: %d Mamba-2 heads are not a multiple of the %d groups", file, heads, groups);
    if (norm_groups < 0 || (norm_groups && ((long long)heads * head_dim) % norm_groups))
        return rl_err("%s: %d Mamba-2 channels do not split into %d norm groups", file, heads * head_dim, norm_groups);
    double lo, hi;
    if (dt_limit(cfg, alt_key, &lo, &hi, file)) return -1;
    d->lin_kind = RL_LIN_MAMBA2;
    d->lin_k_heads = groups;
    d->lin_k_dim = state;
    d->lin_v_heads = heads;
    d->lin_v_dim = head_dim;
    d->lin_conv_k = conv;
    d->lin_conv_bias = conv_bias;
    d->lin_norm_groups = norm_groups;
    d->lin_dt_min = (float)lo;
    d->lin_dt_max = (float)hi;
    return 0;
}
